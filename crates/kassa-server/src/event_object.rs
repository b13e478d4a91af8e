//! Events as partners see them: the `Event` object that `GET /v1/events` returns and webhooks
//! deliver, made from the store's record in one place so the two can never differ.

use kassa_core::event::{Event, EventObject};
use kassa_store::EventRecord;

/// An event as the API shows it and webhooks deliver it.
pub fn event_of(record: EventRecord) -> Event {
    Event {
        id: record.id,
        object: EventObject::Event,
        event_type: record.event_type,
        created_at: record.created_at,
        data: record.data,
    }
}

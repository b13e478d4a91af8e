//! Events (API.md §5): what happened to a partner's objects, in the shape the events API lists
//! and webhooks deliver.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::id::EventId;

/// Every event type there is.
pub const EVENT_TYPES: &[&str] = &[
    "payment_request.created",
    "payment_request.completed",
    "payment_request.canceled",
    "payment.completed",
    "payment.pending",
    "payment.failed",
    "refund.created",
    "authorization.created",
    "authorization.reversed",
    "payout.paid",
];

/// Whether `name` is an event type.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}

/// One event: the object as it was right after the change, recorded in the same transaction.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[schema(value_type = String, example = "evt_3kTq9ZbWm1xYp0aL2cVd8e")]
    pub id: EventId,
    #[schema(inline)]
    pub object: EventObject,
    /// One of `payment_request.created`, `payment_request.completed`, `payment_request.canceled`,
    /// `payment.completed`, `payment.pending`, `payment.failed`, `refund.created`,
    /// `authorization.created`, `authorization.reversed`, `payout.paid`.
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(with = "crate::clock::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The payment request, payment, refund, authorization or payout, as the API shows it.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// The `object` field: always `"event"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum EventObject {
    #[default]
    #[serde(rename = "event")]
    Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_known_and_serialized_as_the_contract_says() {
        assert!(is_event_type("payment.completed") && !is_event_type("payment.*"));
        let e = Event {
            id: EventId::generate(),
            object: EventObject::Event,
            event_type: "payout.paid".into(),
            created_at: time::macros::datetime!(2026-11-21 12:00 UTC),
            data: serde_json::json!({"id": "po_1"}),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["object"], "event");
        assert_eq!(v["type"], "payout.paid");
        assert_eq!(v["createdAt"], "2026-11-21T12:00:00Z");
        assert_eq!(v["data"]["id"], "po_1");
    }
}

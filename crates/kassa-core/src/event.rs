//! Events (docs/api.md §5): what happened to a partner's objects, in the shape the events API lists
//! and webhooks deliver.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::authorization::Authorization;
use crate::id::EventId;
use crate::payment::Payment;
use crate::payment_request::PaymentRequest;
use crate::payout::Payout;
use crate::refund::Refund;

/// What happened, as the `type` of an event: the one list of event names, so no code path spells
/// one by hand. Each is `<object>.<what happened>`, the object being the one the event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[schema(
    description = "What happened: `<object>.<what happened>`, the object being the one \
    the event carries in `data`."
)]
pub enum EventType {
    #[serde(rename = "payment_request.created")]
    PaymentRequestCreated,
    #[serde(rename = "payment_request.completed")]
    PaymentRequestCompleted,
    #[serde(rename = "payment_request.canceled")]
    PaymentRequestCanceled,
    #[serde(rename = "payment.completed")]
    PaymentCompleted,
    #[serde(rename = "payment.pending")]
    PaymentPending,
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    #[serde(rename = "refund.created")]
    RefundCreated,
    #[serde(rename = "authorization.created")]
    AuthorizationCreated,
    #[serde(rename = "authorization.reversed")]
    AuthorizationReversed,
    #[serde(rename = "payout.paid")]
    PayoutPaid,
}

impl EventType {
    /// Every event type, in the order the API documents them.
    pub const ALL: [EventType; 10] = [
        Self::PaymentRequestCreated,
        Self::PaymentRequestCompleted,
        Self::PaymentRequestCanceled,
        Self::PaymentCompleted,
        Self::PaymentPending,
        Self::PaymentFailed,
        Self::RefundCreated,
        Self::AuthorizationCreated,
        Self::AuthorizationReversed,
        Self::PayoutPaid,
    ];

    /// The name stored in `events.type` and sent to webhooks, e.g. `payment.completed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PaymentRequestCreated => "payment_request.created",
            Self::PaymentRequestCompleted => "payment_request.completed",
            Self::PaymentRequestCanceled => "payment_request.canceled",
            Self::PaymentCompleted => "payment.completed",
            Self::PaymentPending => "payment.pending",
            Self::PaymentFailed => "payment.failed",
            Self::RefundCreated => "refund.created",
            Self::AuthorizationCreated => "authorization.created",
            Self::AuthorizationReversed => "authorization.reversed",
            Self::PayoutPaid => "payout.paid",
        }
    }

    /// The `object` of what an event of this type carries in `data` (`payment_request` for
    /// `payment_request.created`): the part of its name before the dot.
    pub fn data_object(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(object, _)| object)
    }

    /// The event type named `s` exactly (case-sensitive); None for anything else.
    pub fn parse_str(s: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<EventType, UnknownEventType> {
        EventType::parse_str(s).ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// The names of [`EventType::ALL`], in the same order.
const EVENT_TYPE_NAMES: [&str; EventType::ALL.len()] = {
    let mut names = [""; EventType::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = EventType::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Every event type there is, by name (derived from [`EventType::ALL`]).
pub const EVENT_TYPES: &[&str] = &EVENT_TYPE_NAMES;

/// Whether `name` is an event type.
pub fn is_event_type(name: &str) -> bool {
    EventType::parse_str(name).is_some()
}

/// One event: the object as it was right after the change, recorded in the same transaction.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[schema(value_type = String, example = "evt_3kTq9ZbWm1xYp0aL2cVd8e")]
    pub id: EventId,
    #[schema(inline)]
    pub object: EventObject,
    /// What happened; `data` is the object its name begins with.
    // Stored and read as text: every name written is an `EventType`'s.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub event_type: String,
    #[serde(with = "crate::clock::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The payment request, payment, refund, authorization or payout, as the API shows it.
    // Stored as JSON as it was written; [`EventData`] says what it can be.
    #[schema(value_type = EventData)]
    pub data: serde_json::Value,
}

/// What an event's `data` can be, for the OpenAPI document: the object as the API shows it,
/// told apart by its `object` field. Events keep `data` as the JSON written with the change, so
/// this type only describes it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(
    description = "The object the event is about, right after the change; its `object` \
    field says which it is."
)]
pub enum EventData {
    PaymentRequest(PaymentRequest),
    Payment(Payment),
    Refund(Refund),
    Authorization(Authorization),
    Payout(Payout),
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

    #[test]
    fn event_data_is_the_object_itself() {
        // Untagged: what the document says `data` is has exactly the object's own shape.
        let payment = crate::payment::test_payment(crate::payment::PaymentStatus::Completed, 500);
        assert_eq!(
            serde_json::to_value(EventData::Payment(payment.clone())).unwrap(),
            serde_json::to_value(&payment).unwrap()
        );
        assert_eq!(
            EventType::PaymentCompleted.data_object(),
            serde_json::to_value(&payment).unwrap()["object"]
        );
    }

    #[test]
    fn event_type_names_are_the_ones_stored_today() {
        assert_eq!(
            EVENT_TYPES,
            [
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
            ]
        );
        for t in EventType::ALL {
            assert_eq!(EventType::parse_str(t.as_str()), Some(t));
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
            assert!(is_event_type(t.as_str()));
            // serde writes and reads the same name.
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(
                serde_json::from_value::<EventType>(t.as_str().into()).unwrap(),
                t
            );
        }
        assert_eq!(
            EventType::PaymentRequestCreated.data_object(),
            "payment_request"
        );
        assert_eq!(EventType::PayoutPaid.data_object(), "payout");
        for bad in [
            "",
            "payment",
            "Payment.completed",
            "payment.completed ",
            "*",
        ] {
            assert_eq!(EventType::parse_str(bad), None, "{bad:?}");
            assert!(!is_event_type(bad));
            assert_eq!(
                bad.parse::<EventType>(),
                Err(UnknownEventType(bad.to_owned()))
            );
        }
    }
}

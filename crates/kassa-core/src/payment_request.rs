//! A payment request: a fixed amount under the partner's own reference, paid through a hosted page.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::email::Email;
use crate::id::{PartnerId, PaymentId, PaymentRequestId};
use crate::money::{Currency, Money};
use crate::reference::ReferenceId;
use crate::url::RedirectUrl;

/// `open` → `processing` (ACH debit submitted) → `completed`; `open` → `canceled` | `expired`.
/// A failed attempt leaves it `open`; a returned ACH debit puts it back to `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentRequestStatus {
    Open,
    Processing,
    Completed,
    Canceled,
    Expired,
}

impl PaymentRequestStatus {
    pub const ALL: [PaymentRequestStatus; 5] = [
        Self::Open,
        Self::Processing,
        Self::Completed,
        Self::Canceled,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// How many failed attempts lock a payment link, and for how long: the one answer to that
/// question. Failed payments can be retried on the same link, but without a bound a public link is
/// a free oracle for testing stolen card numbers. A link with [`FailedAttemptLimit::max`] failed
/// attempts created within the last [`FailedAttemptLimit::window`] takes no new attempt until the
/// oldest of them leaves the window (the store counts them atomically with the claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedAttemptLimit {
    pub max: i64,
    pub window: time::Duration,
}

/// The limit every payment link has.
pub const FAILED_ATTEMPT_LIMIT: FailedAttemptLimit = FailedAttemptLimit {
    max: 10,
    window: time::Duration::hours(1),
};

impl FailedAttemptLimit {
    /// Failed attempts created after this instant count towards the limit.
    pub fn window_start(self, now: OffsetDateTime) -> OffsetDateTime {
        now - self.window
    }

    /// Whether `failed_in_window` failed attempts (those after [`Self::window_start`]) lock the link.
    pub fn is_locked(self, failed_in_window: i64) -> bool {
        failed_in_window >= self.max
    }
}

/// [`FAILED_ATTEMPT_LIMIT`]'s count, under the name existing callers use.
pub const MAX_FAILED_ATTEMPTS: i64 = FAILED_ATTEMPT_LIMIT.max;
/// [`FAILED_ATTEMPT_LIMIT`]'s window, under the name existing callers use.
pub const FAILED_ATTEMPT_WINDOW: time::Duration = FAILED_ATTEMPT_LIMIT.window;

/// Free-form string pairs a partner attaches to an object.
pub type Metadata = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub id: PaymentRequestId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: PaymentRequestObject,
    /// The partner's own reference, unique per partner.
    #[schema(value_type = String, min_length = 1, max_length = 100, examples("QUOTE-123"))]
    pub reference_id: ReferenceId,
    pub amount: Money,
    pub currency: Currency,
    pub status: PaymentRequestStatus,
    /// The hosted page where the payer pays.
    #[schema(format = "uri")]
    pub url: String,
    #[schema(value_type = Option<String>, format = "uri")]
    pub redirect_url: Option<RedirectUrl>,
    pub description: Option<String>,
    #[schema(value_type = Option<String>, format = Email)]
    pub payer_email: Option<Email>,
    #[schema(value_type = BTreeMap<String, String>)]
    pub metadata: Metadata,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339_option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(with = "crate::clock::rfc3339_option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The payment that completed the request, or the ACH debit it is waiting for.
    pub payment_id: Option<PaymentId>,
    pub attempt_count: i32,
    /// The attempt currently being decided by the processor; at most one at a time.
    #[serde(skip)]
    pub attempt_payment_id: Option<PaymentId>,
}

/// The `object` field: always `"payment_request"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum PaymentRequestObject {
    #[default]
    #[serde(rename = "payment_request")]
    PaymentRequest,
}

impl PaymentRequest {
    /// Past its `expiresAt` an open request is expired, even before the sweeper has recorded it.
    pub fn status_at(&self, now: OffsetDateTime) -> PaymentRequestStatus {
        match (self.status, self.expires_at) {
            (PaymentRequestStatus::Open, Some(at)) if at <= now => PaymentRequestStatus::Expired,
            (status, _) => status,
        }
    }

    /// The same request as seen at `now` (expiry applied).
    pub fn seen_at(mut self, now: OffsetDateTime) -> Self {
        self.status = self.status_at(now);
        self
    }

    /// Whether a new attempt may start (the store enforces the same rule atomically).
    pub fn accepts_payment(&self, now: OffsetDateTime) -> bool {
        self.status_at(now) == PaymentRequestStatus::Open && self.attempt_payment_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> PaymentRequest {
        PaymentRequest {
            id: PaymentRequestId::generate(),
            partner_id: PartnerId::generate(),
            object: PaymentRequestObject::PaymentRequest,
            reference_id: ReferenceId::parse("QUOTE-123").unwrap(),
            amount: Money::new(25_000, Currency::Usd),
            currency: Currency::Usd,
            status: PaymentRequestStatus::Open,
            url: "http://127.0.0.1:8080/p/acme/pay/pr_x".into(),
            redirect_url: None,
            description: None,
            payer_email: None,
            metadata: Metadata::new(),
            created_at: datetime!(2026-11-21 10:00 UTC),
            completed_at: None,
            expires_at: Some(datetime!(2026-11-22 10:00 UTC)),
            payment_id: None,
            attempt_count: 0,
            attempt_payment_id: None,
        }
    }

    #[test]
    fn open_request_expires_at_its_deadline() {
        let pr = sample();
        assert_eq!(
            pr.status_at(datetime!(2026-11-22 09:59 UTC)),
            PaymentRequestStatus::Open
        );
        assert_eq!(
            pr.status_at(datetime!(2026-11-22 10:00 UTC)),
            PaymentRequestStatus::Expired
        );
        assert!(!pr.accepts_payment(datetime!(2026-11-23 00:00 UTC)));
    }

    #[test]
    fn completed_request_never_expires() {
        let mut pr = sample();
        pr.status = PaymentRequestStatus::Completed;
        assert_eq!(
            pr.status_at(datetime!(2030-01-01 00:00 UTC)),
            PaymentRequestStatus::Completed
        );
    }

    #[test]
    fn serializes_in_api_shape() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["object"], "payment_request");
        assert_eq!(json["amount"], "250.00");
        assert_eq!(json["currency"], "USD");
        assert_eq!(json["referenceId"], "QUOTE-123");
        assert_eq!(json["status"], "open");
        assert_eq!(json["completedAt"], serde_json::Value::Null);
        assert_eq!(json["createdAt"], "2026-11-21T10:00:00Z");
        assert!(json.get("partnerId").is_none());
        assert!(json.get("attemptPaymentId").is_none());
    }

    #[test]
    fn ten_failed_attempts_in_an_hour_lock_a_link() {
        assert_eq!(MAX_FAILED_ATTEMPTS, 10);
        assert_eq!(FAILED_ATTEMPT_WINDOW, time::Duration::hours(1));
        let limit = FAILED_ATTEMPT_LIMIT;
        assert!(!limit.is_locked(0));
        assert!(!limit.is_locked(9));
        assert!(limit.is_locked(10));
        assert!(limit.is_locked(11));
        assert_eq!(
            limit.window_start(datetime!(2026-11-21 12:00 UTC)),
            datetime!(2026-11-21 11:00 UTC)
        );
    }

    #[test]
    fn status_names_round_trip() {
        for st in PaymentRequestStatus::ALL {
            assert_eq!(PaymentRequestStatus::parse_str(st.as_str()), Some(st));
        }
        assert_eq!(PaymentRequestStatus::parse_str("paid"), None);
    }
}

//! Background job kinds and their payloads: the one place that names each kind of durable work
//! and says what its JSON payload holds, so the code that enqueues a job (the store, in the
//! transaction of the change that causes it) and the worker that runs it cannot disagree.
//!
//! The payloads serialize to exactly the JSON stored in `jobs.payload` (camelCase keys, ids and
//! timestamps as strings), and read back anything the worker accepted before.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::id::{AuthorizationId, PaymentId, PaymentRequestId, WebhookDeliveryId};
use crate::payment::{AchResolution, AchReturnCode};

/// Background work runs in lanes by kind, each with its own worker and claim, so that a slow
/// webhook endpoint never delays money moving (docs/api.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// ACH settlements, payout batches, processor releases, payment-request expiry.
    Money,
    Webhooks,
    Email,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::Money, Lane::Webhooks, Lane::Email];

    pub const fn as_str(self) -> &'static str {
        match self {
            Lane::Money => "money",
            Lane::Webhooks => "webhooks",
            Lane::Email => "email",
        }
    }

    /// The job kinds it runs (`JobKind::as_str`).
    pub fn kinds(self) -> Vec<&'static str> {
        JobKind::ALL
            .iter()
            .filter(|k| k.lane() == self)
            .map(|k| k.as_str())
            .collect()
    }
}

/// What a job does; stored in `jobs.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Marks an open payment request expired once its `expiresAt` has passed.
    ExpirePaymentRequest,
    /// Clears or returns a submitted ACH debit (the sandbox's scheduled outcome).
    AchSettlement,
    /// Tells the processor to release the hold of a reversed authorization.
    ProcessorRelease,
    /// Cuts the daily payout batch for one cut-off.
    PayoutBatch,
    /// Makes the attempts of one webhook delivery.
    WebhookDelivery,
    /// Sends one email (docs/api.md §11).
    Email,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        Self::ExpirePaymentRequest,
        Self::AchSettlement,
        Self::ProcessorRelease,
        Self::PayoutBatch,
        Self::WebhookDelivery,
        Self::Email,
    ];

    /// The lane that runs it (docs/api.md §12).
    pub const fn lane(self) -> Lane {
        match self {
            Self::ExpirePaymentRequest
            | Self::AchSettlement
            | Self::ProcessorRelease
            | Self::PayoutBatch => Lane::Money,
            Self::WebhookDelivery => Lane::Webhooks,
            Self::Email => Lane::Email,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ExpirePaymentRequest => "expire_payment_request",
            Self::AchSettlement => "ach_settlement",
            Self::ProcessorRelease => "processor_release",
            Self::PayoutBatch => "payout_batch",
            Self::WebhookDelivery => "webhook_delivery",
            Self::Email => "email",
        }
    }

    /// The kind named `s` exactly; None for anything else.
    pub fn parse_str(s: &str) -> Option<JobKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a job kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job kind {0}")]
pub struct UnknownJobKind(pub String);

impl FromStr for JobKind {
    type Err = UnknownJobKind;

    fn from_str(s: &str) -> Result<JobKind, UnknownJobKind> {
        JobKind::parse_str(s).ok_or_else(|| UnknownJobKind(s.to_owned()))
    }
}

/// `{"paymentRequestId": "pr_…"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirePaymentRequest {
    pub payment_request_id: PaymentRequestId,
}

/// `{"paymentId": "pay_…", "outcome": "clear" | "R01"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AchSettlement {
    pub payment_id: PaymentId,
    #[serde(with = "ach_outcome")]
    pub outcome: AchResolution,
}

/// `{"authorizationId": "auth_…"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessorRelease {
    pub authorization_id: AuthorizationId,
}

/// `{"cutoff": "2026-11-21T00:00:00Z"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutBatch {
    #[serde(with = "crate::clock::rfc3339")]
    pub cutoff: OffsetDateTime,
}

impl PayoutBatch {
    /// The key that makes a cut-off's batch scheduled at most once, by any instance.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}:{}",
            JobKind::PayoutBatch.as_str(),
            crate::clock::format_rfc3339(self.cutoff)
        )
    }
}

/// `{"deliveryId": "whd_…"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub delivery_id: WebhookDeliveryId,
}

/// `{"emailId": "em_…"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendEmail {
    pub email_id: crate::id::EmailId,
}

/// A job's kind and payload together, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobPayload {
    ExpirePaymentRequest(ExpirePaymentRequest),
    AchSettlement(AchSettlement),
    ProcessorRelease(ProcessorRelease),
    PayoutBatch(PayoutBatch),
    WebhookDelivery(WebhookDelivery),
    Email(SendEmail),
}

/// A stored payload that does not fit its kind.
#[derive(Debug, thiserror::Error)]
#[error("bad {kind} job payload: {source}")]
pub struct JobPayloadError {
    pub kind: JobKind,
    #[source]
    pub source: serde_json::Error,
}

impl JobPayload {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::ExpirePaymentRequest(_) => JobKind::ExpirePaymentRequest,
            Self::AchSettlement(_) => JobKind::AchSettlement,
            Self::ProcessorRelease(_) => JobKind::ProcessorRelease,
            Self::PayoutBatch(_) => JobKind::PayoutBatch,
            Self::WebhookDelivery(_) => JobKind::WebhookDelivery,
            Self::Email(_) => JobKind::Email,
        }
    }

    /// The JSON stored in `jobs.payload`.
    pub fn to_payload(&self) -> serde_json::Value {
        let value = match self {
            Self::ExpirePaymentRequest(p) => serde_json::to_value(p),
            Self::AchSettlement(p) => serde_json::to_value(p),
            Self::ProcessorRelease(p) => serde_json::to_value(p),
            Self::PayoutBatch(p) => serde_json::to_value(p),
            Self::WebhookDelivery(p) => serde_json::to_value(p),
            Self::Email(p) => serde_json::to_value(p),
        };
        // Every field is a string or a map of strings: serializing to a Value cannot fail.
        value.expect("a job payload serializes to JSON")
    }

    /// Reads a stored payload of `kind`. Fields other than the kind's own are ignored, as the
    /// worker always has.
    pub fn from_payload(
        kind: JobKind,
        payload: &serde_json::Value,
    ) -> Result<JobPayload, JobPayloadError> {
        fn read<T: serde::de::DeserializeOwned>(
            kind: JobKind,
            payload: &serde_json::Value,
        ) -> Result<T, JobPayloadError> {
            T::deserialize(payload).map_err(|source| JobPayloadError { kind, source })
        }
        Ok(match kind {
            JobKind::ExpirePaymentRequest => Self::ExpirePaymentRequest(read(kind, payload)?),
            JobKind::AchSettlement => Self::AchSettlement(read(kind, payload)?),
            JobKind::ProcessorRelease => Self::ProcessorRelease(read(kind, payload)?),
            JobKind::PayoutBatch => Self::PayoutBatch(read(kind, payload)?),
            JobKind::WebhookDelivery => Self::WebhookDelivery(read(kind, payload)?),
            JobKind::Email => Self::Email(read(kind, payload)?),
        })
    }
}

/// A job to enqueue: what it does and when it may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJobSpec {
    pub payload: JobPayload,
    pub run_at: OffsetDateTime,
}

impl NewJobSpec {
    pub fn kind(&self) -> JobKind {
        self.payload.kind()
    }
}

/// The `outcome` of an ACH settlement: `"clear"`, or the return code (`"R01"`).
mod ach_outcome {
    use super::*;

    const CLEAR: &str = "clear";

    pub fn serialize<S: Serializer>(
        outcome: &AchResolution,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match outcome {
            AchResolution::Clear => CLEAR,
            AchResolution::Return(code) => code.as_str(),
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<AchResolution, D::Error> {
        let s = String::deserialize(deserializer)?;
        if s == CLEAR {
            return Ok(AchResolution::Clear);
        }
        AchReturnCode::parse(&s)
            .map(AchResolution::Return)
            .ok_or_else(|| serde::de::Error::custom("bad return code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn every_kind_runs_in_one_lane_and_money_never_shares_one_with_webhooks() {
        let mut all: Vec<&str> = Lane::ALL.iter().flat_map(|l| l.kinds()).collect();
        all.sort_unstable();
        let mut kinds: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        assert_eq!(all, kinds);
        assert_eq!(
            Lane::Money.kinds(),
            vec![
                "expire_payment_request",
                "ach_settlement",
                "processor_release",
                "payout_batch"
            ]
        );
        assert_eq!(Lane::Webhooks.kinds(), vec!["webhook_delivery"]);
        assert_eq!(Lane::Email.kinds(), vec!["email"]);
    }

    const PAY: &str = "pay_0123456789ABCDEFGHIJabcd";
    const PR: &str = "pr_0123456789ABCDEFGHIJabcd";
    const AUTH: &str = "auth_0123456789ABCDEFGHIJabcd";
    const WHD: &str = "whd_0123456789ABCDEFGHIJabcd";

    #[test]
    fn kind_strings_are_the_ones_stored_today() {
        let names: Vec<_> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "expire_payment_request",
                "ach_settlement",
                "processor_release",
                "payout_batch",
                "webhook_delivery",
                "email"
            ]
        );
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse_str(k.as_str()), Some(k));
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(
                serde_json::from_value::<JobKind>(k.as_str().into()).unwrap(),
                k
            );
        }
        assert_eq!(JobKind::parse_str("ACH_SETTLEMENT"), None);
        assert_eq!(
            "cleanup".parse::<JobKind>(),
            Err(UnknownJobKind("cleanup".into()))
        );
        // The worker's message for an unknown kind stays what it was.
        assert_eq!(
            UnknownJobKind("cleanup".into()).to_string(),
            "unknown job kind cleanup"
        );
    }

    /// Each payload next to the JSON the store and server write today (`json!` then
    /// `to_string`), compared as stored bytes.
    fn samples() -> Vec<(JobPayload, serde_json::Value)> {
        vec![
            (
                JobPayload::ExpirePaymentRequest(ExpirePaymentRequest {
                    payment_request_id: PaymentRequestId::parse(PR).unwrap(),
                }),
                json!({ "paymentRequestId": PR }),
            ),
            (
                JobPayload::AchSettlement(AchSettlement {
                    payment_id: PaymentId::parse(PAY).unwrap(),
                    outcome: AchResolution::Clear,
                }),
                json!({ "paymentId": PAY, "outcome": "clear" }),
            ),
            (
                JobPayload::AchSettlement(AchSettlement {
                    payment_id: PaymentId::parse(PAY).unwrap(),
                    outcome: AchResolution::Return(AchReturnCode::parse("R01").unwrap()),
                }),
                json!({ "paymentId": PAY, "outcome": "R01" }),
            ),
            (
                JobPayload::ProcessorRelease(ProcessorRelease {
                    authorization_id: AuthorizationId::parse(AUTH).unwrap(),
                }),
                json!({ "authorizationId": AUTH }),
            ),
            (
                JobPayload::PayoutBatch(PayoutBatch {
                    cutoff: datetime!(2026-11-21 00:00 UTC),
                }),
                json!({ "cutoff": crate::clock::format_rfc3339(datetime!(2026-11-21 00:00 UTC)) }),
            ),
            (
                JobPayload::WebhookDelivery(WebhookDelivery {
                    delivery_id: WebhookDeliveryId::parse(WHD).unwrap(),
                }),
                json!({ "deliveryId": WHD }),
            ),
            (
                JobPayload::Email(SendEmail {
                    email_id: crate::id::EmailId::parse("em_0123456789ABCDEFGHIJabcd").unwrap(),
                }),
                json!({ "emailId": "em_0123456789ABCDEFGHIJabcd" }),
            ),
        ]
    }

    #[test]
    fn payloads_are_byte_identical_to_todays_json() {
        for (payload, today) in samples() {
            assert_eq!(payload.to_payload(), today);
            assert_eq!(payload.to_payload().to_string(), today.to_string());
        }
        // The exact stored text of two of them.
        let ach = &samples()[1].0;
        assert_eq!(
            ach.to_payload().to_string(),
            format!(r#"{{"outcome":"clear","paymentId":"{PAY}"}}"#)
        );
        let batch = &samples()[4].0;
        assert_eq!(
            batch.to_payload().to_string(),
            r#"{"cutoff":"2026-11-21T00:00:00Z"}"#
        );
    }

    #[test]
    fn payloads_round_trip_through_their_kind() {
        for (payload, today) in samples() {
            let kind = payload.kind();
            assert_eq!(JobPayload::from_payload(kind, &today).unwrap(), payload);
            let spec = NewJobSpec {
                payload: payload.clone(),
                run_at: datetime!(2026-11-21 12:00 UTC),
            };
            assert_eq!(spec.kind(), kind);
        }
        let kinds: Vec<_> = samples().iter().map(|(p, _)| p.kind()).collect();
        for k in JobKind::ALL {
            assert!(kinds.contains(&k), "{k} has a sample");
        }
    }

    #[test]
    fn reading_accepts_what_the_worker_accepted_and_refuses_the_rest() {
        // Extra fields are ignored; a cut-off in another offset is read as UTC.
        let p = JobPayload::from_payload(
            JobKind::PayoutBatch,
            &json!({"cutoff": "2026-11-21T01:00:00+01:00", "extra": 1}),
        )
        .unwrap();
        assert_eq!(
            p,
            JobPayload::PayoutBatch(PayoutBatch {
                cutoff: datetime!(2026-11-21 00:00 UTC)
            })
        );
        for (kind, bad) in [
            (JobKind::AchSettlement, json!({"paymentId": PAY})),
            (
                JobKind::AchSettlement,
                json!({"paymentId": PAY, "outcome": "r01"}),
            ),
            (
                JobKind::AchSettlement,
                json!({"paymentId": "pay_short", "outcome": "clear"}),
            ),
            (
                JobKind::ExpirePaymentRequest,
                json!({"paymentRequestId": 7}),
            ),
            (JobKind::ProcessorRelease, json!({"authorizationId": PAY})),
            (JobKind::PayoutBatch, json!({"cutoff": "yesterday"})),
            (JobKind::WebhookDelivery, json!({})),
            (JobKind::WebhookDelivery, json!("whd")),
        ] {
            let err = JobPayload::from_payload(kind, &bad).unwrap_err();
            assert_eq!(err.kind, kind, "{bad}");
            assert!(err
                .to_string()
                .starts_with(&format!("bad {kind} job payload")));
        }
    }

    #[test]
    fn payout_batches_are_deduplicated_by_cutoff() {
        let batch = PayoutBatch {
            cutoff: datetime!(2026-11-21 00:00 UTC),
        };
        assert_eq!(batch.dedupe_key(), "payout_batch:2026-11-21T00:00:00Z");
    }
}

//! Stripe's webhook deliveries: the `Stripe-Signature` check (HMAC-SHA256 over `"{t}.{body}"`,
//! compared in constant time, timestamp within five minutes of receipt) and what an event says
//! about a Kassa record.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::objects::{Event, PaymentIntent, Refund};
use super::outcome::{ach_return, decline_of};
use crate::{About, Change, Notification, NotificationError};

/// How far a signature's timestamp may be from when Kassa received it, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Checks `header` (`t=…,v1=…[,v1=…]`) against `body`. Any one `v1` matching is enough: Stripe
/// signs with every active secret while one is being rolled.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    received_at: OffsetDateTime,
) -> Result<(), NotificationError> {
    let header = header.ok_or(NotificationError::BadSignature)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(NotificationError::BadSignature)?;
        match key {
            "t" => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| NotificationError::BadSignature)?,
                )
            }
            "v1" => {
                signatures.push(hex::decode(value).map_err(|_| NotificationError::BadSignature)?)
            }
            // v0 (test-mode legacy) and schemes Kassa does not know are not trusted.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(NotificationError::BadSignature)?;
    if signatures.is_empty() {
        return Err(NotificationError::BadSignature);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let matched = signatures.iter().fold(false, |any, sig| {
        any | bool::from(expected.as_slice().ct_eq(sig))
    });
    if !matched {
        return Err(NotificationError::BadSignature);
    }
    // Checked after the signature, so an unsigned delivery learns nothing about the clock.
    if (received_at.unix_timestamp() - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(NotificationError::Stale);
    }
    Ok(())
}

/// What a verified event says; event types Kassa does not act on have no change.
pub fn read_event(body: &[u8]) -> Result<Notification, NotificationError> {
    let event: Event = serde_json::from_slice(body)
        .map_err(|e| NotificationError::Unreadable(format!("not a Stripe event: {e}")))?;
    let change = match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let intent = intent_of(&event)?;
            Some(Change::PaymentSucceeded {
                about: about_intent(&intent),
            })
        }
        "payment_intent.payment_failed" => {
            let intent = intent_of(&event)?;
            let about = about_intent(&intent);
            let error = intent.last_payment_error.as_ref();
            Some(if intent.is_bank_debit() {
                Change::DebitReturned {
                    about,
                    code: ach_return(error),
                }
            } else {
                Change::PaymentDeclined {
                    about,
                    code: decline_of(error),
                }
            })
        }
        "refund.updated" | "refund.failed" | "charge.refund.updated" => {
            let refund: Refund = object_of(&event, "refund")?;
            let about = About {
                kassa_id: refund.kassa_id().map(str::to_string),
                reference: Some(refund.id.clone()),
            };
            match refund.status.as_str() {
                "succeeded" => Some(Change::RefundSucceeded { about }),
                "failed" | "canceled" => Some(Change::RefundFailed {
                    about,
                    reason: refund
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| format!("refund {}", refund.status)),
                }),
                // pending, requires_action: nothing decided yet.
                _ => None,
            }
        }
        _ => None,
    };
    Ok(Notification {
        event_id: event.id,
        change,
    })
}

fn intent_of(event: &Event) -> Result<PaymentIntent, NotificationError> {
    object_of(event, "PaymentIntent")
}

fn object_of<T: serde::de::DeserializeOwned>(
    event: &Event,
    what: &str,
) -> Result<T, NotificationError> {
    serde_json::from_value(event.data.object.clone()).map_err(|e| {
        NotificationError::Unreadable(format!("{} does not carry a {what}: {e}", event.kind))
    })
}

/// A captured hold is reported as the payment that captured it; anything else by its own id.
fn about_intent(intent: &PaymentIntent) -> About {
    About {
        kassa_id: intent
            .kassa_capture_id()
            .or_else(|| intent.kassa_id())
            .map(str::to_string),
        reference: Some(intent.id.clone()),
    }
}

/// The header Stripe would send for `body` at `timestamp`; for tests and stand-ins.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::payment::DeclineCode;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_800_000_000;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/stripe/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        let body = fixture("event_payment_intent_succeeded.json");
        let header = sign(SECRET, NOW, &body);
        assert_eq!(verify(SECRET, Some(&header), &body, at(NOW + 10)), Ok(()));
    }

    #[test]
    fn a_tampered_body_or_wrong_secret_is_refused() {
        let body = fixture("event_payment_intent_succeeded.json");
        let header = sign(SECRET, NOW, &body);
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        assert_eq!(
            verify(SECRET, Some(&header), &tampered, at(NOW)),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            verify("whsec_other", Some(&header), &body, at(NOW)),
            Err(NotificationError::BadSignature)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_stale() {
        let body = b"{}";
        let header = sign(SECRET, NOW, body);
        assert_eq!(
            verify(SECRET, Some(&header), body, at(NOW + TOLERANCE_SECONDS)),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some(&header), body, at(NOW + TOLERANCE_SECONDS + 1)),
            Err(NotificationError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&header), body, at(NOW - TOLERANCE_SECONDS - 1)),
            Err(NotificationError::Stale)
        );
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let body = b"{\"id\":\"evt_1\"}";
        let good = sign(SECRET, NOW, body);
        let good_v1 = good.split_once(",v1=").unwrap().1;
        let other = sign("whsec_old", NOW, body);
        let other_v1 = other.split_once(",v1=").unwrap().1;
        let header = format!("t={NOW},v1={other_v1},v1={good_v1},v0=abcd");
        assert_eq!(verify(SECRET, Some(&header), body, at(NOW)), Ok(()));
        let none_good = format!("t={NOW},v1={other_v1}");
        assert_eq!(
            verify(SECRET, Some(&none_good), body, at(NOW)),
            Err(NotificationError::BadSignature)
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_bad_signatures() {
        let body = b"{}";
        let good = sign(SECRET, NOW, body);
        let v1 = good.split_once(",v1=").unwrap().1.to_string();
        for header in [
            None,
            Some(String::new()),
            Some(format!("v1={v1}")),
            Some(format!("t={NOW}")),
            Some(format!("t=soon,v1={v1}")),
            Some(format!("t={NOW},v1=not-hex")),
            Some(format!("t={NOW};v1={v1}")),
        ] {
            assert_eq!(
                verify(SECRET, header.as_deref(), body, at(NOW)),
                Err(NotificationError::BadSignature),
                "{header:?}"
            );
        }
    }

    fn about(kassa_id: &str, reference: &str) -> About {
        About {
            kassa_id: Some(kassa_id.into()),
            reference: Some(reference.into()),
        }
    }

    #[test]
    fn a_succeeded_intent_is_a_payment_success() {
        let n = read_event(&fixture("event_payment_intent_succeeded.json")).unwrap();
        assert_eq!(n.event_id, "evt_1PgbSucceededEvent000001");
        assert_eq!(
            n.change,
            Some(Change::PaymentSucceeded {
                about: about(
                    "pay_0123456789ABCDEFGHIJabcd",
                    "pi_1PgafyB7WZ01zgkWSjxsAJo3"
                ),
            })
        );
    }

    #[test]
    fn a_captured_hold_is_reported_as_the_capturing_payment() {
        let mut event: serde_json::Value =
            serde_json::from_slice(&fixture("event_payment_intent_succeeded.json")).unwrap();
        event["data"]["object"]["metadata"] = serde_json::json!({
            "kassa_id": "auth_0123456789ABCDEFGHIJabcd",
            "kassa_capture_id": "pay_0123456789ABCDEFGHIJabcd",
        });
        let n = read_event(&serde_json::to_vec(&event).unwrap()).unwrap();
        assert_eq!(
            n.change,
            Some(Change::PaymentSucceeded {
                about: about(
                    "pay_0123456789ABCDEFGHIJabcd",
                    "pi_1PgafyB7WZ01zgkWSjxsAJo3"
                ),
            })
        );
    }

    #[test]
    fn a_failed_card_intent_is_a_decline() {
        let n = read_event(&fixture("event_payment_intent_failed_card.json")).unwrap();
        assert_eq!(
            n.change,
            Some(Change::PaymentDeclined {
                about: about(
                    "pay_0123456789ABCDEFGHIJabcd",
                    "pi_1PgafyB7WZ01zgkWSjxsAJo3"
                ),
                code: DeclineCode::InsufficientFunds,
            })
        );
    }

    #[test]
    fn a_failed_bank_debit_is_a_return() {
        let n = read_event(&fixture("event_payment_intent_failed_ach.json")).unwrap();
        match n.change {
            Some(Change::DebitReturned { about: a, code }) => {
                assert_eq!(
                    a,
                    about("pay_0123456789ABCDEFGHIJabcd", "pi_3AchDebit0000000000000")
                );
                assert_eq!(code.as_str(), "R02");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refund_events_follow_the_refund_status() {
        let n = read_event(&fixture("event_refund_updated_succeeded.json")).unwrap();
        assert_eq!(
            n.change,
            Some(Change::RefundSucceeded {
                about: about("re_0123456789ABCDEFGHIJabcd", "re_1Pgc72B7WZ01zgkWqPvrRrPE"),
            })
        );
        let n = read_event(&fixture("event_refund_failed.json")).unwrap();
        assert_eq!(
            n.change,
            Some(Change::RefundFailed {
                about: about("re_0123456789ABCDEFGHIJabcd", "re_1Pgc72B7WZ01zgkWqPvrRrPE"),
                reason: "expired_or_canceled_card".into(),
            })
        );
        let n = read_event(&fixture("event_refund_updated_pending.json")).unwrap();
        assert_eq!(n.change, None);
        assert_eq!(n.event_id, "evt_1PgcRefundPending00000001");
    }

    #[test]
    fn other_events_change_nothing() {
        let n = read_event(&fixture("event_plan_created.json")).unwrap();
        assert_eq!(n.event_id, "evt_1Pgc76B7WZ01zgkWwyRHS12y");
        assert_eq!(n.change, None);
    }

    #[test]
    fn unreadable_bodies_are_unreadable() {
        assert!(matches!(
            read_event(b"not json"),
            Err(NotificationError::Unreadable(_))
        ));
        assert!(matches!(
            read_event(br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#),
            Err(NotificationError::Unreadable(_))
        ));
    }
}

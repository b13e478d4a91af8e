//! Authorize.net's webhooks: `X-ANET-Signature: sha512=<hex>` is an HMAC-SHA512 of the raw body
//! under the merchant's Signature Key. Authorize.net's documentation does not make clear whether
//! the key is used as its text or hex-decoded, and integrations in the wild do both, so a
//! signature under either is accepted (the key is 128 hex characters either way, so neither
//! reading weakens it).
//!
//! A webhook names the transaction but not Kassa's full id (the invoice number holds only the
//! 20-character short form) nor whether it was a card or an eCheck, so every event Kassa acts on
//! is read back with `getTransactionDetails`; if that fails the delivery is refused with
//! `TryLater` and Authorize.net sends it again.

use hmac::{Hmac, Mac};
use kassa_core::payment::DeclineCode;
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha512;
use subtle::ConstantTimeEq;

use super::client::strip_bom;
use super::AuthorizeNetProcessor;
use crate::{About, Change, Delivery, Notification, NotificationError};

pub(crate) const SIGNATURE_HEADER: &str = "X-ANET-Signature";
const SCHEME: &str = "sha512=";

/// Checks `header` against the body under `key` (as text, or hex-decoded), in constant time.
pub(crate) fn verify(key: &str, header: &str, body: &[u8]) -> Result<(), NotificationError> {
    let header = header.trim();
    let hex_part = header
        .get(..SCHEME.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
        .and_then(|_| header.get(SCHEME.len()..))
        .ok_or(NotificationError::BadSignature)?;
    let given = hex::decode(hex_part.trim()).map_err(|_| NotificationError::BadSignature)?;
    let keys = std::iter::once(key.as_bytes().to_vec()).chain(hex::decode(key.trim()).ok());
    let mut matched = false;
    for key in keys {
        let mut mac = Hmac::<Sha512>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        // Both keys are always tried, so the time taken does not tell which one matched.
        matched |= bool::from(expected.as_slice().ct_eq(&given));
    }
    if matched {
        Ok(())
    } else {
        Err(NotificationError::BadSignature)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    notification_id: String,
    event_type: String,
    #[serde(default)]
    payload: Payload,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(default)]
    response_code: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
}

impl Payload {
    fn approved(&self) -> bool {
        match &self.response_code {
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            Some(Value::String(s)) => s.trim() == "1",
            _ => false,
        }
    }

    fn trans_id(&self) -> Option<String> {
        match &self.id {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// What an event says, before the transaction is read.
enum Reported {
    /// A card payment or hold went through (an eCheck's approval is only a submission).
    Succeeded,
    Declined,
    Refunded,
}

fn reported(event: &Event) -> Option<Reported> {
    match event.event_type.as_str() {
        "net.authorize.payment.fraud.approved" => Some(Reported::Succeeded),
        "net.authorize.payment.fraud.declined" => Some(Reported::Declined),
        // Lets Kassa settle a payment whose answer it lost; a decline changes nothing here,
        // since a lookup reads it just as well.
        "net.authorize.payment.authcapture.created"
        | "net.authorize.payment.authorization.created"
        | "net.authorize.payment.priorAuthCapture.created"
        | "net.authorize.payment.capture.created"
            if event.payload.approved() =>
        {
            Some(Reported::Succeeded)
        }
        "net.authorize.payment.refund.created" if event.payload.approved() => {
            Some(Reported::Refunded)
        }
        _ => None,
    }
}

impl AuthorizeNetProcessor {
    pub(crate) async fn notification(
        &self,
        delivery: Delivery<'_>,
    ) -> Result<Notification, NotificationError> {
        let key = self
            .config
            .signature_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or(NotificationError::BadSignature)?;
        let header = delivery
            .header(SIGNATURE_HEADER)
            .ok_or(NotificationError::BadSignature)?;
        verify(key, header, delivery.body)?;
        let event: Event = serde_json::from_slice(strip_bom(delivery.body)).map_err(|e| {
            NotificationError::Unreadable(format!(
                "not an Authorize.net event ({:?})",
                e.classify()
            ))
        })?;
        let Some(reported) = reported(&event) else {
            return Ok(Notification {
                event_id: event.notification_id,
                change: None,
            });
        };
        let trans_id = event.payload.trans_id().ok_or_else(|| {
            NotificationError::Unreadable("the event names no transaction".into())
        })?;
        let details = self
            .details(&trans_id)
            .await
            .map_err(|e| NotificationError::TryLater(e.to_string()))?
            .ok_or_else(|| {
                NotificationError::TryLater(format!(
                    "Authorize.net cannot show transaction {trans_id} yet"
                ))
            })?;
        let about = About {
            kassa_id: details.kassa_id(),
            reference: Some(trans_id),
        };
        let change = match reported {
            Reported::Succeeded if details.is_echeck() => None,
            Reported::Succeeded => Some(Change::PaymentSucceeded { about }),
            Reported::Declined => Some(Change::PaymentDeclined {
                about,
                code: DeclineCode::CardDeclined,
            }),
            Reported::Refunded => Some(Change::RefundSucceeded { about }),
        };
        Ok(Notification {
            event_id: event.notification_id,
            change,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "56E529FE5E0C4E6E2E4C6F2C8C0E7F1D3B5A7C9E1F3A5B7C9D1E3F5A7B9C1D3E5F7A9B1C3D5E7F9A1B3C5D7E9F1A3B5C7D9E1F3A5B7C9D1E3F5A7B9C1D3E5F";
    const BODY: &[u8] =
        br#"{"notificationId":"n-1","eventType":"net.authorize.payment.authcapture.created"}"#;

    fn sign(key: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha512>::new_from_slice(key).unwrap();
        mac.update(body);
        hex::encode_upper(mac.finalize().into_bytes())
    }

    #[test]
    fn a_signature_under_the_key_as_text_or_hex_is_accepted_in_either_case() {
        let text = sign(KEY.as_bytes(), BODY);
        let decoded = sign(&hex::decode(KEY).unwrap(), BODY);
        for header in [
            format!("sha512={text}"),
            format!("sha512={}", text.to_lowercase()),
            format!("SHA512={decoded}"),
            format!("sha512={}", decoded.to_lowercase()),
        ] {
            assert_eq!(verify(KEY, &header, BODY), Ok(()), "{header}");
        }
    }

    #[test]
    fn tampered_bodies_wrong_keys_and_malformed_headers_are_refused() {
        let good = format!("sha512={}", sign(KEY.as_bytes(), BODY));
        let tampered =
            br#"{"notificationId":"n-2","eventType":"net.authorize.payment.authcapture.created"}"#;
        assert_eq!(
            verify(KEY, &good, tampered),
            Err(NotificationError::BadSignature)
        );
        let other_key = KEY.replace('5', "6");
        assert_eq!(
            verify(&other_key, &good, BODY),
            Err(NotificationError::BadSignature)
        );
        for header in [
            "",
            "sha512=",
            "sha512=zz",
            "sha256=00",
            &good[SCHEME.len()..],
            &good[..good.len() - 2],
            "sha512é=00",
        ] {
            assert_eq!(
                verify(KEY, header, BODY),
                Err(NotificationError::BadSignature),
                "{header}"
            );
        }
    }
}

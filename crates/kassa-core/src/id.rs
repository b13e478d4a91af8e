//! Typed, prefixed random ids ("pr_…", "pay_…"): the prefix makes a leaked id
//! self-describing, and one type per entity stops a PaymentId being passed as a RefundId.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use crate::error::ValidationError;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Number of base62 characters after the prefix: 24 × log2(62) ≈ 143 bits, unguessable.
pub const ID_RANDOM_LEN: usize = 24;

/// `len` characters of base62 from the thread-local CSPRNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect()
}

pub trait PrefixedId {
    const PREFIX: &'static str;
    /// What the id names, as in "no such payment request": the 404 for an id that names nothing.
    const NOUN: &'static str;
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("must be an id starting with {prefix}_")]
    Invalid { prefix: &'static str },
}

impl ValidationError for IdError {
    fn code(&self) -> &'static str {
        match self {
            IdError::Invalid { .. } => "invalid_id",
        }
    }
}

/// Shared check: exact `prefix` + '_' + exactly [`ID_RANDOM_LEN`] ASCII alphanumerics.
fn check_id(s: &str, prefix: &'static str) -> Result<(), IdError> {
    let ok = s
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|tail| {
            tail.len() == ID_RANDOM_LEN && tail.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if ok {
        Ok(())
    } else {
        Err(IdError::Invalid { prefix })
    }
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $noun:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                $name(format!("{}_{}", $prefix, random_base62(ID_RANDOM_LEN)))
            }

            /// Exact prefix + '_' + exactly 24 base62 characters.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_id(s, $prefix)?;
                Ok($name(s.to_owned()))
            }

            /// For values read back from our own database; no check.
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl PrefixedId for $name {
            const PREFIX: &'static str = $prefix;
            const NOUN: &'static str = $noun;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                id_schema($prefix)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// An id in the OpenAPI document: a string of the prefix, '_' and the random part.
fn id_schema(prefix: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{prefix}_[0-9A-Za-z]{{{ID_RANDOM_LEN}}}$")))
        .examples([format!(
            "{prefix}_{}",
            String::from_utf8_lossy(&BASE62[..ID_RANDOM_LEN])
        )])
        .into()
}

prefixed_id!(PartnerId, "par", "partner");
prefixed_id!(PaymentRequestId, "pr", "payment request");
prefixed_id!(PaymentId, "pay", "payment");
prefixed_id!(AuthorizationId, "auth", "authorization");
prefixed_id!(CustomerId, "cus", "customer");
prefixed_id!(PaymentMethodId, "pm", "payment method");
prefixed_id!(InvoiceId, "inv", "invoice");
prefixed_id!(RefundId, "re", "refund");
prefixed_id!(PayoutId, "po", "payout");
prefixed_id!(EventId, "evt", "event");
prefixed_id!(WebhookEndpointId, "we", "webhook endpoint");
prefixed_id!(WebhookDeliveryId, "whd", "webhook delivery");
prefixed_id!(EmailId, "em", "email");
prefixed_id!(ApiKeyId, "key", "API key");
prefixed_id!(VaultEntryId, "vlt", "vault entry");
prefixed_id!(JobId, "job", "job");
prefixed_id!(UserId, "usr", "user");
prefixed_id!(LedgerEntryId, "le", "ledger entry");
prefixed_id!(AuditEventId, "aud", "audit event");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_base62_has_requested_length_and_alphabet() {
        for len in [0, 1, 24, 100] {
            let s = random_base62(len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn random_base62_differs() {
        assert_ne!(random_base62(24), random_base62(24));
    }

    #[test]
    fn generate_parses_back() {
        let id = PaymentRequestId::generate();
        assert!(id.as_str().starts_with("pr_"));
        assert_eq!(id.as_str().len(), 3 + 24);
        assert_eq!(PaymentRequestId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.to_string(), id.as_str());
        assert_ne!(PaymentRequestId::generate(), PaymentRequestId::generate());
    }

    #[test]
    fn every_type_has_its_prefix() {
        fn check<T: PrefixedId>(generated: String) {
            let (prefix, tail) = generated.split_once('_').unwrap();
            assert_eq!(prefix, T::PREFIX);
            assert_eq!(tail.len(), 24);
        }
        check::<PartnerId>(PartnerId::generate().to_string());
        check::<PaymentRequestId>(PaymentRequestId::generate().to_string());
        check::<PaymentId>(PaymentId::generate().to_string());
        check::<AuthorizationId>(AuthorizationId::generate().to_string());
        check::<CustomerId>(CustomerId::generate().to_string());
        check::<PaymentMethodId>(PaymentMethodId::generate().to_string());
        check::<InvoiceId>(InvoiceId::generate().to_string());
        check::<RefundId>(RefundId::generate().to_string());
        check::<PayoutId>(PayoutId::generate().to_string());
        check::<EventId>(EventId::generate().to_string());
        check::<WebhookEndpointId>(WebhookEndpointId::generate().to_string());
        check::<WebhookDeliveryId>(WebhookDeliveryId::generate().to_string());
        check::<ApiKeyId>(ApiKeyId::generate().to_string());
        check::<VaultEntryId>(VaultEntryId::generate().to_string());
        check::<JobId>(JobId::generate().to_string());
        check::<UserId>(UserId::generate().to_string());
        check::<LedgerEntryId>(LedgerEntryId::generate().to_string());
        assert_eq!(PartnerId::PREFIX, "par");
        assert_eq!(LedgerEntryId::PREFIX, "le");
        assert_eq!(WebhookDeliveryId::PREFIX, "whd");
    }

    #[test]
    fn parse_accepts_exact_shape() {
        let s = "pay_0123456789ABCDEFGHIJabcd";
        assert_eq!(PaymentId::parse(s).unwrap().as_str(), s);
        let s = "re_zzzzzzzzzzzzzzzzzzzzzzzz";
        assert!(RefundId::parse(s).is_ok());
    }

    #[test]
    fn parse_rejects() {
        let tail = "0123456789ABCDEFGHIJabcd";
        for bad in [
            String::new(),
            "pay".to_string(),
            "pay_".to_string(),
            tail.to_string(),
            format!("pr_{tail}"),          // wrong prefix
            format!("PAY_{tail}"),         // prefix is case-sensitive
            format!("pay-{tail}"),         // wrong separator
            format!("pay{tail}"),          // no separator
            format!("pay__{tail}"),        // doubled separator
            format!("pay_{tail}0"),        // 25 chars
            format!("pay_{}", &tail[1..]), // 23 chars
            format!("pay_{}-", &tail[1..]),
            format!("pay_{}_", &tail[1..]),
            format!(" pay_{tail}"),
            format!("pay_{tail} "),
            format!("pay_{}１", &tail[1..]), // fullwidth digit
            format!("pay_{}٣", &tail[2..]),  // Arabic-Indic digit (2 bytes)
            format!("pay_{}é", &tail[2..]),
        ] {
            let e = PaymentId::parse(&bad).unwrap_err();
            assert_eq!(e.code(), "invalid_id", "{bad:?}");
        }
        // "pay_" must not be confused with "pr_" or a longer prefix sharing the start.
        assert!(PayoutId::parse(&format!("pay_{tail}")).is_err());
        assert!(AuthorizationId::parse(&format!("au_{tail}")).is_err());
    }

    #[test]
    fn error_message_names_prefix() {
        let e = PaymentRequestId::parse("nope").unwrap_err();
        assert_eq!(e.message(), "must be an id starting with pr_");
    }

    #[test]
    fn from_trusted_skips_checks() {
        assert_eq!(JobId::from_trusted("anything".into()).as_str(), "anything");
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let id = CustomerId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.as_str()));
        assert_eq!(serde_json::from_str::<CustomerId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<CustomerId>("\"cus_short\"").is_err());
        assert!(serde_json::from_str::<PaymentId>(&json).is_err());
        assert!(serde_json::from_str::<CustomerId>("42").is_err());
    }

    #[test]
    fn from_str_and_ordering() {
        let a: UserId = "usr_000000000000000000000000".parse().unwrap();
        let b: UserId = "usr_000000000000000000000001".parse().unwrap();
        assert!(a < b);
        assert!("usr_x".parse::<UserId>().is_err());
    }
}

//! Payment links: where a request's page lives, and the creation link's query and signature.

use kassa_core::id::PaymentRequestId;
use kassa_store::Partner;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use subtle::ConstantTimeEq;

use crate::vault::{link_signature, Vault, VaultError};

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The public URL of a request's pay page: on the partner's billing host when it has one,
/// else under `/p/{slug}` on Kassa's own public URL.
pub fn pay_url(public_base: &str, partner: &Partner, id: &PaymentRequestId) -> String {
    format!("{}/pay/{id}", site_base(public_base, partner))
}

/// Where a partner's pages live: its billing host (over https) once verified, else `/p/{slug}`
/// under Kassa's public URL.
fn site_base(public_base: &str, partner: &Partner) -> String {
    match partner.verified_billing_host() {
        Some(host) => format!("https://{host}"),
        None => format!("{public_base}/p/{}", partner.slug),
    }
}

/// The creation link for a partner, signed when the partner requires it (with its link secret,
/// opened from the vault); fails only when that secret does not open.
pub fn creation_link(
    public_base: &str,
    vault: &Vault,
    partner: &Partner,
    amount: &str,
    reference_id: &str,
    redirect_url: Option<&str>,
) -> Result<String, VaultError> {
    let base = site_base(public_base, partner);
    let mut query = format!(
        "amount={}&referenceId={}",
        utf8_percent_encode(amount, COMPONENT),
        utf8_percent_encode(reference_id, COMPONENT)
    );
    if let Some(url) = redirect_url {
        query.push_str("&redirectUrl=");
        query.extend(utf8_percent_encode(url, COMPONENT));
    }
    if partner.require_signed_links {
        let secret = vault.open_link_secret(partner)?;
        let sig = link_signature(secret.expose(), &query);
        query.push_str("&signature=");
        query.push_str(&sig);
    }
    Ok(format!("{base}/payment-request?{query}"))
}

#[derive(Debug, PartialEq, Eq)]
pub enum QueryError {
    Repeated(&'static str),
    NotUtf8(&'static str),
}

/// The query of a creation link: each value decoded, and the raw text that is signed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CreationQuery {
    pub amount: Option<String>,
    pub reference_id: Option<String>,
    pub redirect_url: Option<String>,
    pub signature: Option<String>,
    raw_amount: Option<String>,
    raw_reference_id: Option<String>,
    raw_redirect_url: Option<String>,
}

impl CreationQuery {
    /// Fails, naming the parameter, when one appears twice (which would count is ambiguous, and a
    /// signature must cover exactly one) or is not valid percent-encoded UTF-8.
    pub fn parse(raw: &str) -> Result<CreationQuery, QueryError> {
        let mut q = CreationQuery::default();
        for piece in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
            let (slot, raw_slot, label) = match name {
                "amount" => (&mut q.amount, Some(&mut q.raw_amount), "amount"),
                "referenceId" => (
                    &mut q.reference_id,
                    Some(&mut q.raw_reference_id),
                    "referenceId",
                ),
                "redirectUrl" => (
                    &mut q.redirect_url,
                    Some(&mut q.raw_redirect_url),
                    "redirectUrl",
                ),
                "signature" => (&mut q.signature, None, "signature"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(QueryError::Repeated(label));
            }
            // Form encoding: '+' is a space; the rest must decode to UTF-8.
            let spaced = raw_value.replace('+', " ");
            let value = percent_decode_str(&spaced)
                .decode_utf8()
                .map_err(|_| QueryError::NotUtf8(label))?;
            *slot = Some(value.into_owned());
            if let Some(raw_slot) = raw_slot {
                *raw_slot = Some(raw_value.to_string());
            }
        }
        Ok(q)
    }

    /// What the signature covers: `amount`, `referenceId`, `redirectUrl` (when present), in that
    /// order, values exactly as they appear in the URL.
    pub fn signed_message(&self) -> String {
        let mut parts = Vec::with_capacity(3);
        for (name, raw) in [
            ("amount", &self.raw_amount),
            ("referenceId", &self.raw_reference_id),
            ("redirectUrl", &self.raw_redirect_url),
        ] {
            if let Some(raw) = raw {
                parts.push(format!("{name}={raw}"));
            }
        }
        parts.join("&")
    }

    pub fn signature_valid(&self, secret: &str) -> bool {
        let Some(given) = &self.signature else {
            return false;
        };
        let expected = link_signature(secret, &self.signed_message());
        expected
            .as_bytes()
            .ct_eq(given.to_ascii_lowercase().as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_and_raw_text_is_signed() {
        let q = CreationQuery::parse(
            "referenceId=QUOTE%20123&amount=250.00&x=1&redirectUrl=https%3A%2F%2Fa.example%2Fok",
        )
        .unwrap();
        assert_eq!(q.amount.as_deref(), Some("250.00"));
        assert_eq!(q.reference_id.as_deref(), Some("QUOTE 123"));
        assert_eq!(q.redirect_url.as_deref(), Some("https://a.example/ok"));
        assert_eq!(
            q.signed_message(),
            "amount=250.00&referenceId=QUOTE%20123&redirectUrl=https%3A%2F%2Fa.example%2Fok"
        );
    }

    #[test]
    fn plus_means_space_in_a_query() {
        let q = CreationQuery::parse("amount=1&referenceId=A+B").unwrap();
        assert_eq!(q.reference_id.as_deref(), Some("A B"));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(
            CreationQuery::parse("amount=1&amount=2"),
            Err(QueryError::Repeated("amount"))
        );
        assert_eq!(
            CreationQuery::parse("signature=a&signature=b"),
            Err(QueryError::Repeated("signature"))
        );
    }

    #[test]
    fn values_must_be_utf8() {
        assert_eq!(
            CreationQuery::parse("amount=1&referenceId=%FF%FE"),
            Err(QueryError::NotUtf8("referenceId"))
        );
        let q = CreationQuery::parse("amount=1&referenceId=caf%C3%A9").unwrap();
        assert_eq!(q.reference_id.as_deref(), Some("café"));
    }

    #[test]
    fn signature_checks_in_constant_time_and_any_case() {
        let mut q = CreationQuery::parse("amount=250.00&referenceId=Q1").unwrap();
        let sig = link_signature("secret", "amount=250.00&referenceId=Q1");
        q.signature = Some(sig.to_uppercase());
        assert!(q.signature_valid("secret"));
        assert!(!q.signature_valid("other"));
        q.signature = None;
        assert!(!q.signature_valid("secret"));
    }
}

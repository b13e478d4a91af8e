//! Proving that a partner holds its billing host before Kassa serves its pages there: the DNS TXT
//! record it must publish (`_kassa.<host>` = `kassa-verification=<token>`), how an answer is
//! judged, and which hosts belong to Kassa itself. Looking the record up is the server's
//! (`kassa-server/src/dns.rs`); this file only decides.

use crate::partner::BillingHost;

/// The label the TXT record lives under, in front of the billing host's name.
pub const RECORD_LABEL: &str = "_kassa";

/// What the TXT record's value starts with; the token follows.
pub const VALUE_PREFIX: &str = "kassa-verification=";

/// Characters of a new token (base62, about 190 bits).
pub const TOKEN_CHARS: usize = 32;

/// Where a billing host stands: set but not yet proven, or proven (by DNS or by the operator).
/// Only a verified host serves the partner's pay pages and creation links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingHostStatus {
    PendingVerification,
    Verified,
}

impl BillingHostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingHostStatus::PendingVerification => "pending_verification",
            BillingHostStatus::Verified => "verified",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending_verification" => Some(BillingHostStatus::PendingVerification),
            "verified" => Some(BillingHostStatus::Verified),
            _ => None,
        }
    }
}

/// The random token of one claim of a billing host; a new host gets a new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerificationToken(String);

impl VerificationToken {
    pub fn generate() -> Self {
        VerificationToken(crate::id::random_base62(TOKEN_CHARS))
    }
}

string_newtype_impls!(VerificationToken);

/// A billing host's verification: its status and the token its TXT record must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVerification {
    pub status: BillingHostStatus,
    pub token: VerificationToken,
}

impl HostVerification {
    /// The TXT record's value: `kassa-verification=<token>`.
    pub fn record_value(&self) -> String {
        format!("{VALUE_PREFIX}{}", self.token)
    }

    pub fn is_verified(&self) -> bool {
        self.status == BillingHostStatus::Verified
    }
}

/// The name the TXT record must be published at: `_kassa.` and the host without its port.
pub fn record_name(host: &BillingHost) -> String {
    format!("{RECORD_LABEL}.{}", host.hostname())
}

/// What the TXT records found at [`record_name`] say about the expected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtCheck {
    /// One record is the expected value (surrounding blanks aside; the token's case counts).
    Found,
    /// There is no TXT record at the name.
    Missing,
    /// There are TXT records, none of them the expected value; these are the ones of Kassa's
    /// form (`kassa-verification=…`), else all of them.
    Mismatch(Vec<String>),
}

/// Judges the TXT records found (each one's strings already joined) against `expected`.
pub fn check_txt(records: &[String], expected: &str) -> TxtCheck {
    if records.is_empty() {
        return TxtCheck::Missing;
    }
    if records.iter().any(|r| r.trim() == expected) {
        return TxtCheck::Found;
    }
    let ours: Vec<String> = records
        .iter()
        .filter(|r| r.trim().starts_with(VALUE_PREFIX))
        .cloned()
        .collect();
    TxtCheck::Mismatch(if ours.is_empty() {
        records.to_vec()
    } else {
        ours
    })
}

/// Whether `host` is Kassa's own public host (`public_authority`: the host of `publicUrl`, maybe
/// with a port) or a name under it, on any port. Kassa's host serves every partner's `/p/{slug}`
/// pages, and names under it are the operator's; a partner claiming one would take them over.
pub fn reserved_for_kassa(host: &BillingHost, public_authority: &str) -> bool {
    let public = hostname_of(public_authority)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if public.is_empty() {
        return false;
    }
    let name = host.hostname();
    name == public
        || name
            .strip_suffix(public.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`) without its port.
fn hostname_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> BillingHost {
        BillingHost::parse(s).unwrap()
    }

    #[test]
    fn the_record_to_publish() {
        assert_eq!(
            record_name(&host("Pay.Acme.Example:8443")),
            "_kassa.pay.acme.example"
        );
        let v = HostVerification {
            status: BillingHostStatus::PendingVerification,
            token: VerificationToken::from_trusted("AbC123".into()),
        };
        assert_eq!(v.record_value(), "kassa-verification=AbC123");
        assert!(!v.is_verified());
        let t = VerificationToken::generate();
        assert_eq!(t.as_str().len(), TOKEN_CHARS);
        assert!(t.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(t, VerificationToken::generate());
    }

    #[test]
    fn statuses_read_back() {
        for s in [
            BillingHostStatus::PendingVerification,
            BillingHostStatus::Verified,
        ] {
            assert_eq!(BillingHostStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(BillingHostStatus::parse("Verified"), None);
    }

    #[test]
    fn txt_answers_are_judged() {
        let want = "kassa-verification=Tok3n";
        let rs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_txt(&[], want), TxtCheck::Missing);
        assert_eq!(check_txt(&rs(&[want]), want), TxtCheck::Found);
        assert_eq!(
            check_txt(&rs(&["v=spf1 -all", " kassa-verification=Tok3n "]), want),
            TxtCheck::Found
        );
        // The token is compared exactly: another case is another token.
        assert_eq!(
            check_txt(&rs(&["kassa-verification=tok3n", "v=spf1 -all"]), want),
            TxtCheck::Mismatch(rs(&["kassa-verification=tok3n"]))
        );
        assert_eq!(
            check_txt(&rs(&["v=spf1 -all"]), want),
            TxtCheck::Mismatch(rs(&["v=spf1 -all"]))
        );
        // A prefix or a longer value is not the value.
        assert_eq!(
            check_txt(&rs(&["kassa-verification=Tok3nX"]), want),
            TxtCheck::Mismatch(rs(&["kassa-verification=Tok3nX"]))
        );
    }

    #[test]
    fn kassas_own_host_and_names_under_it_are_reserved() {
        for (billing, public) in [
            ("kassa.test", "kassa.test"),
            ("kassa.test:8443", "kassa.test"),
            ("KASSA.test", "kassa.test:8080"),
            ("pay.kassa.test", "kassa.test"),
            ("a.b.kassa.example", "Kassa.Example."),
        ] {
            assert!(
                reserved_for_kassa(&host(billing), public),
                "{billing} {public}"
            );
        }
        for (billing, public) in [
            ("notkassa.test", "kassa.test"),
            ("kassa.test.example", "kassa.test"),
            ("pay.acme.example", "kassa.test"),
            ("pay.acme.example", "127.0.0.1:8080"),
            ("pay.acme.example", "[::1]:8080"),
            ("pay.acme.example", ""),
        ] {
            assert!(
                !reserved_for_kassa(&host(billing), public),
                "{billing} {public}"
            );
        }
    }
}

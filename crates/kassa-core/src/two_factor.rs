//! Two-factor sign-in to the dashboard (docs/api.md §9): TOTP codes (RFC 6238: HMAC-SHA-1,
//! 6 digits, 30-second steps, one step either side accepted) and one-time recovery codes. The
//! rules only: which step a code proves, what a code typed by a person is, how a recovery code
//! is made and hashed. Storing the secret (sealed) and spending codes once are the server's and
//! the store's.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle_eq::ct_eq;
use totp_rs::{Algorithm, TOTP};

use crate::secret::Secret;

/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
pub const SECRET_BYTES: usize = 20;
/// Seconds of one TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a TOTP code.
pub const DIGITS: usize = 6;
/// Recovery codes shown at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (without its dashes).
const RECOVERY_CHARS: usize = 12;
/// Lowercase letters and digits without the easily confused 0/o, 1/l/i.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// A fresh random TOTP secret.
pub fn new_secret() -> Secret<Vec<u8>> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rng().fill(&mut bytes[..]);
    Secret::new(bytes)
}

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS as u64,
        secret.to_vec(),
    )
}

/// The secret as authenticator apps take it typed in: base32 without padding.
pub fn secret_base32(secret: &[u8]) -> String {
    totp(secret).get_secret_base32()
}

/// The `otpauth://totp/…` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = uri_escape(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        uri_escape(account),
        secret_base32(secret),
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The step `unix_seconds` falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code of one step.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    totp(secret).generate((step.max(0) * STEP_SECONDS) as u64)
}

/// The step a 6-digit `code` proves at `unix_seconds` — the current step or one either side —
/// if it is later than `last_used` (a code is never accepted twice). The newest matching step
/// is returned.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    unix_seconds: i64,
    last_used: Option<i64>,
) -> Option<i64> {
    let now = step_at(unix_seconds);
    let mut found = None;
    // Every candidate is computed and compared, whatever matches, so the time taken does not
    // tell which step matched.
    for step in [now - 1, now, now + 1] {
        let matches = ct_eq(code_at_step(secret, step).as_bytes(), code.as_bytes());
        if matches && last_used.is_none_or(|last| step > last) {
            found = Some(step);
        }
    }
    found
}

/// What a person typed on a code form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnteredCode {
    /// Six digits (spaces ignored).
    Totp(String),
    /// A recovery code, normalized: lowercase, without dashes or spaces.
    Recovery(Secret<String>),
}

/// Reads a code form's field; None when it can be neither kind of code.
pub fn parse_code(input: &str) -> Option<EnteredCode> {
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
        return Some(EnteredCode::Totp(compact));
    }
    if compact.len() == RECOVERY_CHARS && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
        return Some(EnteredCode::Recovery(Secret::new(compact)));
    }
    None
}

/// [`RECOVERY_CODES`] fresh recovery codes as shown to the user, `xxxx-xxxx-xxxx`.
pub fn new_recovery_codes() -> Vec<Secret<String>> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: Vec<char> = (0..RECOVERY_CHARS)
                .map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char)
                .collect();
            let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
            Secret::new(groups.join("-"))
        })
        .collect()
}

/// What is stored of a recovery code: a SHA-256 of the user's id and the normalized code
/// (about 59 random bits each, so a plain hash is enough; the user id keeps equal codes of
/// two users apart).
pub fn recovery_code_hash(user_id: &str, code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    hex::encode(Sha256::digest(format!("{user_id}/{normalized}").as_bytes()))
}

/// A comparison whose time does not depend on where the inputs differ.
mod subtle_eq {
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, with its 20-byte ASCII secret (the RFC's 8 digits, last 6).
    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(code_at_step(secret, step_at(time)), code, "T={time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let secret = b"12345678901234567890";
        let t = 1_111_111_111;
        let now = step_at(t);
        let code = code_at_step(secret, now);
        assert_eq!(matching_step(secret, &code, t, None), Some(now));
        assert_eq!(matching_step(secret, &code, t + 30, None), Some(now));
        assert_eq!(matching_step(secret, &code, t - 30, None), Some(now));
        assert_eq!(matching_step(secret, &code, t + 60, None), None);
        assert_eq!(matching_step(secret, &code, t - 60, None), None);
        // Once step `now` is used, its code (and older ones) no longer pass.
        assert_eq!(matching_step(secret, &code, t, Some(now)), None);
        let next = code_at_step(secret, now + 1);
        assert_eq!(matching_step(secret, &next, t, Some(now)), Some(now + 1));
        assert_eq!(
            matching_step(secret, "000000", t, None).is_some(),
            code == "000000"
        );
        assert_eq!(matching_step(secret, "12345", t, None), None);
    }

    #[test]
    fn entered_codes_are_read_leniently_and_only_as_codes() {
        assert_eq!(
            parse_code(" 123 456 "),
            Some(EnteredCode::Totp("123456".into()))
        );
        assert_eq!(
            parse_code("ABCD-efgh-2345"),
            Some(EnteredCode::Recovery(Secret::new("abcdefgh2345".into())))
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "abcd-efgh-234",
            "abcd-efgh-2341",
            "ab/d-efgh-2345",
        ] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recovery_codes_are_distinct_readable_and_hashed_per_user() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut seen = std::collections::HashSet::new();
        for c in &codes {
            let c = c.expose();
            assert_eq!(c.len(), 14, "{c}");
            assert!(
                matches!(parse_code(c), Some(EnteredCode::Recovery(_))),
                "{c}"
            );
            assert!(seen.insert(c.clone()));
            assert_eq!(
                recovery_code_hash("usr_a", c),
                recovery_code_hash("usr_a", &c.to_uppercase().replace('-', " "))
            );
            assert_ne!(
                recovery_code_hash("usr_a", c),
                recovery_code_hash("usr_b", c)
            );
        }
    }

    #[test]
    fn the_uri_names_the_issuer_account_and_secret() {
        let secret = b"12345678901234567890";
        assert_eq!(secret_base32(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            otpauth_uri("Kassa (Acme & Co)", "a+b@acme.example", secret),
            "otpauth://totp/Kassa%20%28Acme%20%26%20Co%29:a%2Bb%40acme.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Kassa%20%28Acme%20%26%20Co%29&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(new_secret().expose().len(), SECRET_BYTES);
    }
}

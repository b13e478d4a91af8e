//! The proof of work a pay page in challenge mode asks for (docs/api.md §8): the server issues a
//! challenge bound to one payment request and one attempt, signed with a server key; the
//! payer's browser finds a counter such that SHA-256(challenge ":" counter) starts with
//! `difficulty` zero bits. Checking an answer costs one MAC and one hash.
//!
//! A challenge reads `v1.{difficulty}.{request}.{attempt}.{expires}.{nonce}.{mac}`:
//! - `attempt` is the request's attempt count when the page was shown: once an attempt is
//!   made with it the count moves on, so one solved challenge pays for one attempt only;
//! - `expires` is a Unix time in seconds ([`VALIDITY`] after it was issued);
//! - the nonce is random, and as long as it takes for `challenge ":"` to fill whole SHA-256
//!   blocks, so a solver hashes those blocks once and then a single block per counter;
//! - `mac` is the server's keyed MAC of everything before it ([`MAC_LEN`] characters).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::id::PaymentRequestId;

const VERSION: &str = "v1";

/// How long a page's challenge can be answered.
pub const VALIDITY: time::Duration = time::Duration::minutes(15);

/// The length of the MAC the server's signer returns (hex of 16 bytes).
pub const MAC_LEN: usize = 32;

/// Longer challenges are refused unread.
const MAX_LEN: usize = 300;

/// What a challenge answers for: one attempt on one payment request.
#[derive(Debug, Clone, Copy)]
pub struct Bound<'a> {
    pub request: &'a PaymentRequestId,
    /// The request's attempt count when the challenge was issued.
    pub attempt: i32,
}

/// Why an answer is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No challenge or no solution came with the form (the page's script did not run).
    Missing,
    /// Not a challenge this server issues, or not a counter.
    Malformed,
    /// The MAC does not match: made up or changed.
    Forged,
    /// Issued for another payment request, or before the last attempt on this one.
    OtherAttempt,
    Expired,
    /// Issued with fewer zero bits than are asked for now.
    TooEasy,
    /// The counter does not give enough zero bits.
    Unsolved,
}

/// A new challenge for `bound`, valid for [`VALIDITY`] from `now`. `sign` is the server's MAC
/// of the text before it ([`MAC_LEN`] characters).
pub fn issue(
    bound: Bound<'_>,
    difficulty: u8,
    now: OffsetDateTime,
    sign: impl FnOnce(&str) -> String,
) -> String {
    let expires = (now + VALIDITY).unix_timestamp();
    let head = format!(
        "{VERSION}.{difficulty}.{}.{}.{expires}.",
        bound.request, bound.attempt
    );
    // head + nonce + "." + mac + ":" ends on a 64-byte block boundary.
    let fixed = head.len() + 1 + MAC_LEN + 1;
    let nonce_len = 16 + (64 - (fixed + 16) % 64) % 64;
    let body = format!("{head}{}", crate::id::random_base62(nonce_len));
    let mac = sign(&body);
    format!("{body}.{mac}")
}

/// Checks a solved challenge for `bound` at `now`, asking for at least `difficulty` zero bits.
/// `mac_valid(body, mac)` is the server's constant-time check of its MAC.
pub fn verify(
    challenge: &str,
    solution: &str,
    bound: Bound<'_>,
    difficulty: u8,
    now: OffsetDateTime,
    mac_valid: impl FnOnce(&str, &str) -> bool,
) -> Result<(), Refusal> {
    if challenge.is_empty() || solution.is_empty() {
        return Err(Refusal::Missing);
    }
    if challenge.len() > MAX_LEN
        || solution.len() > 20
        || !solution.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Refusal::Malformed);
    }
    let counter: u64 = solution.parse().map_err(|_| Refusal::Malformed)?;
    let (body, mac) = challenge.rsplit_once('.').ok_or(Refusal::Malformed)?;
    let fields: Vec<&str> = body.split('.').collect();
    let [version, issued_difficulty, request, attempt, expires, _nonce] = fields[..] else {
        return Err(Refusal::Malformed);
    };
    if version != VERSION {
        return Err(Refusal::Malformed);
    }
    let issued_difficulty: u8 = issued_difficulty.parse().map_err(|_| Refusal::Malformed)?;
    let attempt: i32 = attempt.parse().map_err(|_| Refusal::Malformed)?;
    let expires: i64 = expires.parse().map_err(|_| Refusal::Malformed)?;
    if !mac_valid(body, mac) {
        return Err(Refusal::Forged);
    }
    if request != bound.request.as_str() || attempt != bound.attempt {
        return Err(Refusal::OtherAttempt);
    }
    if now.unix_timestamp() >= expires {
        return Err(Refusal::Expired);
    }
    if issued_difficulty < difficulty {
        return Err(Refusal::TooEasy);
    }
    if !solves(challenge, counter, issued_difficulty) {
        return Err(Refusal::Unsolved);
    }
    Ok(())
}

/// Whether `counter` answers `challenge` with at least `difficulty` leading zero bits.
pub fn solves(challenge: &str, counter: u64, difficulty: u8) -> bool {
    let digest = Sha256::new()
        .chain_update(challenge.as_bytes())
        .chain_update(b":")
        .chain_update(counter.to_string().as_bytes())
        .finalize();
    leading_zero_bits(&digest) >= u32::from(difficulty)
}

/// The first counter that answers `challenge` (what the page's script does, for tests and
/// tools): about 2^difficulty hashes.
pub fn solve(challenge: &str, difficulty: u8) -> u64 {
    (0..)
        .find(|&counter| solves(challenge, counter, difficulty))
        .expect("some counter answers")
}

pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in digest {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const KEY: &str = "test key";

    fn sign(body: &str) -> String {
        // A stand-in MAC of the right length for the tests; the server uses HMAC-SHA256.
        let digest = Sha256::new()
            .chain_update(KEY)
            .chain_update(body)
            .finalize();
        hex::encode(&digest[..16])
    }

    fn valid(body: &str, mac: &str) -> bool {
        sign(body) == mac
    }

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

    fn issued(request: &PaymentRequestId, attempt: i32, difficulty: u8) -> String {
        issue(Bound { request, attempt }, difficulty, NOW, sign)
    }

    #[test]
    fn zero_bits_are_counted_from_the_first_byte() {
        assert_eq!(leading_zero_bits(&[0xff]), 0);
        assert_eq!(leading_zero_bits(&[0x01, 0xff]), 7);
        assert_eq!(leading_zero_bits(&[0x00, 0x80]), 8);
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x10]), 19);
        assert_eq!(leading_zero_bits(&[0; 32]), 256);
    }

    #[test]
    fn a_solved_challenge_passes_for_its_request_and_attempt() {
        let request = PaymentRequestId::generate();
        let challenge = issued(&request, 3, 8);
        assert!(challenge.starts_with("v1.8."), "{challenge}");
        // The challenge and ":" fill whole SHA-256 blocks.
        assert_eq!((challenge.len() + 1) % 64, 0, "{challenge}");
        let counter = solve(&challenge, 8);
        let bound = Bound {
            request: &request,
            attempt: 3,
        };
        let check = |c: &str, s: &str, bound: Bound<'_>, difficulty, now| {
            verify(c, s, bound, difficulty, now, valid)
        };
        let solution = counter.to_string();
        assert_eq!(check(&challenge, &solution, bound, 8, NOW), Ok(()));
        // Asking for fewer bits than it was issued with is fine; more is not.
        assert_eq!(check(&challenge, &solution, bound, 4, NOW), Ok(()));
        assert_eq!(
            check(&challenge, &solution, bound, 9, NOW),
            Err(Refusal::TooEasy)
        );
        // Still valid just before it expires, not at the end.
        assert_eq!(
            check(
                &challenge,
                &solution,
                bound,
                8,
                NOW + VALIDITY - time::Duration::SECOND
            ),
            Ok(())
        );
        assert_eq!(
            check(&challenge, &solution, bound, 8, NOW + VALIDITY),
            Err(Refusal::Expired)
        );
        // Another request, or the same one after another attempt.
        let other = PaymentRequestId::generate();
        assert_eq!(
            check(
                &challenge,
                &solution,
                Bound {
                    request: &other,
                    attempt: 3
                },
                8,
                NOW
            ),
            Err(Refusal::OtherAttempt)
        );
        assert_eq!(
            check(
                &challenge,
                &solution,
                Bound {
                    request: &request,
                    attempt: 4
                },
                8,
                NOW
            ),
            Err(Refusal::OtherAttempt)
        );
    }

    #[test]
    fn unsolved_forged_or_malformed_answers_are_refused() {
        let request = PaymentRequestId::generate();
        let bound = Bound {
            request: &request,
            attempt: 0,
        };
        let challenge = issued(&request, 0, 12);
        let counter = solve(&challenge, 12);
        let wrong = (0..)
            .find(|&c| !solves(&challenge, c, 12))
            .unwrap()
            .to_string();
        let check = |c: &str, s: &str| verify(c, s, bound, 12, NOW, valid);
        assert_eq!(check(&challenge, &wrong), Err(Refusal::Unsolved));
        assert_eq!(check("", "1"), Err(Refusal::Missing));
        assert_eq!(check(&challenge, ""), Err(Refusal::Missing));
        for bad in ["+1", "-1", "1.0", "0x10", "123456789012345678901", "１"] {
            assert_eq!(check(&challenge, bad), Err(Refusal::Malformed), "{bad}");
        }
        let solution = counter.to_string();
        for bad in [
            "v1",
            "garbage",
            "v2.12.pr_x.0.1.n.m",
            "v1.12.pr_x.0.1.n.m.extra",
            "v1.x.pr_x.0.1.n.m",
            &"v1.".repeat(200),
        ] {
            assert_eq!(check(bad, &solution), Err(Refusal::Malformed), "{bad}");
        }
        // A lower difficulty written into a signed challenge breaks its MAC.
        let easier = challenge.replacen(".12.", ".1.", 1);
        assert_eq!(check(&easier, "0"), Err(Refusal::Forged));
        let (body, _) = challenge.rsplit_once('.').unwrap();
        assert_eq!(
            check(&format!("{body}.{}", "0".repeat(MAC_LEN)), &solution),
            Err(Refusal::Forged)
        );
        // A challenge issued far ahead by a forger still needs the MAC.
        let later = issue(bound, 12, NOW + time::Duration::days(1), |_| {
            "f".repeat(MAC_LEN)
        });
        assert_eq!(check(&later, "0"), Err(Refusal::Forged));
    }
}

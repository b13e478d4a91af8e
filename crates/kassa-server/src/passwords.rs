//! Checking dashboard passwords without letting sign-ins take the memory (docs/api.md §8,
//! "password hashes computed at once"). Each Argon2id check needs its whole memory cost (19 MB
//! with the parameters Kassa hashes with); run on the blocking pool, every new thread's allocator
//! arena kept such a block, and 40 sign-ins at once took the process to several hundred MB.
//! Here a fixed set of threads — one per `limits.passwordHashes` slot — checks passwords, each
//! with one block of memory it keeps and reuses, so sign-ins cost at most that many blocks,
//! however many arrive. Callers wait for a slot (`Limits::password_hash_slot`) first.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use kassa_core::secret::Secret;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// The most memory one check may use (256 MiB), so a stored hash with absurd parameters cannot
/// make a checker allocate without bound.
const MAX_BLOCKS: usize = 256 * 1024;

/// One password to check, with the slot it holds until the check is done.
struct Check {
    password: Secret<String>,
    stored: String,
    answer: oneshot::Sender<bool>,
    _slot: OwnedSemaphorePermit,
}

/// The checking threads; they stop when this is dropped.
pub struct PasswordChecker {
    checks: SyncSender<Check>,
}

impl PasswordChecker {
    /// Starts `threads` checkers.
    pub fn start(threads: usize) -> PasswordChecker {
        let threads = threads.max(1);
        let (checks, queue) = sync_channel::<Check>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("kassa-password-{n}"))
                .spawn(move || check_until_closed(&queue))
                .expect("a password-checking thread starts");
        }
        PasswordChecker { checks }
    }

    /// Whether `password` matches the stored PHC hash (false for a malformed one). `slot` is
    /// held until the check is done, even if the caller goes away meanwhile.
    pub async fn verify(
        &self,
        password: Secret<String>,
        stored: String,
        slot: OwnedSemaphorePermit,
    ) -> bool {
        let (answer, answered) = oneshot::channel();
        let check = Check {
            password,
            stored,
            answer,
            _slot: slot,
        };
        // The queue holds as many checks as there are slots, so this never waits long; it
        // runs on the blocking pool all the same, as a full queue would block.
        let checks = self.checks.clone();
        let sent = tokio::task::spawn_blocking(move || checks.send(check).is_ok()).await;
        if !matches!(sent, Ok(true)) {
            return false;
        }
        answered.await.unwrap_or(false)
    }
}

fn check_until_closed(queue: &Mutex<Receiver<Check>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(check) = next else {
            return;
        };
        let Check {
            password,
            stored,
            answer,
            _slot: slot,
        } = check;
        let ok = verify_with(&mut memory, password.expose(), &stored);
        // Free the slot before answering, so the next caller finds it free; the caller may
        // have gone away meanwhile.
        drop(slot);
        let _ = answer.send(ok);
    }
}

/// Argon2's own verification, computed in `memory` (grown once to the hash's cost, then
/// reused), compared in constant time.
fn verify_with(memory: &mut Vec<Block>, password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..blocks],
    );
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_agree_with_argon2_and_reuse_memory() {
        let stored = crate::admin::hash_password("correct horse battery");
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, "correct horse battery", &stored));
        let grown = memory.len();
        assert!(grown > 0);
        assert!(!verify_with(&mut memory, "correct horse batterz", &stored));
        assert!(!verify_with(&mut memory, "", &stored));
        assert_eq!(memory.len(), grown, "the memory is reused, not grown again");
        assert!(!verify_with(&mut memory, "x", "not a hash"));
        assert!(!verify_with(
            &mut memory,
            "x",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"
        ));
        // Absurd parameters are refused rather than allocated.
        assert!(!verify_with(
            &mut memory,
            "x",
            "$argon2id$v=19$m=4000000,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$2WRr6yQ3Bq6W7dy8j3rE0Q2Zr6lN2YbqkXyI9e2c3o0"
        ));
    }

    #[tokio::test]
    async fn the_checker_answers_and_frees_its_slot() {
        let checker = PasswordChecker::start(2);
        let slots = Arc::new(tokio::sync::Semaphore::new(2));
        let stored = crate::admin::hash_password("correct horse battery");
        for (password, expected) in [("correct horse battery", true), ("wrong", false)] {
            let slot = Arc::clone(&slots).acquire_owned().await.unwrap();
            let ok = checker
                .verify(Secret::new(password.into()), stored.clone(), slot)
                .await;
            assert_eq!(ok, expected, "{password}");
        }
        assert_eq!(slots.available_permits(), 2);
    }
}

//! What every API request reads first — the partner behind its API key — kept in memory for at
//! most [`TTL`], so a busy API does not pay a database round trip for it on every request.
//!
//! - This store's own changes (revoking a key, new partner settings) empty the cache when they
//!   commit: through this instance they take effect at once.
//! - Changes made by another process (the `kassa` CLI on the same SQLite file, another
//!   instance on the same PostgreSQL) are seen within [`TTL`].
//! - A partner carries its link secret sealed (`Partner::link_secret`), so the cache holds no
//!   secret in clear; it is opened with the vault key only where a link is signed or checked.
//! - Nothing that prices a payment is kept: tax rates and fees are read fresh every time, so a
//!   rate set from the CLI applies to the very next sale.
//! - Only found keys are kept: an unknown or revoked key is looked up every time, so a key
//!   made anywhere works at once.
//! - A lookup that started before an invalidation never stores what it read (the generation
//!   check), so an old answer cannot outlive the change that replaced it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::{KeyHolder, Partner};

/// How long a read is trusted: the longest a change made by another process goes unseen.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// Past this many entries a map is emptied before the next insert (expired entries are only
/// ever replaced, never swept), which bounds memory whatever keys are presented.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    generation: AtomicU64,
    api_keys: Map<String, (Partner, KeyHolder)>,
}

impl ReadCache {
    /// Read before the database lookup whose answer may be stored with [`Self::put_api_key`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn api_key(&self, key_hash: &str) -> Option<(Partner, KeyHolder)> {
        self.api_keys.get(key_hash)
    }

    pub(crate) fn put_api_key(
        &self,
        generation: u64,
        key_hash: &str,
        found: &(Partner, KeyHolder),
    ) {
        self.api_keys.put(
            &self.generation,
            generation,
            key_hash.to_string(),
            found.clone(),
        );
    }

    /// Forgets everything; called after a change to keys or partners commits.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.api_keys.clear();
    }

    /// Take before committing a change to keys or partners: [`Self::invalidate`]s
    /// when dropped, after the commit returns — or, if the caller goes away while the commit is
    /// in flight (the write still lands), then; an old value read in the moment between is
    /// kept for [`TTL`] at most.
    pub(crate) fn forget_on_drop(&self) -> ForgetOnDrop<'_> {
        ForgetOnDrop(self)
    }
}

pub(crate) struct ForgetOnDrop<'a>(&'a ReadCache);

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

#[derive(Debug)]
struct Map<K, V>(Mutex<HashMap<K, (Instant, V)>>);

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash, V: Clone> Map<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, current: &AtomicU64, read_at: u64, key: K, value: V) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock: `invalidate` bumps the generation before it takes the lock
        // to clear, so either this sees the new generation or the clear removes this entry.
        if current.load(Ordering::Acquire) != read_at {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (Instant::now(), value));
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> (AtomicU64, Map<String, u32>) {
        (AtomicU64::new(0), Map::default())
    }

    #[test]
    fn keeps_what_was_read_until_cleared() {
        let (generation, map) = map();
        assert_eq!(map.get("k"), None);
        map.put(&generation, 0, "k".into(), 7);
        assert_eq!(map.get("k"), Some(7));
        map.clear();
        assert_eq!(map.get("k"), None);
    }

    #[test]
    fn a_read_from_before_an_invalidation_is_not_kept() {
        let cache = ReadCache::default();
        let (_, map) = map();
        let read_at = cache.generation();
        // A change commits while the lookup is in flight…
        cache.invalidate();
        // …so what the lookup read may be the old value, and must not be kept.
        map.put(&cache.generation, read_at, "k".into(), 7);
        assert_eq!(map.get("k"), None);
        map.put(&cache.generation, cache.generation(), "k".into(), 7);
        assert_eq!(map.get("k"), Some(7));
    }

    #[test]
    fn forgetting_on_drop_invalidates() {
        let cache = ReadCache::default();
        let before = cache.generation();
        drop(cache.forget_on_drop());
        assert_ne!(cache.generation(), before);
    }

    #[test]
    fn forgets_after_the_time_to_live() {
        let (_, map) = map();
        let Some(long_ago) = Instant::now().checked_sub(TTL) else {
            return; // the machine started less than a second ago: nothing to backdate to
        };
        map.0.lock().unwrap().insert("k".into(), (long_ago, 7));
        assert_eq!(map.get("k"), None);
    }

    #[test]
    fn stays_bounded() {
        let (generation, map) = map();
        for i in 0..MAX_ENTRIES + 5 {
            map.put(&generation, 0, format!("k{i}"), 1);
        }
        let len = map.0.lock().unwrap().len();
        assert!(len <= MAX_ENTRIES, "{len} entries");
        assert_eq!(map.get(&format!("k{}", MAX_ENTRIES + 4)), Some(1));
    }
}

//! What nearly every API request reads — the partner behind an API key, and the partner's tax
//! rates — kept in memory for at most [`TTL`], so a busy API does not pay a database round trip
//! for them on every request.
//!
//! - This store's own changes (revoking a key, new settings, a new tax rate) empty the cache
//!   when they commit: through this instance they take effect at once.
//! - Changes made by another process (the `kassa` CLI on the same SQLite file, another
//!   instance on the same PostgreSQL) are seen within [`TTL`].
//! - Only found keys are kept: an unknown or revoked key is looked up every time, so a key
//!   made anywhere works at once.
//! - A lookup that started before an invalidation never stores what it read (the generation
//!   check), so an old answer cannot outlive the change that replaced it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kassa_core::id::{ApiKeyId, PartnerId};
use kassa_core::invoice::TaxRates;

use crate::model::Partner;

/// How long a read is trusted: the longest a change made by another process goes unseen.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// Past this many entries a map is emptied before the next insert (expired entries are only
/// ever replaced, never swept), which bounds memory whatever keys are presented.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    generation: AtomicU64,
    api_keys: Map<String, (Partner, ApiKeyId)>,
    tax_rates: Map<PartnerId, TaxRates>,
}

impl ReadCache {
    /// Read before the database lookup whose answer may be stored with [`Self::put_api_key`]
    /// or [`Self::put_tax_rates`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn api_key(&self, key_hash: &str) -> Option<(Partner, ApiKeyId)> {
        self.api_keys.get(key_hash)
    }

    pub(crate) fn put_api_key(&self, generation: u64, key_hash: &str, found: &(Partner, ApiKeyId)) {
        self.api_keys.put(
            &self.generation,
            generation,
            key_hash.to_string(),
            found.clone(),
        );
    }

    pub(crate) fn tax_rates(&self, partner: &PartnerId) -> Option<TaxRates> {
        self.tax_rates.get(partner)
    }

    pub(crate) fn put_tax_rates(&self, generation: u64, partner: &PartnerId, rates: &TaxRates) {
        self.tax_rates
            .put(&self.generation, generation, partner.clone(), rates.clone());
    }

    /// Forgets everything; called after a change to keys, partners or tax rates commits.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.api_keys.clear();
        self.tax_rates.clear();
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
    use kassa_core::invoice::TaxRate;

    fn rates() -> TaxRates {
        [("VAT".to_string(), TaxRate::from_e4(2000))]
            .into_iter()
            .collect()
    }

    #[test]
    fn keeps_what_was_read_until_invalidated() {
        let cache = ReadCache::default();
        let partner = PartnerId::from_trusted("ptr_1".into());
        assert_eq!(cache.tax_rates(&partner), None);
        let generation = cache.generation();
        cache.put_tax_rates(generation, &partner, &rates());
        assert_eq!(cache.tax_rates(&partner), Some(rates()));
        cache.invalidate();
        assert_eq!(cache.tax_rates(&partner), None);
    }

    #[test]
    fn a_read_from_before_an_invalidation_is_not_kept() {
        let cache = ReadCache::default();
        let partner = PartnerId::from_trusted("ptr_1".into());
        let generation = cache.generation();
        // A change commits while the lookup is in flight…
        cache.invalidate();
        // …so what the lookup read may be the old value, and must not be kept.
        cache.put_tax_rates(generation, &partner, &rates());
        assert_eq!(cache.tax_rates(&partner), None);
        let generation = cache.generation();
        cache.put_tax_rates(generation, &partner, &rates());
        assert_eq!(cache.tax_rates(&partner), Some(rates()));
    }

    #[test]
    fn forgets_after_the_time_to_live() {
        let cache = ReadCache::default();
        let partner = PartnerId::from_trusted("ptr_1".into());
        let Some(long_ago) = Instant::now().checked_sub(TTL) else {
            return; // the machine started less than a second ago: nothing to backdate to
        };
        cache
            .tax_rates
            .0
            .lock()
            .unwrap()
            .insert(partner.clone(), (long_ago, rates()));
        assert_eq!(cache.tax_rates(&partner), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = ReadCache::default();
        let generation = cache.generation();
        for i in 0..MAX_ENTRIES + 5 {
            let partner = PartnerId::from_trusted(format!("ptr_{i}"));
            cache.put_tax_rates(generation, &partner, &TaxRates::new());
        }
        let len = cache.tax_rates.0.lock().unwrap().len();
        assert!(len <= MAX_ENTRIES, "{len} entries");
        assert!(cache
            .tax_rates(&PartnerId::from_trusted(format!("ptr_{}", MAX_ENTRIES + 4)))
            .is_some());
    }
}

//! Abuse-limit counters shared by every instance on this database (docs/api.md §8): failed
//! authentications, unsigned creation links, declines, sign-in failures. Each limited thing is
//! one row holding its bucket's theoretical arrival time; [`kassa_core::limit::admit`] is the
//! rule, and the upsert below applies it atomically, so concurrent events count as they arrive
//! (30 simultaneous wrong passwords: 5 are let through, on either backend).

use async_trait::async_trait;
use kassa_core::clock::to_micros;
use kassa_core::limit::{admit, Admission, Rate};
use time::OffsetDateTime;

use crate::db::{query, query_scalar, Backend, Conn, WriteTx as _};
use crate::Result;

/// One limit an event counts against: its key (a keyed digest naming the limit and the thing)
/// and its rate.
#[derive(Debug, Clone, Copy)]
pub struct LimitKey<'a> {
    pub key: &'a str,
    pub rate: Rate,
}

#[async_trait]
pub trait LimitStore {
    /// Counts one event against every limit in `limits`, all or none: when each admits it, each
    /// is counted and the answer is `None`; otherwise nothing is counted and the answer is how
    /// long (µs) until the refusing limits would all admit one more.
    async fn limit_take(&self, limits: &[LimitKey<'_>], now: OffsetDateTime)
        -> Result<Option<i64>>;
    /// Gives one event back to each limit (it turned out not to count: a correct password, an
    /// approved payment).
    async fn limit_give_back(&self, limits: &[LimitKey<'_>], now: OffsetDateTime) -> Result<()>;
    /// Forgets the buckets that are empty again.
    async fn purge_limits(&self, now: OffsetDateTime) -> Result<u64>;
}

/// `kassa_core::limit::admit` as one statement: the row's TAT moves to `max(tat, now) +
/// interval` only if that stays within the tolerance; no row comes back when it does not.
const TAKE: &str = "INSERT INTO limit_counters (limit_key, tat) VALUES ($1, $2 + $3) \
     ON CONFLICT (limit_key) DO UPDATE \
     SET tat = (CASE WHEN limit_counters.tat > $2 THEN limit_counters.tat ELSE $2 END) + $3 \
     WHERE (CASE WHEN limit_counters.tat > $2 THEN limit_counters.tat ELSE $2 END) + $3 - $2 <= $4 \
     RETURNING tat";

async fn tat_of(conn: &mut impl Conn, key: &str) -> Result<Option<i64>> {
    query_scalar("SELECT tat FROM limit_counters WHERE limit_key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await
}

#[async_trait]
impl<B: Backend> LimitStore for B {
    async fn limit_take(
        &self,
        limits: &[LimitKey<'_>],
        now: OffsetDateTime,
    ) -> Result<Option<i64>> {
        let now = to_micros(now);
        let mut tx = self.begin_write().await?;
        let mut refused: Option<i64> = None;
        for limit in limits {
            let counted = query(TAKE)
                .bind(limit.key)
                .bind(now)
                .bind(limit.rate.interval_micros())
                .bind(limit.rate.tolerance_micros())
                .fetch_optional(&mut tx)
                .await?
                .is_some();
            if !counted {
                let tat = tat_of(&mut tx, limit.key).await?;
                let wait = match admit(&limit.rate, tat, now) {
                    Admission::Refused { retry_after_micros } => retry_after_micros,
                    // Emptied between the two statements: cannot happen inside one
                    // transaction, but a wait of a moment is the honest answer if it did.
                    Admission::Admitted { .. } => 1,
                };
                refused = Some(refused.map_or(wait, |w| w.max(wait)));
            }
        }
        if refused.is_some() {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(refused)
    }

    async fn limit_give_back(&self, limits: &[LimitKey<'_>], now: OffsetDateTime) -> Result<()> {
        let now = to_micros(now);
        let mut tx = self.begin_write().await?;
        for limit in limits {
            query(
                "UPDATE limit_counters SET tat = CASE WHEN tat - $2 > $3 THEN tat - $2 ELSE $3 END \
                 WHERE limit_key = $1",
            )
            .bind(limit.key)
            .bind(limit.rate.interval_micros())
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn purge_limits(&self, now: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = query("DELETE FROM limit_counters WHERE tat < $1")
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

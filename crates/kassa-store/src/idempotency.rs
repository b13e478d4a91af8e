//! Idempotency keys: the first request under a key runs, a retry gets its stored answer.

use async_trait::async_trait;
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::PartnerId;
use time::OffsetDateTime;

use crate::columns::*;
use crate::db::{query, Backend, WriteTx as _};
use crate::model::*;
use crate::Result;

#[async_trait]
pub trait IdempotencyStore {
    async fn idempotency_begin(
        &self,
        partner: &PartnerId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
        policy: &IdempotencyPolicy,
    ) -> Result<IdempotencyBegin>;
    async fn idempotency_finish(
        &self,
        partner: &PartnerId,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()>;
    /// Forgets a key whose request stored nothing (validation failed, or the server failed).
    async fn idempotency_release(&self, partner: &PartnerId, key: &str) -> Result<()>;
    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64>;
}

#[async_trait]
impl<B: Backend> IdempotencyStore for B {
    async fn idempotency_begin(
        &self,
        partner: &PartnerId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
        policy: &IdempotencyPolicy,
    ) -> Result<IdempotencyBegin> {
        let mut tx = self.begin_write().await?;
        let inserted = query(
            "INSERT INTO idempotency_keys (partner_id, idem_key, request_hash, state, created_at) \
             VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT (partner_id, idem_key) DO NOTHING",
        )
        .bind(partner.as_str())
        .bind(key)
        .bind(request_hash)
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            tx.commit().await?;
            return Ok(IdempotencyBegin::Started);
        }
        let row = query(
            "SELECT request_hash, state, response_status, response_body, created_at FROM idempotency_keys \
             WHERE partner_id = $1 AND idem_key = $2",
        )
        .bind(partner.as_str())
        .bind(key)
        .fetch_one(&mut tx)
        .await?;
        let stored_hash: String = row.try_get("request_hash")?;
        let state: String = row.try_get("state")?;
        let created_at: i64 = row.try_get("created_at")?;
        let expired = from_micros(created_at) < now - policy.retention;
        let abandoned =
            state == "in_progress" && from_micros(created_at) < now - policy.abandon_after;
        let outcome = if expired || (abandoned && stored_hash == request_hash) {
            // Take the key over; the condition on created_at makes only one taker win.
            let taken = query(
                "UPDATE idempotency_keys SET request_hash = $3, state = 'in_progress', response_status = NULL, \
                 response_body = NULL, created_at = $4 WHERE partner_id = $1 AND idem_key = $2 AND created_at = $5",
            )
            .bind(partner.as_str())
            .bind(key)
            .bind(request_hash)
            .bind(to_micros(now))
            .bind(created_at)
            .execute(&mut tx)
            .await?
            .rows_affected()
                == 1;
            if taken {
                IdempotencyBegin::Started
            } else {
                IdempotencyBegin::InProgress
            }
        } else if stored_hash != request_hash {
            IdempotencyBegin::Mismatch
        } else if state == "in_progress" {
            IdempotencyBegin::InProgress
        } else {
            let status: Option<i32> = row.try_get("response_status")?;
            let body: Option<String> = row.try_get("response_body")?;
            IdempotencyBegin::Replay {
                status: status
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| bad("idempotent status"))?,
                body: body.unwrap_or_default(),
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn idempotency_finish(
        &self,
        partner: &PartnerId,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query(
            "UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4 \
             WHERE partner_id = $1 AND idem_key = $2",
        )
        .bind(partner.as_str())
        .bind(key)
        .bind(i32::from(status))
        .bind(body)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn idempotency_release(&self, partner: &PartnerId, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query("DELETE FROM idempotency_keys WHERE partner_id = $1 AND idem_key = $2 AND state = 'in_progress'")
            .bind(partner.as_str())
            .bind(key)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let res = query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(to_micros(created_before))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }
}

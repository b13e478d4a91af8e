//! Refunds: reserved against their payment with one conditional update, then settled by the
//! processor's answer.

use async_trait::async_trait;
use kassa_core::audit::{Action, Actor, ActorKind, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::{PartnerId, PaymentId, PayoutId, RefundId};
use kassa_core::money::Money;
use kassa_core::refund::{check_refund, refundable, RefundError};
use kassa_core::refund::{Refund, RefundStatus};
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Row, WriteTx as _};
use crate::model::*;
use crate::paging::*;
use crate::Result;
use crate::{attempts::*, events::*, ledger::*};

#[async_trait]
pub trait RefundStore {
    /// Reserves a refund against the payment with one conditional update (never more than the
    /// captured amount, also under concurrency) and records it pending, in one transaction.
    async fn begin_refund(
        &self,
        partner: &PartnerId,
        payment: &PaymentId,
        new: &NewRefund,
        by: &Caller,
    ) -> Result<RefundBegin>;
    /// Records the processor's answer: a success posts the refund to the ledger; a failure gives
    /// the reserved amount back. `AlreadyRecorded` if it was recorded already.
    async fn finish_refund(
        &self,
        partner: &PartnerId,
        refund: &RefundId,
        result: &RefundResult,
        reference: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Refund>;
    async fn refund(&self, partner: &PartnerId, id: &RefundId) -> Result<Option<Refund>>;
    async fn list_refunds(
        &self,
        partner: &PartnerId,
        filter: &RefundFilter,
        page: &PageRequest,
    ) -> Result<Page<Refund>>;
    /// Refunds still waiting for the processor's answer that started before `started_before`.
    async fn abandoned_refunds(&self, started_before: OffsetDateTime) -> Result<Vec<Refund>>;
}

#[async_trait]
impl<B: Backend> RefundStore for B {
    async fn begin_refund(
        &self,
        partner: &PartnerId,
        payment_id: &PaymentId,
        new: &NewRefund,
        by: &Caller,
    ) -> Result<RefundBegin> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        if let Some(key) = new.idempotency_key.as_deref() {
            let row = query(concat!(
                "SELECT ",
                crate::columns::refund_cols!(),
                " FROM refunds WHERE partner_id = $1 AND idempotency_key = $2"
            ))
            .bind(partner.as_str())
            .bind(key)
            .fetch_optional(&mut tx)
            .await?;
            if let Some(row) = row {
                tx.rollback().await?;
                return Ok(RefundBegin::Existing(refund_from_row(&row)?));
            }
        }
        // The one atomic change: reserve the amount while at most what is left is asked. This
        // is `kassa_core::refund::check_refund` (and its status is `status_after_refunds`)
        // written as one conditional update, so two refunds at once cannot both pass it.
        let reserved = query(concat!(
            "UPDATE payments SET refunded_amount = refunded_amount + COALESCE($3, captured_amount - refunded_amount), \
             status = CASE WHEN refunded_amount + COALESCE($3, captured_amount - refunded_amount) = captured_amount \
                           THEN 'refunded' ELSE 'partially_refunded' END \
             WHERE partner_id = $1 AND id = $2 AND status IN ('completed', 'partially_refunded') \
             AND captured_amount - refunded_amount >= COALESCE($3, captured_amount - refunded_amount) \
             AND COALESCE($3, captured_amount - refunded_amount) > 0 RETURNING ", crate::columns::payment_cols!()
        ))
        .bind(partner.as_str())
        .bind(payment_id.as_str())
        .bind(new.amount.map(|m| m.minor()))
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = reserved else {
            let row = query(concat!(
                "SELECT ",
                crate::columns::payment_cols!(),
                " FROM payments WHERE partner_id = $1 AND id = $2"
            ))
            .bind(partner.as_str())
            .bind(payment_id.as_str())
            .fetch_optional(&mut tx)
            .await?;
            tx.rollback().await?;
            return Ok(match row.as_ref().map(payment_from_row).transpose()? {
                None => RefundBegin::NotFound,
                Some(p) => match check_refund(&p, new.amount) {
                    Err(RefundError::NotSettled) => RefundBegin::NotSettled(p),
                    Err(RefundError::ExceedsAvailable { available }) => {
                        RefundBegin::ExceedsAvailable {
                            available,
                            payment: p,
                        }
                    }
                    // Allowed by the row as read now: another refund changed it between the
                    // update and this read; what is left is all the caller can learn.
                    Ok(_) => RefundBegin::ExceedsAvailable {
                        available: refundable(&p),
                        payment: p,
                    },
                },
            });
        };
        let payment = payment_from_row(&row)?;
        // What this refund reserved: the difference the update made.
        let amount = match new.amount {
            Some(m) => m.minor(),
            None => {
                let before: i64 = query_scalar(
                    "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE payment_id = $1 AND status <> 'failed'",
                )
                .bind(payment_id.as_str())
                .fetch_one(&mut tx)
                .await?;
                payment.refunded_amount.minor() - before
            }
        };
        let row = query(concat!(
            "INSERT INTO refunds (id, partner_id, payment_id, amount, currency, status, reason, awaiting_processor, \
             idempotency_key, created_at, updated_at, created_by_type, created_by_id, created_by_name, processor) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, TRUE, $7, $8, $8, $9, $10, $11, \
             (SELECT processor FROM payments WHERE id = $3)) \
             RETURNING ", crate::columns::refund_cols!()
        ))
        .bind(new.id.as_str())
        .bind(partner.as_str())
        .bind(payment_id.as_str())
        .bind(amount)
        .bind(payment.currency.as_str())
        .bind(new.reason.as_deref())
        .bind(new.idempotency_key.as_deref())
        .bind(to_micros(now))
        .bind(by.actor.kind.as_str())
        .bind(by.actor.id.as_str())
        .bind(by.actor.name.as_str())
        .fetch_one(&mut tx)
        .await?;
        let refund = refund_from_row(&row)?;
        let entry = Entry::succeeded(Action::RefundCreated, refund.id.as_str()).with_details(
            serde_json::json!({"paymentId": payment_id.as_str(), "amount": refund.amount.to_string()}),
        );
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(RefundBegin::Started { refund, payment })
    }

    async fn finish_refund(
        &self,
        partner: &PartnerId,
        refund_id: &RefundId,
        result: &RefundResult,
        reference: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Refund> {
        let mut tx = self.begin_write().await?;
        let status = match result {
            RefundResult::Succeeded => "succeeded",
            RefundResult::Failed { .. } => "failed",
        };
        let failure = result.failure();
        let row = query(concat!(
            "UPDATE refunds SET status = $3, failure_code = $4, failure_message = $5, awaiting_processor = FALSE, updated_at = $6, \
             processor_reference = COALESCE($7, processor_reference) WHERE partner_id = $1 AND id = $2 AND awaiting_processor RETURNING ", crate::columns::refund_cols!()
        ))
        .bind(partner.as_str())
        .bind(refund_id.as_str())
        .bind(status)
        .bind(failure.as_ref().map(|f| f.code.as_str()))
        .bind(failure.as_ref().map(|f| f.message.as_str()))
        .bind(to_micros(now))
        .bind(reference)
        .fetch_optional(&mut tx)
        .await?;
        let refund = refund_from_row(&row.ok_or(crate::StoreError::AlreadyRecorded)?)?;
        let effects = kassa_core::effects::refund_finished(&refund, result);
        let postings: Vec<_> = effects.postings.iter().collect();
        post_all(&mut tx, partner, refund.currency, &postings, now).await?;
        if let Some(event) = effects.event {
            insert_event(&mut tx, partner, event, &refund, now).await?;
        }
        if let Some(amount) = effects.give_back {
            // The reserved amount goes back to the payment.
            query(
                "UPDATE payments SET refunded_amount = refunded_amount - $3, \
                 status = CASE WHEN refunded_amount - $3 = 0 THEN 'completed' ELSE 'partially_refunded' END \
                 WHERE partner_id = $1 AND id = $2",
            )
            .bind(partner.as_str())
            .bind(refund.payment_id.as_str())
            .bind(amount.minor())
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(refund)
    }

    async fn refund(&self, partner: &PartnerId, id: &RefundId) -> Result<Option<Refund>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::refund_cols!(),
            " FROM refunds WHERE partner_id = $1 AND id = $2"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(refund_from_row).transpose()
    }

    async fn list_refunds(
        &self,
        partner: &PartnerId,
        filter: &RefundFilter,
        page: &PageRequest,
    ) -> Result<Page<Refund>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM refunds WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let rows = query(concat!(
            "SELECT ", crate::columns::refund_cols!(), " FROM refunds WHERE partner_id = $1 \
             AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR payment_id = $4) ORDER BY seq DESC LIMIT $3"
        ))
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .bind(filter.payment_id.as_ref().map(|p| p.as_str()))
        .fetch_all(&mut self.reader())
        .await?;
        page_of(&rows, page, refund_from_row)
    }

    async fn abandoned_refunds(&self, started_before: OffsetDateTime) -> Result<Vec<Refund>> {
        let rows = query(concat!(
            "SELECT ",
            crate::columns::refund_cols!(),
            " FROM refunds WHERE awaiting_processor AND created_at < $1 \
             ORDER BY created_at LIMIT 100"
        ))
        .bind(to_micros(started_before))
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter().map(refund_from_row).collect()
    }
}

pub(crate) fn refund_from_row(row: &Row) -> Result<Refund> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    Ok(Refund {
        id: RefundId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        payment_id: PaymentId::from_trusted(row.try_get("payment_id")?),
        amount: Money::new(row.try_get("amount")?, currency),
        currency,
        status: RefundStatus::parse_str(&status).ok_or_else(|| bad("refund status"))?,
        reason: row.try_get("reason")?,
        failure_code: row.try_get("failure_code")?,
        failure_message: row.try_get("failure_message")?,
        processor: crate::columns::processor_from_row(row)?,
        created_at: from_micros(row.try_get("created_at")?),
        payout_id: row
            .try_get::<Option<String>, _>("payout_id")?
            .map(PayoutId::from_trusted),
        created_by: actor_of(row)?,
    })
}

/// Who made the refund; None for refunds made before Kassa recorded it.
fn actor_of(row: &Row) -> Result<Option<Actor>> {
    let kind: Option<String> = row.try_get("created_by_type")?;
    let Some(kind) = kind else { return Ok(None) };
    Ok(Some(Actor {
        kind: ActorKind::parse(&kind).ok_or_else(|| bad("refund creator"))?,
        id: row
            .try_get::<Option<String>, _>("created_by_id")?
            .unwrap_or_default(),
        name: row
            .try_get::<Option<String>, _>("created_by_name")?
            .unwrap_or_default(),
    }))
}

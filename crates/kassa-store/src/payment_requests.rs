//! Payment requests: created once per reference, listed, canceled and expired. Paying one is an
//! attempt (`attempts.rs`).

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::effects::RequestTransition;
use kassa_core::email::Email;
use kassa_core::event::EventType;
use kassa_core::id::{PartnerId, PaymentId, PaymentRequestId};
use kassa_core::money::Money;
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};
use kassa_core::reference::ReferenceId;
use kassa_core::url::RedirectUrl;
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{like_contains, query, Backend, Batch, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::paging::*;
use crate::Result;
use crate::{events::*, jobs::*};

#[async_trait]
pub trait PaymentRequestStore {
    /// Creates the request unless the partner already has one with this reference, atomically.
    async fn create_payment_request(
        &self,
        new: &PaymentRequestRecord,
        by: &Caller,
    ) -> Result<CreateOutcome>;
    async fn payment_request(
        &self,
        partner: &PartnerId,
        id: &PaymentRequestId,
    ) -> Result<Option<kassa_core::payment_request::PaymentRequest>>;
    async fn list_payment_requests(
        &self,
        partner: &PartnerId,
        filter: &PaymentRequestFilter,
        page: &PageRequest,
    ) -> Result<Page<kassa_core::payment_request::PaymentRequest>>;
    async fn cancel_payment_request(
        &self,
        partner: &PartnerId,
        id: &PaymentRequestId,
        by: &Caller,
    ) -> Result<CancelOutcome>;
    /// Records an open request as expired once its deadline has passed (and no attempt is in flight).
    async fn expire_payment_request(
        &self,
        id: &PaymentRequestId,
        now: OffsetDateTime,
    ) -> Result<bool>;
}

#[async_trait]
impl<B: Backend> PaymentRequestStore for B {
    async fn create_payment_request(
        &self,
        pr: &PaymentRequestRecord,
        by: &Caller,
    ) -> Result<CreateOutcome> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let metadata = serde_json::to_string(&pr.metadata).map_err(|_| bad("metadata"))?;
        let inserted = query(
            "INSERT INTO payment_requests (id, partner_id, reference_id, amount, currency, status, url, \
             redirect_url, description, payer_email, metadata, created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $11, $12) \
             ON CONFLICT (partner_id, reference_id) DO NOTHING",
        )
        .bind(pr.id.as_str())
        .bind(pr.partner_id.as_str())
        .bind(pr.reference_id.as_str())
        .bind(pr.amount.minor())
        .bind(pr.currency.as_str())
        .bind(&pr.url)
        .bind(pr.redirect_url.as_ref().map(|u| u.as_str()))
        .bind(pr.description.as_deref())
        .bind(pr.payer_email.as_ref().map(|e| e.as_str()))
        .bind(metadata)
        .bind(to_micros(pr.created_at))
        .bind(micros(pr.expires_at))
        .execute(&mut tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let created = pr_in_tx(&mut tx, &pr.partner_id, &pr.id)
                .await?
                .ok_or_else(|| bad("inserted request"))?;
            let effects = kassa_core::effects::payment_request_created(&created);
            insert_event(&mut tx, &pr.partner_id, effects.event, &created, now).await?;
            if let Some(job) = &effects.job {
                insert_job(&mut tx, &NewJob::from(job), now).await?;
            }
            let entry = Entry::succeeded(Action::PaymentRequestCreated, created.id.as_str())
                .with_details(serde_json::json!({
                    "referenceId": created.reference_id.as_str(),
                    "amount": created.amount.to_string(),
                }));
            append(&mut tx, Some(&pr.partner_id), by, &entry).await?;
            tx.commit().await?;
            return Ok(CreateOutcome::Created(created));
        }
        let row = query(concat!(
            "SELECT ",
            crate::columns::pr_cols!(),
            " FROM payment_requests WHERE partner_id = $1 AND reference_id = $2"
        ))
        .bind(pr.partner_id.as_str())
        .bind(pr.reference_id.as_str())
        .fetch_one(&mut tx)
        .await?;
        tx.commit().await?;
        let existing = pr_from_row(&row)?;
        if existing.amount == pr.amount {
            Ok(CreateOutcome::Existing(existing))
        } else {
            Ok(CreateOutcome::Conflict(existing))
        }
    }

    async fn payment_request(
        &self,
        partner: &PartnerId,
        id: &PaymentRequestId,
    ) -> Result<Option<PaymentRequest>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::pr_cols!(),
            " FROM payment_requests WHERE partner_id = $1 AND id = $2"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(pr_from_row).transpose()
    }

    async fn list_payment_requests(
        &self,
        partner: &PartnerId,
        filter: &PaymentRequestFilter,
        page: &PageRequest,
    ) -> Result<Page<PaymentRequest>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM payment_requests WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let rows = query(concat!(
            "SELECT ", crate::columns::pr_cols!(), " FROM payment_requests WHERE partner_id = $1 \
             AND ($2 IS NULL OR seq < $2) \
             AND ($4 IS NULL OR (CASE WHEN status = 'open' AND expires_at <= $6 THEN 'expired' ELSE status END) = $4) \
             AND ($5 IS NULL OR reference_id = $5) \
             AND ($7 IS NULL OR LOWER(reference_id) LIKE $7 ESCAPE '\\') ORDER BY seq DESC LIMIT $3"
        ))
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.reference_id.as_deref())
        .bind(filter.as_of.map(to_micros).unwrap_or(i64::MIN))
        .bind(filter.reference_contains.as_deref().map(like_contains))
        .fetch_all(&mut self.reader())
        .await?;
        page_of(&rows, page, pr_from_row)
    }

    async fn cancel_payment_request(
        &self,
        partner: &PartnerId,
        id: &PaymentRequestId,
        by: &Caller,
    ) -> Result<CancelOutcome> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let row = query(concat!(
            "UPDATE payment_requests SET status = 'canceled', canceled_at = $3, updated_at = $3 \
             WHERE partner_id = $1 AND id = $2 AND status = 'open' AND attempt_payment_id IS NULL \
             AND (expires_at IS NULL OR expires_at > $3) RETURNING ",
            crate::columns::pr_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        let outcome = match row {
            Some(row) => {
                let pr = pr_from_row(&row)?;
                insert_event(
                    &mut tx,
                    partner,
                    EventType::PaymentRequestCanceled,
                    &pr,
                    now,
                )
                .await?;
                let entry = Entry::succeeded(Action::PaymentRequestCanceled, pr.id.as_str());
                append(&mut tx, Some(partner), by, &entry).await?;
                CancelOutcome::Canceled(pr)
            }
            None => match pr_in_tx(&mut tx, partner, id).await? {
                None => CancelOutcome::NotFound,
                Some(pr) if pr.attempt_payment_id.is_some() => CancelOutcome::InProgress(pr),
                Some(pr) => CancelOutcome::NotOpen(pr.seen_at(now)),
            },
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn expire_payment_request(
        &self,
        id: &PaymentRequestId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let res = query(
            "UPDATE payment_requests SET status = 'expired', updated_at = $2 WHERE id = $1 AND status = 'open' \
             AND attempt_payment_id IS NULL AND expires_at IS NOT NULL AND expires_at <= $2",
        )
        .bind(id.as_str())
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }
}

pub(crate) fn pr_from_row(row: &Row) -> Result<PaymentRequest> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(PaymentRequest {
        id: PaymentRequestId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        reference_id: ReferenceId::from_trusted(row.try_get("reference_id")?),
        amount: Money::new(row.try_get("amount")?, currency),
        currency,
        status: PaymentRequestStatus::parse_str(&status)
            .ok_or_else(|| bad("payment request status"))?,
        url: row.try_get("url")?,
        redirect_url: row
            .try_get::<Option<String>, _>("redirect_url")?
            .map(RedirectUrl::from_trusted),
        description: row.try_get("description")?,
        payer_email: row
            .try_get::<Option<String>, _>("payer_email")?
            .map(Email::from_trusted),
        metadata: serde_json::from_str(&metadata).map_err(|_| bad("metadata"))?,
        created_at: from_micros(row.try_get("created_at")?),
        completed_at: time_opt(row.try_get("completed_at")?),
        expires_at: time_opt(row.try_get("expires_at")?),
        payment_id: row
            .try_get::<Option<String>, _>("payment_id")?
            .map(PaymentId::from_trusted),
        attempt_count: row.try_get("attempt_count")?,
        attempt_payment_id: row
            .try_get::<Option<String>, _>("attempt_payment_id")?
            .map(PaymentId::from_trusted),
    })
}

pub(crate) async fn pr_in_tx(
    tx: &mut dyn Conn,
    partner: &PartnerId,
    id: &PaymentRequestId,
) -> Result<Option<PaymentRequest>> {
    let row = query(concat!(
        "SELECT ",
        crate::columns::pr_cols!(),
        " FROM payment_requests WHERE partner_id = $1 AND id = $2"
    ))
    .bind(partner.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    row.as_ref().map(pr_from_row).transpose()
}

/// Adds to `batch` the conditional update that applies `transition` to the request held by
/// `payment`, returning the request as it is then. It must hit exactly that row: when it finds
/// none, something else changed the request and the caller aborts its transaction.
pub(crate) fn push_request_transition(
    batch: &mut Batch,
    transition: RequestTransition,
    request: &PaymentRequestId,
    payment: &PaymentId,
    now: OffsetDateTime,
) {
    batch
        .push(transition_sql(transition))
        .bind(request.as_str())
        .bind(payment.as_str())
        .bind(to_micros(now));
}

/// The SQL of each transition the core describes (`RequestTransition`: which column holds the
/// payment, the status it needs and gets, what becomes of `payment_id` and the attempt).
fn transition_sql(transition: RequestTransition) -> &'static str {
    match transition {
        RequestTransition::Paid => concat!(
            "UPDATE payment_requests SET status = 'completed', payment_id = $2, attempt_payment_id = NULL, \
             completed_at = $3, updated_at = $3 WHERE id = $1 AND attempt_payment_id = $2 AND status = 'open' RETURNING ",
            crate::columns::pr_cols!()
        ),
        RequestTransition::AttemptReleased => concat!(
            "UPDATE payment_requests SET attempt_payment_id = NULL, updated_at = $3 \
             WHERE id = $1 AND attempt_payment_id = $2 \
             RETURNING ",
            crate::columns::pr_cols!()
        ),
        RequestTransition::Processing => concat!(
            "UPDATE payment_requests SET status = 'processing', payment_id = $2, attempt_payment_id = NULL, \
             updated_at = $3 WHERE id = $1 AND attempt_payment_id = $2 AND status = 'open' RETURNING ",
            crate::columns::pr_cols!()
        ),
        RequestTransition::Cleared => concat!(
            "UPDATE payment_requests SET status = 'completed', completed_at = $3, updated_at = $3 \
             WHERE id = $1 AND payment_id = $2 AND status = 'processing' RETURNING ",
            crate::columns::pr_cols!()
        ),
        RequestTransition::Reopened => concat!(
            "UPDATE payment_requests SET status = 'open', payment_id = NULL, updated_at = $3 \
             WHERE id = $1 AND payment_id = $2 AND status = 'processing' RETURNING ",
            crate::columns::pr_cols!()
        ),
    }
}

//! Attempts and API payments: the payment rows, from the claim of a payment request (or an API
//! sale) before the processor is asked, through the answer, to an ACH debit clearing or coming
//! back.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::effects::Failure;
use kassa_core::event::EventType;
use kassa_core::fee::FeeSchedule;
use kassa_core::id::{
    AuthorizationId, CustomerId, PartnerId, PaymentId, PaymentMethodId, PaymentRequestId,
};
use kassa_core::money::Money;
use kassa_core::payment::{AchResolution, Payment, PaymentSource, PaymentStatus};
use kassa_core::payment_request::PaymentRequestStatus;
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Batch, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::paging::*;
use crate::payment_reports::{self, bind_filter, payment_filter};
use crate::payment_requests::*;
use crate::Result;
use crate::{customers::*, events::*, jobs::*, ledger::*};

#[async_trait]
pub trait PaymentStore {
    /// Claims the request for one attempt (open, not expired, none in flight) and records the
    /// attempt's payment, payment method and vault entry, all in one transaction.
    async fn begin_attempt(
        &self,
        partner: &PartnerId,
        request: &PaymentRequestId,
        attempt: &NewAttempt,
        now: OffsetDateTime,
    ) -> Result<BeginOutcome>;
    /// Records the processor's answer for an attempt (on a request, or an API sale) and releases
    /// its request.
    async fn finish_attempt(
        &self,
        partner: &PartnerId,
        payment: &PaymentId,
        result: &AttemptResult,
        reference: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<FinishedAttempt>;
    /// Clears or returns a pending ACH debit (the sandbox endpoints and the settlement job).
    /// `scope` limits it to one partner's payments (the API); the settlement job passes None.
    async fn resolve_ach(
        &self,
        scope: Option<&PartnerId>,
        payment: &PaymentId,
        resolution: &kassa_core::payment::AchResolution,
        now: OffsetDateTime,
    ) -> Result<ResolveOutcome>;
    /// Attempts still undecided that started before `started_before`: their process died (or
    /// could not record the answer) while asking the processor. At most 100, oldest first.
    async fn abandoned_attempts(
        &self,
        started_before: OffsetDateTime,
    ) -> Result<Vec<(PartnerId, PaymentId)>>;
    async fn payment(&self, partner: &PartnerId, id: &PaymentId) -> Result<Option<Payment>>;
    async fn list_payments(
        &self,
        partner: &PartnerId,
        filter: &PaymentFilter,
        page: &PageRequest,
    ) -> Result<Page<Payment>>;
    /// What the payments [`PaymentStore::list_payments`] lists with `filter` add up to.
    async fn payment_totals(
        &self,
        partner: &PartnerId,
        filter: &PaymentFilter,
    ) -> Result<PaymentTotals>;
    /// Payments completed from `from` up to `to`, summed per `slice` of time since the epoch
    /// (only slices with payments, oldest first).
    async fn completed_volume(
        &self,
        partner: &PartnerId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        slice: time::Duration,
    ) -> Result<Vec<VolumeSlice>>;
    /// Records a sale (its customer, payment method and invoice too) as pending, before the
    /// processor is asked; [`Store::finish_attempt`] records the answer.
    async fn begin_payment(
        &self,
        partner: &PartnerId,
        new: &NewApiPayment,
        by: &Caller,
    ) -> Result<Begun<Payment>>;
}

#[async_trait]
impl<B: Backend> PaymentStore for B {
    async fn begin_attempt(
        &self,
        partner: &PartnerId,
        request: &PaymentRequestId,
        attempt: &NewAttempt,
        now: OffsetDateTime,
    ) -> Result<BeginOutcome> {
        let mut tx = self.begin_write().await?;
        let mut claim = Batch::new();
        claim.push(concat!(
            "UPDATE payment_requests SET attempt_payment_id = $3, attempt_count = attempt_count + 1, updated_at = $4 \
             WHERE partner_id = $1 AND id = $2 AND status = 'open' AND attempt_payment_id IS NULL \
             AND (expires_at IS NULL OR expires_at > $4) \
             AND (SELECT COUNT(*) FROM payments WHERE payment_request_id = $2 AND status = 'failed' \
                  AND created_at > $5) < $6 RETURNING ", crate::columns::pr_cols!()
        ))
        .bind(partner.as_str())
        .bind(request.as_str())
        .bind(attempt.payment_id.as_str())
        .bind(to_micros(now))
        .bind(to_micros(attempt.failed_limit.window_start(now)))
        .bind(attempt.failed_limit.max);
        let claimed = claim.fetch_all(&mut tx).await?.into_iter().next();
        let Some(row) = claimed else {
            let outcome = match pr_in_tx(&mut tx, partner, request)
                .await?
                .map(|pr| pr.seen_at(now))
            {
                None => BeginOutcome::NotFound,
                Some(pr) => match pr.status {
                    PaymentRequestStatus::Completed => BeginOutcome::AlreadyCompleted(pr),
                    PaymentRequestStatus::Open if pr.attempt_payment_id.is_none() => {
                        let failed: i64 = query_scalar(
                            "SELECT COUNT(*) FROM payments WHERE payment_request_id = $1 AND status = 'failed' AND created_at > $2",
                        )
                        .bind(request.as_str())
                        .bind(to_micros(attempt.failed_limit.window_start(now)))
                        .fetch_one(&mut tx)
                        .await?;
                        if attempt.failed_limit.is_locked(failed) {
                            BeginOutcome::TooManyAttempts(pr)
                        } else {
                            BeginOutcome::InProgress(pr)
                        }
                    }
                    PaymentRequestStatus::Open | PaymentRequestStatus::Processing => {
                        BeginOutcome::InProgress(pr)
                    }
                    PaymentRequestStatus::Canceled | PaymentRequestStatus::Expired => {
                        BeginOutcome::NotOpen(pr)
                    }
                },
            };
            tx.rollback().await?;
            return Ok(outcome);
        };
        let pr = pr_from_row(&row)?;
        let m = &attempt.method;
        // The vault entry, method and payment go in one round trip.
        let mut batch = Batch::new();
        push_payment_method(&mut batch, partner, m, now)?;
        let (method_type, brand, exp_month, exp_year, _, routing, account_type) =
            method_columns(&m.details);
        batch.push(concat!(
            "INSERT INTO payments (id, partner_id, source, status, amount, currency, payment_method_id, \
             payment_request_id, reference_id, method_type, brand, funding, last4, exp_month, exp_year, \
             routing_number, account_type, created_at, awaiting_processor, processor, ach_accepted_at, ach_ip, \
             ach_user_agent, ach_text_version, payer_name, payer_email) \
             VALUES ($1, $2, 'payment_request', 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, TRUE, \
             (SELECT processor FROM partners WHERE id = $2), $17, $18, $19, $20, $21, $22) \
             RETURNING ", crate::columns::payment_cols!()
        ))
        .bind(attempt.payment_id.as_str())
        .bind(partner.as_str())
        .bind(pr.amount.minor())
        .bind(pr.currency.as_str())
        .bind(m.id.as_str())
        .bind(pr.id.as_str())
        .bind(pr.reference_id.as_str())
        .bind(method_type)
        .bind(brand)
        .bind((method_type == "card").then_some("unknown"))
        .bind(m.last4.as_str())
        .bind(exp_month)
        .bind(exp_year)
        .bind(routing)
        .bind(account_type)
        .bind(to_micros(now))
        .bind(attempt.ach_authorization.as_ref().map(|a| to_micros(a.accepted_at)))
        .bind(attempt.ach_authorization.as_ref().and_then(|a| a.ip.as_deref()))
        .bind(attempt.ach_authorization.as_ref().and_then(|a| a.user_agent.as_deref()))
        .bind(attempt.ach_authorization.as_ref().map(|a| a.text_version.as_str()))
        .bind(m.holder_name.as_deref())
        // The email the payer gave on the form, else the one the request was made for.
        .bind(
            attempt
                .payer_email
                .as_ref()
                .or(pr.payer_email.as_ref())
                .map(|e| e.as_str()),
        );
        let rows = batch.fetch_all(&mut tx).await?;
        let payment = payment_from_row(rows.last().ok_or_else(|| bad("payment just made"))?)?;
        tx.commit().await?;
        Ok(BeginOutcome::Started {
            request: pr,
            payment,
        })
    }

    async fn finish_attempt(
        &self,
        partner: &PartnerId,
        payment_id: &PaymentId,
        result: &AttemptResult,
        reference: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<FinishedAttempt> {
        let mut tx = self.begin_write().await?;
        // First round trip: the answer, recorded once however many callers race
        // (`awaiting_processor`), and the partner's fees when the money becomes theirs.
        let mut batch = Batch::new();
        let takes_fee = result.takes_fee();
        if takes_fee {
            batch.push(FEE_SCHEDULE_SQL).bind(partner.as_str());
        }
        match result {
            AttemptResult::Approved { funding } => batch
                .push(concat!(
                    "UPDATE payments SET status = 'completed', captured_amount = amount, funding = $3, completed_at = $4, \
                     awaiting_processor = FALSE, processor_reference = COALESCE($5, processor_reference) \
                     WHERE partner_id = $1 AND id = $2 AND status = 'pending' AND awaiting_processor RETURNING ", crate::columns::payment_cols!()
                ))
                .bind(partner.as_str())
                .bind(payment_id.as_str())
                .bind(funding.as_str())
                .bind(to_micros(now))
                .bind(reference),
            AttemptResult::Declined { code } => {
                let failure = Failure::declined(*code);
                batch
                    .push(concat!(
                        "UPDATE payments SET status = 'failed', failure_code = $3, failure_message = $4, awaiting_processor = FALSE, \
                         processor_reference = COALESCE($5, processor_reference) \
                         WHERE partner_id = $1 AND id = $2 AND status = 'pending' AND awaiting_processor RETURNING ", crate::columns::payment_cols!()
                    ))
                    .bind(partner.as_str())
                    .bind(payment_id.as_str())
                    .bind(failure.code)
                    .bind(failure.message)
                    .bind(reference)
            }
            AttemptResult::AchSubmitted { .. } => batch
                .push(concat!(
                    "UPDATE payments SET awaiting_processor = FALSE, processor_reference = COALESCE($3, processor_reference) \
                     WHERE partner_id = $1 AND id = $2 AND status = 'pending' AND awaiting_processor RETURNING ", crate::columns::payment_cols!()
                ))
                .bind(partner.as_str())
                .bind(payment_id.as_str())
                .bind(reference),
        };
        let mut rows = batch.fetch_all(&mut tx).await?.into_iter();
        let fees = match takes_fee {
            true => {
                fee_schedule_from_row(&rows.next().ok_or(crate::StoreError::Missing("partner"))?)?
            }
            false => FeeSchedule::default(),
        };
        let payment = payment_from_row(&rows.next().ok_or(crate::StoreError::AlreadyRecorded)?)?;

        // Second round trip: everything that follows from the answer, as the core decides it.
        let effects = kassa_core::effects::attempt_finished(&payment, result, &fees);
        let mut batch = Batch::new();
        push_event(&mut batch, partner, effects.event, &payment, now)?;
        let postings: Vec<_> = effects.postings.iter().collect();
        push_postings(&mut batch, partner, payment.currency, &postings, now)?;
        if let Some(job) = &effects.job {
            push_job(&mut batch, &NewJob::from(job), now);
        }
        if let Some(authorization) = &effects.release_authorization {
            // The processor refused the capture: the hold is the partner's to capture again.
            batch
                .push(
                    "UPDATE authorizations SET status = 'authorized', captured_amount = 0, capture_payment_id = NULL, \
                     captured_at = NULL, updated_at = $3 WHERE id = $1 AND capture_payment_id = $2 AND status = 'captured'",
                )
                .bind(authorization.as_str())
                .bind(payment_id.as_str())
                .bind(to_micros(now));
        }
        if let (Some(request_id), Some(transition)) = (&payment.payment_request_id, effects.request)
        {
            push_request_transition(&mut batch, transition, request_id, payment_id, now);
        }
        let rows = batch.fetch_all(&mut tx).await?;
        let request = match effects.request {
            None => None,
            Some(_) => Some(pr_from_row(rows.first().ok_or(
                crate::StoreError::ChangedUnderneath("payment request changed under its attempt"),
            )?)?),
        };
        if let (Some(pr), Some(event)) = (&request, effects.request_event) {
            insert_event(&mut tx, partner, event, pr, now).await?;
        }
        tx.commit().await?;
        Ok(FinishedAttempt { request, payment })
    }

    async fn resolve_ach(
        &self,
        scope: Option<&PartnerId>,
        payment_id: &PaymentId,
        resolution: &AchResolution,
        now: OffsetDateTime,
    ) -> Result<ResolveOutcome> {
        let mut tx = self.begin_write().await?;
        let row = match resolution {
            AchResolution::Clear => query(concat!(
                "UPDATE payments SET status = 'completed', captured_amount = amount, completed_at = $2 \
                 WHERE id = $1 AND status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor AND ($3 IS NULL OR partner_id = $3) \
                 RETURNING ", crate::columns::payment_cols!()
            ))
            .bind(payment_id.as_str())
            .bind(to_micros(now))
            .bind(scope.map(|p| p.as_str()))
            .fetch_optional(&mut tx)
            .await?,
            AchResolution::Return(code) => query(concat!(
                "UPDATE payments SET status = 'failed', failure_code = $2, failure_message = $3 \
                 WHERE id = $1 AND status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor AND ($4 IS NULL OR partner_id = $4) \
                 RETURNING ", crate::columns::payment_cols!()
            ))
            .bind(payment_id.as_str())
            .bind(Failure::returned(code).code)
            .bind(Failure::returned(code).message)
            .bind(scope.map(|p| p.as_str()))
            .fetch_optional(&mut tx)
            .await?,
        };
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(ResolveOutcome::NotPending);
        };
        let payment = payment_from_row(&row)?;
        let partner = payment.partner_id.clone();
        let fees = match resolution {
            AchResolution::Clear => fee_schedule(&mut tx, &partner).await?,
            AchResolution::Return(_) => FeeSchedule::default(),
        };
        let effects = kassa_core::effects::ach_resolved(&payment, resolution, &fees);
        let postings: Vec<_> = effects.postings.iter().collect();
        post_all(&mut tx, &partner, payment.currency, &postings, now).await?;
        let request = match (&payment.payment_request_id, effects.request) {
            (Some(request_id), Some(transition)) => {
                let mut batch = Batch::new();
                push_request_transition(&mut batch, transition, request_id, payment_id, now);
                let rows = batch.fetch_all(&mut tx).await?;
                let row = rows.first().ok_or(crate::StoreError::ChangedUnderneath(
                    "payment request changed under its ACH debit",
                ))?;
                Some(pr_from_row(row)?)
            }
            _ => None,
        };
        for event in &effects.events {
            match (event, &request) {
                (EventType::PaymentRequestCompleted, Some(pr)) => {
                    insert_event(&mut tx, &partner, *event, pr, now).await?
                }
                _ => insert_event(&mut tx, &partner, *event, &payment, now).await?,
            }
        }
        tx.commit().await?;
        Ok(ResolveOutcome::Resolved(payment))
    }

    async fn abandoned_attempts(
        &self,
        started_before: OffsetDateTime,
    ) -> Result<Vec<(PartnerId, PaymentId)>> {
        let rows = query(
            "SELECT id, partner_id FROM payments WHERE awaiting_processor AND created_at < $1 ORDER BY created_at LIMIT 100",
        )
        .bind(to_micros(started_before))
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    PartnerId::from_trusted(row.try_get("partner_id")?),
                    PaymentId::from_trusted(row.try_get("id")?),
                ))
            })
            .collect()
    }

    async fn payment(&self, partner: &PartnerId, id: &PaymentId) -> Result<Option<Payment>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::payment_cols!(),
            " FROM payments WHERE partner_id = $1 AND id = $2"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn list_payments(
        &self,
        partner: &PartnerId,
        filter: &PaymentFilter,
        page: &PageRequest,
    ) -> Result<Page<Payment>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM payments WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let sql = concat!(
            "SELECT ",
            crate::columns::payment_cols!(),
            " FROM payments WHERE ",
            payment_filter!(),
            " AND ($15 IS NULL OR seq < $15) ORDER BY seq DESC LIMIT $16"
        );
        let rows = bind_filter(query(sql), partner, filter)
            .bind(cursor)
            .bind(page.limit + 1)
            .fetch_all(&mut self.reader())
            .await?;
        page_of(&rows, page, payment_from_row)
    }

    async fn payment_totals(
        &self,
        partner: &PartnerId,
        filter: &PaymentFilter,
    ) -> Result<PaymentTotals> {
        payment_reports::totals(&mut self.reader(), partner, filter).await
    }

    async fn completed_volume(
        &self,
        partner: &PartnerId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        slice: time::Duration,
    ) -> Result<Vec<VolumeSlice>> {
        payment_reports::completed_volume(&mut self.reader(), partner, from, to, slice).await
    }

    async fn begin_payment(
        &self,
        partner: &PartnerId,
        new: &NewApiPayment,
        by: &Caller,
    ) -> Result<Begun<Payment>> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        if let Some(existing) =
            payment_by_key(&mut tx, partner, new.idempotency_key.as_deref()).await?
        {
            tx.rollback().await?;
            return Ok(Begun::Existing(existing));
        }
        // The new customer, vault entry, method and the payment go in one round trip.
        let mut batch = Batch::new();
        ensure_customer(&mut tx, &mut batch, partner, &new.customer).await?;
        ensure_method(&mut tx, &mut batch, partner, &new.method, now).await?;
        let (last4, details) = new.method.parts();
        let (method_type, brand, exp_month, exp_year, _, routing, account_type) =
            method_columns(details);
        batch.push(concat!(
            "INSERT INTO payments (id, partner_id, source, status, amount, currency, customer_id, payment_method_id, \
             method_type, brand, funding, last4, exp_month, exp_year, routing_number, account_type, invoice_id, \
             invoice, dynamic_descriptor, awaiting_processor, created_at, idempotency_key, processor, payer_name) \
             VALUES ($1, $2, 'api', 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, TRUE, $18, $19, \
             (SELECT processor FROM partners WHERE id = $2), \
             (SELECT holder_name FROM payment_methods WHERE id = $6)) \
             RETURNING ", crate::columns::payment_cols!()
        ))
        .bind(new.payment_id.as_str())
        .bind(partner.as_str())
        .bind(new.amount.minor())
        .bind(new.amount.currency().as_str())
        .bind(new.customer.id().as_str())
        .bind(new.method.id().as_str())
        .bind(method_type)
        .bind(brand)
        .bind((method_type != "ach").then_some("unknown"))
        .bind(last4)
        .bind(exp_month)
        .bind(exp_year)
        .bind(routing)
        .bind(account_type)
        .bind(new.invoice.id.as_str())
        .bind(to_json(&new.invoice)?)
        .bind(new.dynamic_descriptor.as_ref().map(to_json).transpose()?)
        .bind(to_micros(now))
        .bind(new.idempotency_key.as_deref());
        let rows = batch.fetch_all(&mut tx).await?;
        let payment = payment_from_row(rows.last().ok_or_else(|| bad("payment just made"))?)?;
        let entry = Entry::succeeded(Action::PaymentCreated, payment.id.as_str())
            .with_details(serde_json::json!({"amount": payment.amount.to_string()}));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(Begun::Started(payment))
    }
}

pub(crate) fn payment_from_row(row: &Row) -> Result<Payment> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    let source: String = row.try_get("source")?;
    let payment_method = masked_from_row(row, true)?;
    Ok(Payment {
        id: PaymentId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        status: PaymentStatus::parse_str(&status).ok_or_else(|| bad("payment status"))?,
        amount: Money::new(row.try_get("amount")?, currency),
        currency,
        captured_amount: Money::new(row.try_get("captured_amount")?, currency),
        refunded_amount: Money::new(row.try_get("refunded_amount")?, currency),
        customer_id: row
            .try_get::<Option<String>, _>("customer_id")?
            .map(CustomerId::from_trusted),
        payment_method_id: row
            .try_get::<Option<String>, _>("payment_method_id")?
            .map(PaymentMethodId::from_trusted),
        authorization_id: row
            .try_get::<Option<String>, _>("authorization_id")?
            .map(AuthorizationId::from_trusted),
        payment_request_id: row
            .try_get::<Option<String>, _>("payment_request_id")?
            .map(PaymentRequestId::from_trusted),
        reference_id: row.try_get("reference_id")?,
        source: PaymentSource::parse_str(&source).ok_or_else(|| bad("payment source"))?,
        payment_method,
        invoice: json_opt(row, "invoice")?,
        dynamic_descriptor: json_opt(row, "dynamic_descriptor")?,
        failure_code: row.try_get("failure_code")?,
        failure_message: row.try_get("failure_message")?,
        processor: crate::columns::processor_from_row(row)?,
        ach_authorization: crate::columns::ach_authorization_from_row(row)?,
        payer: kassa_core::payment::Payer {
            name: row.try_get("payer_name")?,
            email: row
                .try_get::<Option<String>, _>("payer_email")?
                .map(kassa_core::email::Email::from_trusted),
        },
        created_at: from_micros(row.try_get("created_at")?),
        completed_at: time_opt(row.try_get("completed_at")?),
    })
}

/// The payment an earlier request under this `Idempotency-Key` made, if any.
pub(crate) async fn payment_by_key(
    tx: &mut dyn Conn,
    partner: &PartnerId,
    key: Option<&str>,
) -> Result<Option<Payment>> {
    let Some(key) = key else { return Ok(None) };
    let mut find = Batch::new();
    find.push(concat!(
        "SELECT ",
        crate::columns::payment_cols!(),
        " FROM payments WHERE partner_id = $1 AND idempotency_key = $2"
    ))
    .bind(partner.as_str())
    .bind(key);
    let rows = find.fetch_all(tx).await?;
    rows.first().map(payment_from_row).transpose()
}

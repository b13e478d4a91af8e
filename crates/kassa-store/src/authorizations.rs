//! Authorizations: a hold recorded before the processor is asked, then captured once (also
//! partially) or reversed.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::authorization::{Authorization, AuthorizationStatus};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::event::EventType;
use kassa_core::id::{AuthorizationId, CustomerId, PartnerId, PaymentId, PaymentMethodId};
use kassa_core::money::Money;
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, Backend, Batch, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::Result;
use crate::{attempts::*, customers::*, events::*, jobs::*};

#[async_trait]
pub trait AuthorizationStore {
    /// Records an authorization as pending before the processor is asked.
    async fn begin_authorization(
        &self,
        partner: &PartnerId,
        new: &NewAuthorization,
        by: &Caller,
    ) -> Result<Begun<Authorization>>;
    /// Records the processor's answer; `AlreadyRecorded` if it was recorded already.
    async fn finish_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        result: &AuthorizationResult,
        reference: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Authorization>;
    async fn authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
    ) -> Result<Option<Authorization>>;
    /// Claims an authorization for its one capture: one conditional update and the capture's
    /// pending payment, in one transaction; the processor's answer is recorded by `finish_attempt`.
    async fn capture_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        capture: &NewCapture,
        by: &Caller,
    ) -> Result<CaptureOutcome>;
    async fn reverse_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        by: &Caller,
    ) -> Result<ReverseOutcome>;
    /// Authorizations still pending that started before `started_before`. At most 100.
    async fn abandoned_authorizations(
        &self,
        started_before: OffsetDateTime,
    ) -> Result<Vec<(PartnerId, AuthorizationId)>>;
}

#[async_trait]
impl<B: Backend> AuthorizationStore for B {
    async fn begin_authorization(
        &self,
        partner: &PartnerId,
        new: &NewAuthorization,
        by: &Caller,
    ) -> Result<Begun<Authorization>> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        if let Some(key) = new.idempotency_key.as_deref() {
            let row = query(concat!(
                "SELECT ",
                crate::columns::auth_cols!(),
                " FROM authorizations WHERE partner_id = $1 AND idempotency_key = $2"
            ))
            .bind(partner.as_str())
            .bind(key)
            .fetch_optional(&mut tx)
            .await?;
            if let Some(row) = row {
                tx.rollback().await?;
                return Ok(Begun::Existing(auth_from_row(&row)?));
            }
        }
        let mut batch = Batch::new();
        ensure_customer(&mut tx, &mut batch, partner, &new.customer).await?;
        ensure_method(&mut tx, &mut batch, partner, &new.method, now).await?;
        let (last4, details) = new.method.parts();
        let (method_type, brand, exp_month, exp_year, _, _, _) = method_columns(details);
        batch.push(concat!(
            "INSERT INTO authorizations (id, partner_id, status, amount, currency, customer_id, payment_method_id, \
             method_type, brand, funding, last4, exp_month, exp_year, invoice_id, invoice, dynamic_descriptor, \
             created_at, updated_at, expires_at, idempotency_key, processor) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, 'unknown', $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, \
             (SELECT processor FROM partners WHERE id = $2)) \
             RETURNING ", crate::columns::auth_cols!()
        ))
        .bind(new.id.as_str())
        .bind(partner.as_str())
        .bind(new.amount.minor())
        .bind(new.amount.currency().as_str())
        .bind(new.customer.id().as_str())
        .bind(new.method.id().as_str())
        .bind(method_type)
        .bind(brand)
        .bind(last4)
        .bind(exp_month)
        .bind(exp_year)
        .bind(new.invoice.id.as_str())
        .bind(to_json(&new.invoice)?)
        .bind(new.dynamic_descriptor.as_ref().map(to_json).transpose()?)
        .bind(to_micros(now))
        .bind(to_micros(new.expires_at))
        .bind(new.idempotency_key.as_deref());
        let rows = batch.fetch_all(&mut tx).await?;
        let auth = auth_from_row(rows.last().ok_or_else(|| bad("authorization just made"))?)?;
        let entry = Entry::succeeded(Action::AuthorizationCreated, auth.id.as_str())
            .with_details(serde_json::json!({"amount": auth.amount.to_string()}));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(Begun::Started(auth))
    }

    async fn finish_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        result: &AuthorizationResult,
        reference: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Authorization> {
        let mut tx = self.begin_write().await?;
        let (status, funding, code, message) = match result {
            AuthorizationResult::Authorized { funding } => {
                ("authorized", Some(funding.as_str()), None, None)
            }
            AuthorizationResult::Declined { code } => (
                "failed",
                None,
                Some(code.as_str()),
                Some(code.payer_message()),
            ),
        };
        let row = query(concat!(
            "UPDATE authorizations SET status = $3, funding = COALESCE($4, funding), failure_code = $5, \
             failure_message = $6, updated_at = $7, processor_reference = COALESCE($8, processor_reference) \
             WHERE partner_id = $1 AND id = $2 AND status = 'pending' RETURNING ",
            crate::columns::auth_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(status)
        .bind(funding)
        .bind(code)
        .bind(message)
        .bind(to_micros(now))
        .bind(reference)
        .fetch_optional(&mut tx)
        .await?;
        let auth = auth_from_row(&row.ok_or(crate::StoreError::AlreadyRecorded)?)?;
        insert_event(
            &mut tx,
            partner,
            EventType::AuthorizationCreated,
            &auth,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(auth)
    }

    async fn authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
    ) -> Result<Option<Authorization>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::auth_cols!(),
            " FROM authorizations WHERE partner_id = $1 AND id = $2"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(auth_from_row).transpose()
    }

    async fn capture_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        capture: &NewCapture,
        by: &Caller,
    ) -> Result<CaptureOutcome> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        if let Some(existing) =
            payment_by_key(&mut tx, partner, capture.idempotency_key.as_deref()).await?
        {
            tx.rollback().await?;
            return Ok(CaptureOutcome::Existing(existing));
        }
        // The one atomic change: only an authorized, unexpired hold of at least this amount.
        let claimed = query(concat!(
            "UPDATE authorizations SET status = 'captured', captured_amount = COALESCE($3, amount), \
             capture_payment_id = $4, captured_at = $5, updated_at = $5 \
             WHERE partner_id = $1 AND id = $2 AND status = 'authorized' AND expires_at > $5 \
             AND amount >= COALESCE($3, amount) RETURNING ", crate::columns::auth_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(capture.amount.map(|m| m.minor()))
        .bind(capture.payment_id.as_str())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = claimed else {
            let outcome = match auth_in_tx(&mut tx, partner, id)
                .await?
                .map(|a| a.seen_at(now))
            {
                None => CaptureOutcome::NotFound,
                Some(a) => match a.status {
                    AuthorizationStatus::Captured => CaptureOutcome::AlreadyCaptured(a),
                    AuthorizationStatus::Authorized => CaptureOutcome::ExceedsAuthorized(a),
                    _ => CaptureOutcome::NotCapturable(a),
                },
            };
            tx.rollback().await?;
            return Ok(outcome);
        };
        let authorization = auth_from_row(&row)?;
        let invoice = match &capture.invoice {
            Some(invoice) => Some(invoice),
            None => authorization.invoice.as_ref(),
        };
        let descriptor = match &capture.dynamic_descriptor {
            Some(d) => Some(d),
            None => authorization.dynamic_descriptor.as_ref(),
        };
        let amount = authorization.captured_amount.minor();
        // Pending until the processor confirms the capture (`finish_attempt`).
        let row = query(concat!(
            "INSERT INTO payments (id, partner_id, source, status, amount, currency, customer_id, \
             payment_method_id, authorization_id, method_type, brand, funding, last4, exp_month, exp_year, \
             invoice_id, invoice, dynamic_descriptor, awaiting_processor, idempotency_key, created_at, \
             processor, processor_reference, payer_name) \
             SELECT $1, partner_id, 'api', 'pending', $3, currency, customer_id, payment_method_id, id, \
             method_type, brand, funding, last4, exp_month, exp_year, $4, $5, $6, TRUE, $8, $7, \
             processor, processor_reference, \
             (SELECT holder_name FROM payment_methods m WHERE m.id = authorizations.payment_method_id) \
             FROM authorizations WHERE id = $2 RETURNING ", crate::columns::payment_cols!()
        ))
        .bind(capture.payment_id.as_str())
        .bind(id.as_str())
        .bind(amount)
        .bind(invoice.map(|i| i.id.as_str()))
        .bind(invoice.map(to_json).transpose()?)
        .bind(descriptor.map(to_json).transpose()?)
        .bind(to_micros(now))
        .bind(capture.idempotency_key.as_deref())
        .fetch_one(&mut tx)
        .await?;
        let payment = payment_from_row(&row)?;
        let entry = Entry::succeeded(Action::AuthorizationCaptured, id.as_str()).with_details(
            serde_json::json!({"paymentId": payment.id.as_str(), "amount": payment.amount.to_string()}),
        );
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(CaptureOutcome::Captured {
            authorization,
            payment,
        })
    }

    async fn reverse_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        by: &Caller,
    ) -> Result<ReverseOutcome> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let row = query(concat!(
            "UPDATE authorizations SET status = 'reversed', reversed_at = $3, updated_at = $3 \
             WHERE partner_id = $1 AND id = $2 AND status = 'authorized' AND expires_at > $3 RETURNING ",
            crate::columns::auth_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            let outcome = match auth_in_tx(&mut tx, partner, id)
                .await?
                .map(|a| a.seen_at(now))
            {
                None => ReverseOutcome::NotFound,
                Some(a) if a.status == AuthorizationStatus::Captured => {
                    ReverseOutcome::AlreadyCaptured(a)
                }
                Some(a) => ReverseOutcome::NotReversible(a),
            };
            tx.rollback().await?;
            return Ok(outcome);
        };
        let auth = auth_from_row(&row)?;
        let effects = kassa_core::effects::authorization_reversed(id, now);
        insert_event(&mut tx, partner, effects.event, &auth, now).await?;
        insert_job(&mut tx, &NewJob::from(&effects.job), now).await?;
        let entry = Entry::succeeded(Action::AuthorizationReversed, id.as_str());
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(ReverseOutcome::Reversed(auth))
    }

    async fn abandoned_authorizations(
        &self,
        started_before: OffsetDateTime,
    ) -> Result<Vec<(PartnerId, AuthorizationId)>> {
        let rows = query(
            "SELECT id, partner_id FROM authorizations WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT 100",
        )
        .bind(to_micros(started_before))
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    PartnerId::from_trusted(row.try_get("partner_id")?),
                    AuthorizationId::from_trusted(row.try_get("id")?),
                ))
            })
            .collect()
    }
}

pub(crate) fn auth_from_row(row: &Row) -> Result<Authorization> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    Ok(Authorization {
        id: AuthorizationId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        status: AuthorizationStatus::parse_str(&status)
            .ok_or_else(|| bad("authorization status"))?,
        amount: Money::new(row.try_get("amount")?, currency),
        currency,
        captured_amount: Money::new(row.try_get("captured_amount")?, currency),
        customer_id: row
            .try_get::<Option<String>, _>("customer_id")?
            .map(CustomerId::from_trusted),
        payment_method_id: row
            .try_get::<Option<String>, _>("payment_method_id")?
            .map(PaymentMethodId::from_trusted),
        payment_id: row
            .try_get::<Option<String>, _>("capture_payment_id")?
            .map(PaymentId::from_trusted),
        payment_method: masked_from_row(row, true)?,
        invoice: json_opt(row, "invoice")?,
        dynamic_descriptor: json_opt(row, "dynamic_descriptor")?,
        failure_code: row.try_get("failure_code")?,
        failure_message: row.try_get("failure_message")?,
        processor: crate::columns::processor_from_row(row)?,
        created_at: from_micros(row.try_get("created_at")?),
        expires_at: from_micros(row.try_get("expires_at")?),
        captured_at: time_opt(row.try_get("captured_at")?),
        reversed_at: time_opt(row.try_get("reversed_at")?),
    })
}

pub(crate) async fn auth_in_tx(
    tx: &mut dyn Conn,
    partner: &PartnerId,
    id: &AuthorizationId,
) -> Result<Option<Authorization>> {
    let row = query(concat!(
        "SELECT ",
        crate::columns::auth_cols!(),
        " FROM authorizations WHERE partner_id = $1 AND id = $2"
    ))
    .bind(partner.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    row.as_ref().map(auth_from_row).transpose()
}

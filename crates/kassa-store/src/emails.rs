//! Emails (docs/api.md §11): each one a row saying what it is about, to whom and how sending went,
//! and a job that sends it. An email an event causes is written where the event is fanned out
//! (`webhooks::deliveries::dispatch_events`), once per event; one a partner asks for (a resend,
//! "Email link") is written here with its audit entry. Both in the transaction that decides them.

use std::collections::HashMap;

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::email::Email;
use kassa_core::event::EventType;
use kassa_core::id::{EmailId, JobId, PartnerId, PaymentId, PaymentRequestId, WebhookEndpointId};
use kassa_core::job::{JobKind, JobPayload, SendEmail};
use kassa_core::mail::{self, EmailKind, EmailStatus, PaymentFacts};
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::{bad, time_opt};
use crate::db::{query, Backend, Conn, Row, WriteTx as _};
use crate::Result;

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    pub id: EmailId,
    pub partner_id: PartnerId,
    pub kind: EmailKind,
    pub to: Email,
    pub payment_id: Option<PaymentId>,
    pub payment_request_id: Option<PaymentRequestId>,
    pub webhook_endpoint_id: Option<WebhookEndpointId>,
    /// Set for an email an event causes, so it is made once.
    pub dedupe_key: Option<String>,
}

/// An email as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRecord {
    pub id: EmailId,
    pub partner_id: PartnerId,
    pub kind: EmailKind,
    pub to: Email,
    pub payment_id: Option<PaymentId>,
    pub payment_request_id: Option<PaymentRequestId>,
    pub webhook_endpoint_id: Option<WebhookEndpointId>,
    pub status: EmailStatus,
    /// Tries made so far.
    pub attempts: i64,
    /// Why the last try failed (the SMTP server's answer or the connection error).
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

/// How one try to send went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailAttempt {
    Sent,
    /// Failed; tried again at `at`.
    Retry {
        error: String,
        at: OffsetDateTime,
    },
    /// Failed for good.
    Failed {
        error: String,
    },
}

#[async_trait]
pub trait EmailStore {
    /// Writes an email and its job; with `by`, the partner asked for it and the audit log says
    /// so. A `dedupe_key` seen before makes nothing: None.
    async fn queue_email(
        &self,
        email: &NewEmail,
        by: Option<&Caller>,
        now: OffsetDateTime,
    ) -> Result<Option<EmailRecord>>;
    /// One email, for the worker that sends it.
    async fn email(&self, id: &EmailId) -> Result<Option<EmailRecord>>;
    /// Records a try and what follows, in one transaction: the email's status and its job (done,
    /// or due again at the retry's time). Only a queued email changes, and only while `worker`
    /// holds its job's lease: otherwise nothing is recorded ([`crate::StoreError::LeaseLost`]).
    async fn record_email_attempt(
        &self,
        id: &EmailId,
        worker: &str,
        attempt: &EmailAttempt,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// The partner's emails about a payment or a payment request, oldest first.
    async fn emails_about(
        &self,
        partner: &PartnerId,
        payment: Option<&PaymentId>,
        request: Option<&PaymentRequestId>,
    ) -> Result<Vec<EmailRecord>>;
}

const EMAIL_COLS: &str = "id, partner_id, kind, recipient, payment_id, payment_request_id, \
    webhook_endpoint_id, status, attempts, last_error, created_at, updated_at, sent_at";

#[async_trait]
impl<B: Backend> EmailStore for B {
    async fn queue_email(
        &self,
        email: &NewEmail,
        by: Option<&Caller>,
        now: OffsetDateTime,
    ) -> Result<Option<EmailRecord>> {
        let mut tx = self.begin_write().await?;
        if !insert_email(&mut tx, email, now).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(by) = by {
            let entry = Entry::succeeded(Action::EmailRequested, email.id.as_str()).with_details(
                serde_json::json!({
                    "kind": email.kind.as_str(),
                    "to": email.to.as_str(),
                    "paymentId": email.payment_id.as_ref().map(|p| p.as_str()),
                    "paymentRequestId": email.payment_request_id.as_ref().map(|p| p.as_str()),
                }),
            );
            append(&mut tx, Some(&email.partner_id), by, &entry).await?;
        }
        let row = query(format!("SELECT {EMAIL_COLS} FROM emails WHERE id = $1"))
            .bind(email.id.as_str())
            .fetch_one(&mut tx)
            .await?;
        let record = email_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(record))
    }

    async fn email(&self, id: &EmailId) -> Result<Option<EmailRecord>> {
        let row = query(format!("SELECT {EMAIL_COLS} FROM emails WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut self.reader())
            .await?;
        row.as_ref().map(email_from_row).transpose()
    }

    async fn record_email_attempt(
        &self,
        id: &EmailId,
        worker: &str,
        attempt: &EmailAttempt,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let (status, error, sent_at) = match attempt {
            EmailAttempt::Sent => (EmailStatus::Sent, None, Some(to_micros(now))),
            EmailAttempt::Retry { error, .. } => (EmailStatus::Queued, Some(error.as_str()), None),
            EmailAttempt::Failed { error } => (EmailStatus::Failed, Some(error.as_str()), None),
        };
        let job: Option<String> = query(
            "UPDATE emails SET status = $2, attempts = attempts + 1, \
             last_error = COALESCE($3, last_error), sent_at = $4, updated_at = $5 \
             WHERE id = $1 AND status = 'queued' RETURNING job_id",
        )
        .bind(id.as_str())
        .bind(status.as_str())
        .bind(error)
        .bind(sent_at)
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?
        .map(|row| row.try_get("job_id"))
        .transpose()?;
        if let Some(job) = job {
            let job = JobId::from_trusted(job);
            match attempt {
                EmailAttempt::Retry { error, at } => {
                    crate::jobs::finish_job(&mut tx, &job, worker, Some(*at), now).await?;
                    query("UPDATE jobs SET last_error = $2 WHERE id = $1")
                        .bind(job.as_str())
                        .bind(error.as_str())
                        .execute(&mut tx)
                        .await?;
                }
                EmailAttempt::Sent | EmailAttempt::Failed { .. } => {
                    crate::jobs::finish_job(&mut tx, &job, worker, None, now).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn emails_about(
        &self,
        partner: &PartnerId,
        payment: Option<&PaymentId>,
        request: Option<&PaymentRequestId>,
    ) -> Result<Vec<EmailRecord>> {
        let rows = query(format!(
            "SELECT {EMAIL_COLS} FROM emails WHERE partner_id = $1 \
             AND (payment_id = $2 OR payment_request_id = $3) ORDER BY seq"
        ))
        .bind(partner.as_str())
        .bind(payment.map(|p| p.as_str()))
        .bind(request.map(|r| r.as_str()))
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter().map(email_from_row).collect()
    }
}

/// Writes the email and its job, due now; false (nothing written) when its `dedupe_key` was
/// used before.
pub(crate) async fn insert_email(
    tx: &mut dyn Conn,
    email: &NewEmail,
    now: OffsetDateTime,
) -> Result<bool> {
    let job = JobId::generate();
    let made = query(
        "INSERT INTO emails (id, partner_id, kind, recipient, payment_id, payment_request_id, \
         webhook_endpoint_id, status, dedupe_key, job_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $10, $10) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(email.id.as_str())
    .bind(email.partner_id.as_str())
    .bind(email.kind.as_str())
    .bind(email.to.as_str())
    .bind(email.payment_id.as_ref().map(|p| p.as_str()))
    .bind(email.payment_request_id.as_ref().map(|p| p.as_str()))
    .bind(email.webhook_endpoint_id.as_ref().map(|p| p.as_str()))
    .bind(email.dedupe_key.as_deref())
    .bind(job.as_str())
    .bind(to_micros(now))
    .execute(tx)
    .await?
    .rows_affected();
    if made == 0 {
        return Ok(false);
    }
    let payload = JobPayload::Email(SendEmail {
        email_id: email.id.clone(),
    });
    query("INSERT INTO jobs (id, kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(job.as_str())
        .bind(JobKind::Email.as_str())
        .bind(payload.to_payload().to_string())
        .bind(to_micros(now))
        .execute(tx)
        .await?;
    Ok(true)
}

/// The partner's `notificationEmail`, if it has one.
pub(crate) async fn notification_email(tx: &mut dyn Conn, partner: &str) -> Result<Option<Email>> {
    let row = query("SELECT notification_email FROM partners WHERE id = $1")
        .bind(partner)
        .fetch_optional(tx)
        .await?;
    Ok(match row {
        Some(row) => row
            .try_get::<Option<String>, _>("notification_email")?
            .map(Email::from_trusted),
        None => None,
    })
}

fn email_from_row(row: &Row) -> Result<EmailRecord> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(EmailRecord {
        id: EmailId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        kind: EmailKind::parse_str(&kind).ok_or_else(|| bad("email kind"))?,
        to: Email::from_trusted(row.try_get("recipient")?),
        payment_id: row
            .try_get::<Option<String>, _>("payment_id")?
            .map(PaymentId::from_trusted),
        payment_request_id: row
            .try_get::<Option<String>, _>("payment_request_id")?
            .map(PaymentRequestId::from_trusted),
        webhook_endpoint_id: row
            .try_get::<Option<String>, _>("webhook_endpoint_id")?
            .map(WebhookEndpointId::from_trusted),
        status: EmailStatus::parse_str(&status).ok_or_else(|| bad("email status"))?,
        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
        last_error: row.try_get("last_error")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
        sent_at: time_opt(row.try_get("sent_at")?),
    })
}

/// The emails one event causes ([`kassa_core::mail::for_event`]), each written once: how many
/// were new. `notify` keeps each partner's notification email for the batch.
pub(crate) async fn plan_event_emails(
    tx: &mut dyn Conn,
    notify: &mut HashMap<String, Option<Email>>,
    partner: &str,
    event_id: &str,
    event_type: &str,
    data: &str,
    now: OffsetDateTime,
) -> Result<usize> {
    let Some(event) = EventType::parse_str(event_type) else {
        return Ok(0);
    };
    if !matches!(
        event,
        EventType::PaymentCompleted | EventType::PaymentPending | EventType::PaymentFailed
    ) {
        return Ok(0);
    }
    let facts: PaymentFacts = serde_json::from_str(data).map_err(|_| bad("payment event data"))?;
    if !notify.contains_key(partner) {
        let to = notification_email(tx, partner).await?;
        notify.insert(partner.to_owned(), to);
    }
    let mut made = 0;
    for planned in mail::for_event(event, &facts, notify[partner].as_ref()) {
        let email = NewEmail {
            id: EmailId::generate(),
            partner_id: PartnerId::from_trusted(partner.to_owned()),
            kind: planned.kind,
            to: planned.to,
            payment_id: Some(PaymentId::from_trusted(facts.id.clone())),
            payment_request_id: None,
            webhook_endpoint_id: None,
            dedupe_key: Some(mail::dedupe_key(planned.kind, event_id)),
        };
        if insert_email(tx, &email, now).await? {
            made += 1;
        }
    }
    Ok(made)
}

/// Tells the partner (when it has a notification email) that an endpoint was disabled, in the
/// transaction that disabled it.
pub(crate) async fn notify_endpoint_disabled(
    tx: &mut dyn Conn,
    partner: &str,
    endpoint: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let Some(to) = notification_email(tx, partner).await? else {
        return Ok(());
    };
    let email = NewEmail {
        id: EmailId::generate(),
        partner_id: PartnerId::from_trusted(partner.to_owned()),
        kind: EmailKind::EndpointDisabled,
        to,
        payment_id: None,
        payment_request_id: None,
        webhook_endpoint_id: Some(WebhookEndpointId::from_trusted(endpoint.to_owned())),
        dedupe_key: Some(format!(
            "{}:{endpoint}:{}",
            EmailKind::EndpointDisabled.as_str(),
            to_micros(now)
        )),
    };
    insert_email(tx, &email, now).await?;
    Ok(())
}

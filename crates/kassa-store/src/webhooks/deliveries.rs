//! Webhook deliveries: the outbox dispatched into one delivery (and its durable job) per
//! matching endpoint, the attempts each makes, and retries.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::email::Email;
use kassa_core::id::{EventId, JobId, PartnerId, WebhookDeliveryId, WebhookEndpointId};
use kassa_core::job::JobPayload;
use kassa_core::webhook::{DeliveryStatus, EndpointStatus, EventFilter};
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::Result;

use kassa_core::webhook::{describe_attempt, disabled_reason, should_disable};
use std::collections::HashMap;

use super::*;

#[async_trait]
pub trait WebhookDeliveryStore {
    /// Turns up to `limit` undispatched events (oldest first) into deliveries — one for each
    /// enabled endpoint of the event's partner whose filter matches and that existed when the
    /// event happened — each with its job due now, and marks the events dispatched; one
    /// transaction. Instances sharing a database take different events.
    /// Fans out events recorded since the last call: to each enabled endpoint that wants them a
    /// delivery, and — with `send_email` (SMTP is set up) — the emails they cause
    /// ([`kassa_core::mail::for_event`]), each once.
    async fn dispatch_events(
        &self,
        limit: i64,
        send_email: bool,
        now: OffsetDateTime,
    ) -> Result<DispatchReport>;
    /// An endpoint's deliveries with their attempts, newest first; only `status` when given.
    async fn list_webhook_deliveries(
        &self,
        partner: &PartnerId,
        endpoint: &WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>>;
    /// One of the partner's deliveries with its attempts, unless its endpoint was deleted.
    async fn webhook_delivery(
        &self,
        partner: &PartnerId,
        id: &WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>>;
    /// The delivery, its endpoint (deleted too), the endpoint's secrets and the event.
    async fn webhook_delivery_work(&self, id: &WebhookDeliveryId) -> Result<Option<DeliveryWork>>;
    /// Records an attempt and what follows from it, in one transaction: the delivery's state (if
    /// still pending), its job (done or due again), and
    /// the endpoint's health, which disables it (failing every pending delivery) once
    /// [`kassa_core::webhook::should_disable`] says so. Whether the endpoint was disabled now.
    /// Only while `worker` holds the job's lease: otherwise nothing is recorded
    /// ([`crate::StoreError::LeaseLost`]).
    async fn record_webhook_attempt(
        &self,
        record: &AttemptRecord,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Ends a pending delivery without an attempt (its endpoint was deleted or disabled), and its
    /// job — only while `worker` holds the lease ([`crate::StoreError::LeaseLost`] otherwise).
    async fn drop_webhook_delivery(
        &self,
        id: &WebhookDeliveryId,
        job: &JobId,
        worker: &str,
        status: DeliveryStatus,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Ends `worker`'s lease on a delivery's job that had nothing to send: done — unless its
    /// delivery is pending again (a retry came meanwhile), then it is due at once.
    /// [`crate::StoreError::LeaseLost`] when `worker` does not hold it.
    async fn release_webhook_job(
        &self,
        job: &JobId,
        worker: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Makes the delivery pending and due now, whatever its state, so a new attempt is made.
    async fn retry_webhook_delivery(
        &self,
        partner: &PartnerId,
        id: &WebhookDeliveryId,
        by: &Caller,
    ) -> Result<RetryOutcome>;
}

#[async_trait]
impl<B: Backend> WebhookDeliveryStore for B {
    async fn dispatch_events(
        &self,
        limit: i64,
        send_email: bool,
        now: OffsetDateTime,
    ) -> Result<DispatchReport> {
        let mut tx = self.begin_write().await?;
        let events = query(format!(
            "SELECT id, partner_id, type, data, created_at FROM events WHERE dispatched_at IS NULL \
             ORDER BY seq LIMIT $1{}",
            B::SKIP_LOCKED
        ))
        .bind(limit)
        .fetch_all(&mut tx)
        .await?;
        if events.is_empty() {
            tx.commit().await?;
            return Ok(DispatchReport::default());
        }
        let mut report = DispatchReport::default();
        // Each partner's enabled endpoints, read once per batch. One deleted or
        // disabled while this runs may still get a delivery: the worker ends it unsent.
        let mut endpoints: HashMap<String, Vec<(String, EventFilter, i64)>> = HashMap::new();
        let mut notify: HashMap<String, Option<Email>> = HashMap::new();
        let mut dispatched = Vec::with_capacity(events.len());
        for event in &events {
            let event_id: String = event.try_get("id")?;
            let partner: String = event.try_get("partner_id")?;
            let event_type: String = event.try_get("type")?;
            let created_at: i64 = event.try_get("created_at")?;
            if send_email {
                let data: String = event.try_get("data")?;
                report.emails += crate::emails::plan_event_emails(
                    &mut tx,
                    &mut notify,
                    &partner,
                    &event_id,
                    &event_type,
                    &data,
                    now,
                )
                .await?;
            }
            if !endpoints.contains_key(&partner) {
                let rows = query(
                    "SELECT id, events, created_at FROM webhook_endpoints WHERE partner_id = $1 \
                     AND status = 'enabled' AND deleted_at IS NULL",
                )
                .bind(&partner)
                .fetch_all(&mut tx)
                .await?;
                let mut list = Vec::with_capacity(rows.len());
                for row in &rows {
                    let events: String = row.try_get("events")?;
                    let events: Vec<String> =
                        serde_json::from_str(&events).map_err(|_| bad("webhook events"))?;
                    list.push((
                        row.try_get("id")?,
                        EventFilter::from_trusted(events),
                        row.try_get("created_at")?,
                    ));
                }
                endpoints.insert(partner.clone(), list);
            }
            for (endpoint, filter, endpoint_created) in &endpoints[&partner] {
                // An endpoint gets what happens from its creation on.
                if *endpoint_created > created_at || !filter.matches(&event_type) {
                    continue;
                }
                let job = JobId::generate();
                let delivery = WebhookDeliveryId::generate();
                let made = query(
                    "INSERT INTO webhook_deliveries (id, partner_id, endpoint_id, event_id, event_type, job_id, \
                     status, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) \
                     ON CONFLICT (endpoint_id, event_id) DO NOTHING",
                )
                .bind(delivery.as_str())
                .bind(&partner)
                .bind(endpoint)
                .bind(&event_id)
                .bind(&event_type)
                .bind(job.as_str())
                .bind(to_micros(now))
                .execute(&mut tx)
                .await?
                .rows_affected();
                if made == 0 {
                    continue;
                }
                query("INSERT INTO jobs (id, kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $4)")
                    .bind(job.as_str())
                    .bind(WEBHOOK_DELIVERY_JOB)
                    .bind(
                        JobPayload::WebhookDelivery(kassa_core::job::WebhookDelivery {
                            delivery_id: delivery.clone(),
                        })
                        .to_payload()
                        .to_string(),
                    )
                    .bind(to_micros(now))
                    .execute(&mut tx)
                    .await?;
                report.deliveries += 1;
            }
            dispatched.push(event_id);
        }
        // Every event of the batch marked in one statement: the dispatcher holds the
        // (SQLite) write connection meanwhile, and payments wait for it.
        let mut sql = String::from("UPDATE events SET dispatched_at = $1 WHERE id IN (");
        for i in 0..dispatched.len() {
            sql.push_str(if i == 0 { "$" } else { ", $" });
            sql.push_str(&(i + 2).to_string());
        }
        sql.push(')');
        // Not kept prepared: its text varies with the batch's size, and up to 100
        // variants would push the payment statements out of the statement cache.
        let mut update = query(sql).persistent(false).bind(to_micros(now));
        for id in &dispatched {
            update = update.bind(id.as_str());
        }
        update.execute(&mut tx).await?;
        report.events = dispatched.len();
        tx.commit().await?;
        Ok(report)
    }

    async fn list_webhook_deliveries(
        &self,
        partner: &PartnerId,
        endpoint: &WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>> {
        let cursor: Option<i64> = match &page.starting_after {
            None => None,
            Some(id) => {
                let seq = query_scalar(
                    "SELECT seq FROM webhook_deliveries WHERE partner_id = $1 AND endpoint_id = $2 AND id = $3",
                )
                .bind(partner.as_str())
                .bind(endpoint.as_str())
                .bind(id)
                .fetch_optional(&mut self.reader())
                .await?;
                match seq {
                    Some(seq) => Some(seq),
                    None => return Ok(Page::UnknownCursor),
                }
            }
        };
        let status = status.map(DeliveryStatus::as_str);
        let rows = query(concat!(
            "SELECT ",
            crate::webhooks::delivery_cols!("d."),
            " FROM webhook_deliveries d \
             WHERE d.partner_id = $1 AND d.endpoint_id = $2 AND ($3 IS NULL OR d.seq < $3) \
             AND ($4 IS NULL OR d.status = $4) ORDER BY d.seq DESC LIMIT $5"
        ))
        .bind(partner.as_str())
        .bind(endpoint.as_str())
        .bind(cursor)
        .bind(status)
        .bind(page.limit + 1)
        .fetch_all(&mut self.reader())
        .await?;
        let has_more = rows.len() as i64 > page.limit;
        let mut data = rows
            .iter()
            .take(page.limit as usize)
            .map(delivery_from_row)
            .collect::<Result<Vec<_>>>()?;
        if let Some(oldest) = data.last() {
            // The attempts of the deliveries on this page: newer than the cursor and
            // no older than the page's last one.
            let rows = query(
                "SELECT a.delivery_id, a.attempted_at, a.status_code, a.error, a.latency_ms \
                 FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
                 WHERE d.partner_id = $1 AND d.endpoint_id = $2 AND ($3 IS NULL OR d.seq < $3) \
                 AND d.seq >= (SELECT seq FROM webhook_deliveries WHERE id = $4) ORDER BY a.seq",
            )
            .bind(partner.as_str())
            .bind(endpoint.as_str())
            .bind(cursor)
            .bind(oldest.id.as_str())
            .fetch_all(&mut self.reader())
            .await?;
            attach_attempts(&mut data, &rows)?;
        }
        Ok(Page::Items { data, has_more })
    }

    async fn webhook_delivery(
        &self,
        partner: &PartnerId,
        id: &WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>> {
        let Some(mut delivery) = delivery_in(&mut self.reader(), partner, id).await? else {
            return Ok(None);
        };
        attempts_of(&mut self.reader(), &mut delivery).await?;
        Ok(Some(delivery))
    }

    async fn webhook_delivery_work(&self, id: &WebhookDeliveryId) -> Result<Option<DeliveryWork>> {
        let mut conn = self.reader();
        let row = query(concat!(
            "SELECT ",
            crate::webhooks::delivery_cols!(""),
            ", job_id FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut delivery = delivery_from_row(&row)?;
        let job_id = JobId::from_trusted(row.try_get("job_id")?);
        attempts_of(&mut conn, &mut delivery).await?;
        let row = query(concat!(
            "SELECT ", crate::webhooks::webhook_cols!(), ", deleted_at, secret_nonce, secret_ciphertext, \
             previous_secret_nonce, previous_secret_ciphertext FROM webhook_endpoints WHERE id = $1"
        ))
        .bind(delivery.endpoint_id.as_str())
        .fetch_one(&mut conn)
        .await?;
        let endpoint = endpoint_from_row(&row)?;
        let endpoint_deleted = row.try_get::<Option<i64>, _>("deleted_at")?.is_some();
        let current = sealed(&row, "secret_nonce", "secret_ciphertext")?
            .ok_or_else(|| bad("webhook secret"))?;
        let previous = match (
            sealed(&row, "previous_secret_nonce", "previous_secret_ciphertext")?,
            endpoint.previous_secret_expires_at,
        ) {
            (Some(secret), Some(until)) => Some((secret, until)),
            _ => None,
        };
        let row = query("SELECT id, type, data, created_at FROM events WHERE id = $1")
            .bind(delivery.event_id.as_str())
            .fetch_one(&mut conn)
            .await?;
        let data: String = row.try_get("data")?;
        let event = EventRecord {
            id: EventId::from_trusted(row.try_get("id")?),
            event_type: row.try_get("type")?,
            data: serde_json::from_str(&data).map_err(|_| bad("event data"))?,
            created_at: from_micros(row.try_get("created_at")?),
        };
        Ok(Some(DeliveryWork {
            delivery,
            job_id,
            endpoint,
            endpoint_deleted,
            secrets: EndpointSecrets { current, previous },
            event,
        }))
    }

    async fn record_webhook_attempt(
        &self,
        record: &AttemptRecord,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let endpoint: String =
            query_scalar("SELECT endpoint_id FROM webhook_deliveries WHERE id = $1")
                .bind(record.delivery_id.as_str())
                .fetch_one(&mut tx)
                .await?;
        // The endpoint first, as every change to an endpoint and its deliveries does.
        let live = lock_endpoint(&mut tx, &endpoint).await?;
        let a = &record.attempt;
        let (status, next, completed) = match &record.outcome {
            AttemptOutcome::Delivered => (DeliveryStatus::Succeeded, None, Some(now)),
            AttemptOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(*at), None),
            AttemptOutcome::Failed => (DeliveryStatus::Failed, None, Some(now)),
        };
        // Only the lease holder records: a worker whose lease ran out and was taken over
        // (`LeaseLost`) leaves the attempt to the one that holds it now.
        crate::jobs::finish_job(&mut tx, &record.job_id, &record.worker, next, now).await?;
        query(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, latency_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.delivery_id.as_str())
        .bind(to_micros(a.attempted_at))
        .bind(a.status_code.map(i32::from))
        .bind(a.error.as_deref())
        .bind(i32::try_from(a.latency_ms).unwrap_or(i32::MAX))
        .execute(&mut tx)
        .await?;
        // Only a delivery still pending: one canceled or failed meanwhile stays so.
        query(
            "UPDATE webhook_deliveries SET status = $2, attempt_count = attempt_count + 1, \
             first_attempt_at = COALESCE(first_attempt_at, $3), next_attempt_at = $4, completed_at = $5 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(record.delivery_id.as_str())
        .bind(status.as_str())
        .bind(to_micros(a.attempted_at))
        .bind(next.map(to_micros))
        .bind(completed.map(to_micros))
        .execute(&mut tx)
        .await?;
        let mut disabled = false;
        if live.is_some() {
            if record.outcome == AttemptOutcome::Delivered {
                query("UPDATE webhook_endpoints SET failing_since = NULL, failed_deliveries = 0 WHERE id = $1")
                    .bind(&endpoint)
                    .execute(&mut tx)
                    .await?;
            } else {
                let failed_for_good = i32::from(record.outcome == AttemptOutcome::Failed);
                let row = query(
                    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2), \
                     failed_deliveries = failed_deliveries + $3 WHERE id = $1 \
                     RETURNING status, failing_since, failed_deliveries, partner_id",
                )
                .bind(&endpoint)
                .bind(to_micros(a.attempted_at))
                .bind(failed_for_good)
                .fetch_one(&mut tx)
                .await?;
                let status: String = row.try_get("status")?;
                let since = from_micros(row.try_get("failing_since")?);
                let failed = i64::from(row.try_get::<i32, _>("failed_deliveries")?);
                if status == "enabled" && should_disable(now, since, failed) {
                    let reason = disabled_reason(
                        since,
                        failed,
                        &describe_attempt(a.status_code, a.error.as_deref()),
                    );
                    query(
                        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, disabled_at = $3, \
                         updated_at = $3 WHERE id = $1",
                    )
                    .bind(&endpoint)
                    .bind(reason)
                    .bind(to_micros(now))
                    .execute(&mut tx)
                    .await?;
                    end_pending(&mut tx, &endpoint, DeliveryStatus::Failed, now).await?;
                    if record.email_partner {
                        let partner: String = row.try_get("partner_id")?;
                        crate::emails::notify_endpoint_disabled(&mut tx, &partner, &endpoint, now)
                            .await?;
                    }
                    disabled = true;
                }
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    async fn drop_webhook_delivery(
        &self,
        id: &WebhookDeliveryId,
        job: &JobId,
        worker: &str,
        status: DeliveryStatus,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The job before the delivery, in the order `end_pending` takes them.
        crate::jobs::finish_job(&mut tx, job, worker, None, now).await?;
        query(
            "UPDATE webhook_deliveries SET status = $2, next_attempt_at = NULL, completed_at = $3 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id.as_str())
        .bind(status.as_str())
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_webhook_job(
        &self,
        job: &JobId,
        worker: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let released = query(
            "UPDATE jobs SET locked_by = NULL, locked_until = NULL, done_at = CASE WHEN EXISTS \
             (SELECT 1 FROM webhook_deliveries WHERE job_id = $1 AND status = 'pending') THEN NULL ELSE $3 END \
             WHERE id = $1 AND locked_by = $2",
        )
        .bind(job.as_str())
        .bind(worker)
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        if released.rows_affected() == 0 {
            return Err(crate::StoreError::LeaseLost);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn retry_webhook_delivery(
        &self,
        partner: &PartnerId,
        id: &WebhookDeliveryId,
        by: &Caller,
    ) -> Result<RetryOutcome> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let Some(found) = delivery_in(&mut tx, partner, id).await? else {
            return Ok(RetryOutcome::NotFound);
        };
        match lock_endpoint(&mut tx, found.endpoint_id.as_str()).await? {
            None => return Ok(RetryOutcome::NotFound),
            Some(EndpointStatus::Disabled) => {
                let mut delivery = found;
                attempts_of(&mut tx, &mut delivery).await?;
                return Ok(RetryOutcome::EndpointDisabled(delivery));
            }
            Some(EndpointStatus::Enabled) => {}
        }
        let row = query(concat!(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, completed_at = NULL \
             WHERE id = $1 RETURNING ", crate::webhooks::delivery_cols!(""), ", job_id"
        ))
        .bind(id.as_str())
        .bind(to_micros(now))
        .fetch_one(&mut tx)
        .await?;
        let mut delivery = delivery_from_row(&row)?;
        let job: String = row.try_get("job_id")?;
        // Due now. A lease held by an attempt in flight is left alone: that attempt's
        // outcome is then this retry's.
        query("UPDATE jobs SET run_at = $2, done_at = NULL WHERE id = $1")
            .bind(&job)
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?;
        attempts_of(&mut tx, &mut delivery).await?;
        let entry = Entry::succeeded(Action::WebhookDeliveryRetried, id.as_str());
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(RetryOutcome::Scheduled(delivery))
    }
}

pub(crate) fn delivery_from_row(row: &Row) -> Result<WebhookDelivery> {
    let status: String = row.try_get("status")?;
    Ok(WebhookDelivery {
        id: WebhookDeliveryId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        endpoint_id: WebhookEndpointId::from_trusted(row.try_get("endpoint_id")?),
        event_id: EventId::from_trusted(row.try_get("event_id")?),
        event_type: row.try_get("event_type")?,
        status: DeliveryStatus::parse_str(&status).ok_or_else(|| bad("webhook delivery status"))?,
        attempt_count: i64::from(row.try_get::<i32, _>("attempt_count")?),
        first_attempt_at: time_opt(row.try_get("first_attempt_at")?),
        next_attempt_at: time_opt(row.try_get("next_attempt_at")?),
        created_at: from_micros(row.try_get("created_at")?),
        completed_at: time_opt(row.try_get("completed_at")?),
        attempts: Vec::new(),
    })
}

pub(crate) fn attempt_from_row(row: &Row) -> Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        attempted_at: from_micros(row.try_get("attempted_at")?),
        status_code: row
            .try_get::<Option<i32>, _>("status_code")?
            .map(|c| u16::try_from(c).map_err(|_| bad("webhook status code")))
            .transpose()?,
        error: row.try_get("error")?,
        latency_ms: i64::from(row.try_get::<i32, _>("latency_ms")?),
    })
}

/// Gives each delivery its attempts (rows ordered oldest first).
pub(crate) fn attach_attempts(deliveries: &mut [WebhookDelivery], rows: &[Row]) -> Result<()> {
    let mut by_delivery: HashMap<String, Vec<WebhookAttempt>> = HashMap::new();
    for row in rows {
        let id: String = row.try_get("delivery_id")?;
        by_delivery
            .entry(id)
            .or_default()
            .push(attempt_from_row(row)?);
    }
    for d in deliveries {
        d.attempts = by_delivery.remove(d.id.as_str()).unwrap_or_default();
    }
    Ok(())
}

/// Ends every pending delivery of the endpoint with `status`, and their jobs.
pub(crate) async fn end_pending(
    tx: &mut dyn Conn,
    endpoint: &str,
    status: DeliveryStatus,
    now: OffsetDateTime,
) -> Result<()> {
    // Done, but a lease stays with its holder: an attempt in flight is still recorded by it
    // (`record_webhook_attempt`), and a done job is never claimed again.
    query(
        "UPDATE jobs SET done_at = $2 WHERE done_at IS NULL \
         AND id IN (SELECT job_id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending')",
    )
    .bind(endpoint)
    .bind(to_micros(now))
    .execute(&mut *tx)
    .await?;
    query(
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = NULL, completed_at = $3 \
         WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(endpoint)
    .bind(status.as_str())
    .bind(to_micros(now))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn delivery_in(
    executor: &mut dyn Conn,
    partner: &PartnerId,
    id: &WebhookDeliveryId,
) -> Result<Option<WebhookDelivery>> {
    let row = query(concat!(
        "SELECT ",
        crate::webhooks::delivery_cols!("d."),
        " FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.partner_id = $1 AND d.id = $2 AND e.deleted_at IS NULL"
    ))
    .bind(partner.as_str())
    .bind(id.as_str())
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(delivery_from_row).transpose()
}

pub(crate) async fn attempts_of(
    executor: &mut dyn Conn,
    delivery: &mut WebhookDelivery,
) -> Result<()> {
    let rows = query(
        "SELECT delivery_id, attempted_at, status_code, error, latency_ms FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY seq",
    )
    .bind(delivery.id.as_str())
    .fetch_all(executor)
    .await?;
    attach_attempts(std::slice::from_mut(delivery), &rows)
}

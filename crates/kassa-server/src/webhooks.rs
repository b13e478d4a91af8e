//! Webhooks (docs/api.md §5): the partner's endpoints — shared by the JSON API
//! (`api/webhooks.rs`) and the dashboard — and the worker that delivers events to them.
//!
//! Delivery is at least once. Each event becomes one delivery per matching endpoint in the
//! transaction that marks it dispatched ([`dispatch`]); each delivery has a durable job, leased
//! by one instance at a time, that POSTs the event and then records the attempt. A process that
//! dies after sending but before recording leaves the job leased; when the lease runs out
//! another worker sends the same event again (same `id` and `Kassa-Event-Id`), so receivers
//! must treat an event id they have seen as done.

use std::time::Instant;

use anyhow::Context;
use hmac::{Hmac, Mac};
use kassa_core::audit::Caller;
use kassa_core::error::FieldErrors;
use kassa_core::id::{WebhookDeliveryId, WebhookEndpointId};
use kassa_core::job::{JobKind, JobPayload};
use kassa_core::secret::Secret;
use kassa_core::webhook::{
    self, DeliveryStatus, EndpointStatus, EventFilter, Verdict, MAX_ENDPOINTS,
};
use kassa_store::{
    AttemptOutcome, AttemptRecord, CreateEndpointOutcome, DispatchReport, Job, NewWebhookEndpoint,
    Page, PageRequest, Partner, RetryOutcome, SealedSecret, StoreError, WebhookAttempt,
    WebhookDelivery, WebhookEndpoint,
};
use rand::Rng;
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;
use crate::webhook_network;

/// A new endpoint, as `POST /v1/webhook-endpoints` and the dashboard's form give it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateWebhookEndpointBody)]
pub struct EndpointInput {
    /// Where events are POSTed: an absolute `https` URL, at most 2048 characters, without a user
    /// name or password, whose host is a name or an IP address in its usual form and has only
    /// public addresses (`url_not_allowed` otherwise; `url_unresolvable` for a name that does not
    /// resolve). Plain `http`, and loopback and private addresses, only where the operator allows
    /// private networks (for development).
    #[schema(required = true, nullable = false, format = "uri", max_length = 2048)]
    pub url: Option<String>,
    /// `["*"]` for every event, or the event types to send, e.g. `["payment.completed"]`.
    #[schema(required = true, nullable = false, min_items = 1)]
    pub events: Option<Vec<String>>,
    /// For you: what the endpoint is for. At most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// A new signing secret: `whsec_` and 32 base62 characters.
fn new_secret() -> Secret<String> {
    Secret::new(format!("whsec_{}", kassa_core::id::random_base62(32)))
}

fn seal(state: &AppState, partner: &Partner, id: &WebhookEndpointId, secret: &str) -> SealedSecret {
    let (nonce, ciphertext) = state
        .vault
        .seal_for(&partner.id, id.as_str(), secret.as_bytes());
    SealedSecret { nonce, ciphertext }
}

fn endpoint_id(id: &str) -> Result<WebhookEndpointId, ApiError> {
    WebhookEndpointId::parse(id).map_err(|_| ApiError::not_found("webhook endpoint"))
}

fn delivery_id(id: &str) -> Result<WebhookDeliveryId, ApiError> {
    WebhookDeliveryId::parse(id).map_err(|_| ApiError::not_found("webhook delivery"))
}

/// Makes an endpoint; every invalid field is reported at once and then nothing is made. The
/// signing secret is returned this once (it is kept only sealed with the vault key).
pub async fn create(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    input: EndpointInput,
) -> Result<(WebhookEndpoint, Secret<String>), ApiError> {
    let mut errors = FieldErrors::new();
    let url = match input.url.as_deref().map(str::trim) {
        None | Some("") => {
            errors.add("url", "required", "is required");
            None
        }
        Some(url) => errors.take("url", state.webhook_client.check_url(url).await),
    };
    let events = match &input.events {
        None => {
            errors.add(
                "events",
                "required",
                "is required: [\"*\"] or a list of event types",
            );
            None
        }
        Some(events) => EventFilter::parse(&mut errors, "events", events),
    };
    let description = kassa_core::text::optional(
        &mut errors,
        "description",
        input.description,
        webhook::DESCRIPTION_MAX_CHARS,
    );
    errors.finish().map_err(ApiError::validation)?;
    let (Some(url), Some(events)) = (url, events) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated webhook fields missing"
        )));
    };
    let id = WebhookEndpointId::generate();
    let secret = new_secret();
    let new = NewWebhookEndpoint {
        secret: seal(state, partner, &id, secret.expose()),
        id,
        url,
        description,
        events,
    };
    match state
        .store
        .create_webhook_endpoint(&partner.id, &new, MAX_ENDPOINTS, by)
        .await?
    {
        CreateEndpointOutcome::Created(endpoint) => Ok((endpoint, secret)),
        CreateEndpointOutcome::TooMany => Err(ApiError::invalid_state(
            "too_many_endpoints",
            format!("an account has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
        )),
    }
}

/// The partner's endpoints, newest first.
pub async fn list(
    state: &AppState,
    partner: &Partner,
    page: &PageRequest,
) -> Result<Page<WebhookEndpoint>, ApiError> {
    Ok(state
        .store
        .list_webhook_endpoints(&partner.id, page)
        .await?)
}

/// One of the partner's endpoints (`we_…`); another partner's, or a deleted one, is a 404.
pub async fn get(
    state: &AppState,
    partner: &Partner,
    id: &str,
) -> Result<WebhookEndpoint, ApiError> {
    state
        .store
        .webhook_endpoint(&partner.id, &endpoint_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// Deletes an endpoint: nothing more is sent to it (pending deliveries are canceled) and its
/// secrets are destroyed.
pub async fn delete(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
) -> Result<WebhookEndpoint, ApiError> {
    state
        .store
        .delete_webhook_endpoint(&partner.id, &endpoint_id(id)?, by)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// Gives the endpoint a new signing secret, returned this once. For 24 hours the old one signs
/// too (a second `v1` in `Kassa-Signature`), so the receiver can switch without missing events.
pub async fn rotate_secret(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
) -> Result<(WebhookEndpoint, Secret<String>), ApiError> {
    let id = endpoint_id(id)?;
    let secret = new_secret();
    let endpoint = state
        .store
        .rotate_webhook_secret(
            &partner.id,
            &id,
            &seal(state, partner, &id, secret.expose()),
            by.at + webhook::ROTATION_OVERLAP,
            by,
        )
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    Ok((endpoint, secret))
}

/// Enables an endpoint again (after it was disabled for failing) and forgets its failures.
pub async fn enable(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
) -> Result<WebhookEndpoint, ApiError> {
    state
        .store
        .enable_webhook_endpoint(&partner.id, &endpoint_id(id)?, by)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// An endpoint's deliveries with their attempts, newest first; only `status` when given.
pub async fn deliveries(
    state: &AppState,
    partner: &Partner,
    endpoint: &str,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> Result<Page<WebhookDelivery>, ApiError> {
    let endpoint = get(state, partner, endpoint).await?;
    Ok(state
        .store
        .list_webhook_deliveries(&partner.id, &endpoint.id, status, page)
        .await?)
}

/// Sends a delivery again now (a new attempt, also when it failed or succeeded before); the
/// worker makes the attempt within a poll interval. An endpoint that is disabled must be enabled
/// first (422 `endpoint_disabled`).
pub async fn retry(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
) -> Result<WebhookDelivery, ApiError> {
    match state
        .store
        .retry_webhook_delivery(&partner.id, &delivery_id(id)?, by)
        .await?
    {
        RetryOutcome::Scheduled(delivery) => Ok(delivery),
        RetryOutcome::NotFound => Err(ApiError::not_found("webhook delivery")),
        RetryOutcome::EndpointDisabled(_) => Err(ApiError::invalid_state(
            "endpoint_disabled",
            "the webhook endpoint is disabled; enable it first",
        )),
    }
}

// ---- the worker

/// Events dispatched per transaction.
const DISPATCH_BATCH: i64 = 100;

/// Turns every undispatched event into deliveries (and their jobs); what it did.
pub async fn dispatch(state: &AppState) -> anyhow::Result<DispatchReport> {
    let mut total = DispatchReport::default();
    // Bounded, so a flood of events cannot keep one run from the jobs it made.
    for _ in 0..20 {
        let report = state
            .store
            .dispatch_events(DISPATCH_BATCH, state.mailer.is_some(), state.clock.now())
            .await?;
        total.events += report.events;
        total.deliveries += report.deliveries;
        if (report.events as i64) < DISPATCH_BATCH {
            break;
        }
    }
    Ok(total)
}

/// `Kassa-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one `v1`
/// per secret (two while a rotation overlaps).
pub fn signature_header(t: i64, body: &[u8], secrets: &[&[u8]]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

/// What [`send`] did.
// Returned once per attempt and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Attempted {
    /// The delivery is not pending (it ended meanwhile): nothing to send.
    NothingDue,
    /// Its endpoint was deleted or disabled: it ends unsent, with this status.
    Dropped(DeliveryStatus),
    /// Sent; the attempt is still to be recorded.
    Sent(SentAttempt),
}

#[derive(Debug)]
pub struct SentAttempt {
    pub delivery: WebhookDelivery,
    pub attempt: WebhookAttempt,
    pub verdict: Verdict,
}

/// Makes one attempt at a delivery: POSTs the event, signed, to its endpoint. Records nothing:
/// the caller records the attempt (a crash before that sends it again later).
pub async fn send(state: &AppState, id: &WebhookDeliveryId) -> anyhow::Result<Attempted> {
    let Some(work) = state.store.webhook_delivery_work(id).await? else {
        return Ok(Attempted::NothingDue);
    };
    if work.delivery.status != DeliveryStatus::Pending {
        return Ok(Attempted::NothingDue);
    }
    if work.endpoint_deleted {
        return Ok(Attempted::Dropped(DeliveryStatus::Canceled));
    }
    if work.endpoint.status == EndpointStatus::Disabled {
        return Ok(Attempted::Dropped(DeliveryStatus::Failed));
    }
    let now = state.clock.now();
    let request = match state.webhook_client.post(work.endpoint.url.as_str()) {
        Ok(request) => request,
        // An IP address Kassa may not reach: nothing is sent.
        Err(refused) => {
            return Ok(Attempted::Sent(SentAttempt {
                delivery: work.delivery,
                verdict: refused.verdict(),
                attempt: WebhookAttempt {
                    attempted_at: now,
                    status_code: None,
                    error: Some(refused.attempt_error().to_string()),
                    latency_ms: 0,
                },
            }))
        }
    };
    let partner = &work.endpoint.partner_id;
    let owner = work.endpoint.id.as_str();
    let open = |s: &SealedSecret| {
        state
            .vault
            .open_for(partner, owner, &s.nonce, &s.ciphertext)
            .context("a webhook secret could not be decrypted")
    };
    let mut secrets = vec![open(&work.secrets.current)?];
    if let Some((previous, until)) = &work.secrets.previous {
        if now < *until {
            secrets.push(open(previous)?);
        }
    }
    let keys: Vec<&[u8]> = secrets.iter().map(|s| s.expose().as_slice()).collect();
    let event_id = work.event.id.clone();
    let body = serde_json::to_vec(&crate::event_object::event_of(work.event))?;
    let signature = signature_header(now.unix_timestamp(), &body, &keys);
    let started = Instant::now();
    let answer = request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Kassa-Signature", signature)
        .header("Kassa-Event-Id", event_id.as_str())
        .header("Kassa-Delivery-Id", work.delivery.id.as_str())
        .body(body)
        .send()
        .await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    // The answer's body is not read: only the status counts.
    let (status_code, error, verdict) = match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            (Some(status), None, webhook::verdict(status))
        }
        Err(e) => match webhook_network::refusal(&e) {
            // The host's name resolved to an address Kassa may not reach: nothing was sent.
            Some(refused) => (
                None,
                Some(refused.attempt_error().to_string()),
                refused.verdict(),
            ),
            None => (None, Some(describe_error(&e)), Verdict::Retry),
        },
    };
    Ok(Attempted::Sent(SentAttempt {
        delivery: work.delivery,
        verdict,
        attempt: WebhookAttempt {
            attempted_at: now,
            status_code,
            error,
            latency_ms,
        },
    }))
}

/// Why a request got no answer, in as few words as say nothing of the network behind the
/// endpoint: never the URL (its query may hold a token), an address, or how the connection
/// failed (which would tell which ports answer).
fn describe_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out after {} s", webhook::ATTEMPT_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed: no valid HTTP answer".to_string()
    }
}

/// Records a sent attempt and schedules what follows: done, a retry with backoff, or failed.
async fn record(state: &AppState, job: &Job, sent: SentAttempt) -> anyhow::Result<()> {
    let now = state.clock.now();
    let made = u32::try_from(sent.delivery.attempt_count + 1).unwrap_or(u32::MAX);
    let first = sent
        .delivery
        .first_attempt_at
        .unwrap_or(sent.attempt.attempted_at);
    let outcome = match sent.verdict {
        Verdict::Delivered => AttemptOutcome::Delivered,
        Verdict::Refused => AttemptOutcome::Failed,
        Verdict::Retry => {
            let jitter = rand::rng().random::<f64>();
            match webhook::next_attempt(now, first, made, jitter) {
                Some(at) => AttemptOutcome::RetryAt(at),
                None => AttemptOutcome::Failed,
            }
        }
    };
    let record = AttemptRecord {
        delivery_id: sent.delivery.id.clone(),
        job_id: job.id.clone(),
        worker: state.worker_id.clone(),
        attempt: sent.attempt,
        outcome,
        email_partner: state.mailer.is_some(),
    };
    let disabled = state.store.record_webhook_attempt(&record, now).await?;
    state.metrics.webhook_delivery(&record.outcome);
    if disabled {
        tracing::warn!(
            endpoint = %sent.delivery.endpoint_id,
            "webhook endpoint disabled: its deliveries kept failing"
        );
    }
    Ok(())
}

async fn run_delivery(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let JobPayload::WebhookDelivery(kassa_core::job::WebhookDelivery { delivery_id: id }) =
        JobPayload::from_payload(JobKind::WebhookDelivery, &job.payload)?
    else {
        anyhow::bail!("job {} is not a webhook delivery", job.id);
    };
    match send(state, &id).await? {
        Attempted::Sent(sent) => record(state, job, sent).await,
        Attempted::Dropped(status) => Ok(state
            .store
            .drop_webhook_delivery(&id, &job.id, &state.worker_id, status, state.clock.now())
            .await?),
        Attempted::NothingDue => Ok(state
            .store
            .release_webhook_job(&job.id, &state.worker_id, state.clock.now())
            .await?),
    }
}

/// Runs one claimed delivery job to its end: the attempt made and recorded with its job. A
/// worker that lost the job's lease meanwhile records nothing (the holder's attempt counts);
/// one that failed otherwise makes the job due again in a minute.
pub(crate) async fn deliver(state: &AppState, job: &Job) {
    let failed = match run_delivery(state, job).await {
        Ok(()) => {
            state.metrics.job(true);
            return;
        }
        Err(e) => e,
    };
    if matches!(
        failed.downcast_ref::<StoreError>(),
        Some(StoreError::LeaseLost)
    ) {
        tracing::warn!(job = %job.id, "{}", crate::jobs::LEASE_LOST);
        return;
    }
    state.metrics.job(false);
    tracing::warn!(job = %job.id, error = format!("{failed:#}"), "webhook delivery job failed; will retry");
    let again = state.clock.now() + time::Duration::minutes(1);
    if let Err(e) = state
        .store
        .retry_job(&job.id, &state.worker_id, again, &format!("{failed:#}"))
        .await
    {
        tracing::warn!(job = %job.id, error = %e, "could not reschedule a webhook delivery job");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_time_dot_body() {
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature_header(1_700_000_000, br#"{"a":1}"#, &[b"whsec_test"]),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        let two = signature_header(1, b"x", &[b"new", b"old"]);
        assert_eq!(two.matches(",v1=").count(), 2);
    }

    #[test]
    fn new_secrets_are_prefixed_and_random() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.expose().starts_with("whsec_") && a.expose().len() == 38);
        assert_ne!(a.expose(), b.expose());
    }
}

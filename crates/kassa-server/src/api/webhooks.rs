//! Webhooks (docs/api.md §5): `/v1/webhook-endpoints` (create, list, get, delete, rotate the secret,
//! enable again, list deliveries) and `POST /v1/webhook-deliveries/{id}/retry`. The rules live in
//! `crate::webhooks`, which the dashboard uses too.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::id::{EventId, WebhookDeliveryId, WebhookEndpointId};
use kassa_core::secret::Secret;
use kassa_core::webhook::{DeliveryStatus, EndpointStatus};
use kassa_store::{WebhookAttempt, WebhookDelivery, WebhookEndpoint};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{
    json_created, list_response, ApiAuth, ApiJson, LatePathId, ListBody, ListQuery, Paging, PathId,
};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::ShownOnce;
use crate::state::AppState;
use crate::webhooks::{self, EndpointInput};

/// The `object` field: always `"webhook_endpoint"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum WebhookEndpointObject {
    #[default]
    #[serde(rename = "webhook_endpoint")]
    WebhookEndpoint,
}

/// `enabled`, or `disabled` after its deliveries kept failing (see `disabledReason`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookEndpointStatus {
    Enabled,
    Disabled,
}

/// Where events are sent, and which.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpoint)]
pub struct EndpointBody {
    id: WebhookEndpointId,
    #[schema(inline)]
    object: WebhookEndpointObject,
    #[schema(format = "uri")]
    url: String,
    description: Option<String>,
    /// `["*"]` (every event) or the event types sent.
    events: Vec<String>,
    status: WebhookEndpointStatus,
    /// Why it was disabled; `null` while enabled.
    disabled_reason: Option<String>,
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    disabled_at: Option<OffsetDateTime>,
    /// The first failed attempt since the last success; `null` while deliveries succeed.
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    failing_since: Option<OffsetDateTime>,
    /// Until when the secret replaced by the last rotation still signs deliveries too (a second
    /// `v1` in `Kassa-Signature`); `null` if the secret was never rotated.
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    previous_secret_expires_at: Option<OffsetDateTime>,
    #[serde(with = "kassa_core::clock::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
}

impl From<&WebhookEndpoint> for EndpointBody {
    fn from(e: &WebhookEndpoint) -> Self {
        EndpointBody {
            id: e.id.clone(),
            object: WebhookEndpointObject::WebhookEndpoint,
            url: e.url.to_string(),
            description: e.description.clone(),
            events: e.events.to_list(),
            status: match e.status {
                EndpointStatus::Enabled => WebhookEndpointStatus::Enabled,
                EndpointStatus::Disabled => WebhookEndpointStatus::Disabled,
            },
            disabled_reason: e.disabled_reason.clone(),
            disabled_at: e.disabled_at,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
        }
    }
}

/// An endpoint with its signing secret, shown in this answer only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpointWithSecret)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    endpoint: EndpointBody,
    /// The signing secret (`whsec_…`), shown this once: verify `Kassa-Signature` with it.
    /// `null` when this is the replay of an earlier request with the same `Idempotency-Key`.
    secret: Option<String>,
}

fn with_secret(endpoint: &WebhookEndpoint, secret: Secret<String>, status: bool) -> Response {
    let body = EndpointWithSecret {
        endpoint: EndpointBody::from(endpoint),
        secret: Some(secret.expose().clone()),
    };
    let mut resp = if status {
        json_created(body)
    } else {
        Json(body).into_response()
    };
    resp.extensions_mut().insert(ShownOnce(&["secret"]));
    resp
}

#[utoipa::path(
    post,
    path = "/v1/webhook-endpoints",
    tag = "Webhooks",
    operation_id = "createWebhookEndpoint",
    summary = "Create a webhook endpoint",
    description = "Events of the types in `events` (or every event, `[\"*\"]`) are POSTed to `url` \
        from now on, signed with the endpoint's secret. The answer carries the secret (`secret`), \
        this once. Every invalid field is listed at once and nothing is made. At most 20 \
        endpoints. The URL's host must have only public addresses: a loopback, private, \
        link-local or other non-public address, or an IP address written as a number, is \
        `url_not_allowed`, and a name that does not resolve is `url_unresolvable`. The check is \
        repeated at every delivery.",
    request_body = EndpointInput,
    responses(
        (status = 201, description = "The new endpoint, with its signing secret", body = EndpointWithSecret),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`too_many_endpoints`, or `idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["webhooks"])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<Response, ApiError> {
    let (endpoint, secret) = webhooks::create(&state, &auth.partner, &auth.caller, body).await?;
    Ok(with_secret(&endpoint, secret, true))
}

/// A page of the list, under its own name in the OpenAPI document.
type WebhookEndpointList = ListBody<EndpointBody>;

#[utoipa::path(
    get,
    path = "/v1/webhook-endpoints",
    tag = "Webhooks",
    operation_id = "listWebhookEndpoints",
    summary = "List webhook endpoints",
    description = "Your endpoints, newest first.",
    params(Paging),
    responses(
        (status = 200, description = "A page of endpoints", body = WebhookEndpointList),
        (status = 400, description = "An invalid or unknown query parameter, or an unknown \
            `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&[])?;
    let page = query.page()?;
    let endpoints = webhooks::list(&state, &auth.partner, &page).await?;
    Ok(list_response(endpoints.map(|e| EndpointBody::from(&e)))?.into_response())
}

#[utoipa::path(
    get,
    path = "/v1/webhook-endpoints/{id}",
    tag = "Webhooks",
    operation_id = "getWebhookEndpoint",
    summary = "Get a webhook endpoint",
    params(("id" = WebhookEndpointId, Path, description = "The endpoint's id (`we_…`)")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<Json<EndpointBody>, ApiError> {
    let endpoint = webhooks::get(&state, &auth.partner, id.as_str()).await?;
    Ok(Json(EndpointBody::from(&endpoint)))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedWebhookEndpoint)]
pub struct DeletedEndpoint {
    id: WebhookEndpointId,
    #[schema(inline)]
    object: WebhookEndpointObject,
    /// Always `true`.
    deleted: bool,
}

#[utoipa::path(
    delete,
    path = "/v1/webhook-endpoints/{id}",
    tag = "Webhooks",
    operation_id = "deleteWebhookEndpoint",
    summary = "Delete a webhook endpoint",
    description = "Nothing more is sent to it: deliveries still waiting for a retry are canceled \
        and its signing secrets destroyed.",
    params(("id" = WebhookEndpointId, Path, description = "The endpoint's id (`we_…`)")),
    responses(
        (status = 200, description = "Deleted", body = DeletedEndpoint),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ),
    security(("apiKey" = ["webhooks"])),
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<Json<DeletedEndpoint>, ApiError> {
    let endpoint = webhooks::delete(&state, &auth.partner, &auth.caller, id.as_str()).await?;
    Ok(Json(DeletedEndpoint {
        id: endpoint.id,
        object: WebhookEndpointObject::WebhookEndpoint,
        deleted: true,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/webhook-endpoints/{id}/rotate-secret",
    tag = "Webhooks",
    operation_id = "rotateWebhookSecret",
    summary = "Rotate a webhook endpoint's secret",
    description = "Makes a new signing secret, shown in this answer only. For 24 hours \
        (`previousSecretExpiresAt`) deliveries are signed with both the new and the old secret — \
        two `v1` in `Kassa-Signature` — so your receiver can switch to the new one without \
        missing an event; after that with the new one only.",
    params(("id" = WebhookEndpointId, Path, description = "The endpoint's id (`we_…`)")),
    responses(
        (status = 200, description = "The endpoint, with its new signing secret", body = EndpointWithSecret),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["webhooks"])),
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<Response, ApiError> {
    let (endpoint, secret) =
        webhooks::rotate_secret(&state, &auth.partner, &auth.caller, id.as_str()).await?;
    Ok(with_secret(&endpoint, secret, false))
}

#[utoipa::path(
    post,
    path = "/v1/webhook-endpoints/{id}/enable",
    tag = "Webhooks",
    operation_id = "enableWebhookEndpoint",
    summary = "Enable a webhook endpoint again",
    description = "An endpoint whose deliveries kept failing (for 3 days, or 20 deliveries in a \
        row refused) is disabled and says why in `disabledReason`. Once it is fixed, enable it: \
        events from then on are sent again. Deliveries that failed meanwhile can be sent again \
        with `POST /v1/webhook-deliveries/{id}/retry`. Enabling an enabled endpoint changes \
        nothing.",
    params(("id" = WebhookEndpointId, Path, description = "The endpoint's id (`we_…`)")),
    responses(
        (status = 200, description = "The endpoint, enabled", body = EndpointBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["webhooks"])),
)]
pub async fn enable(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<Json<EndpointBody>, ApiError> {
    let endpoint = webhooks::enable(&state, &auth.partner, &auth.caller, id.as_str()).await?;
    Ok(Json(EndpointBody::from(&endpoint)))
}

/// The `object` field: always `"webhook_delivery"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum WebhookDeliveryObject {
    #[default]
    #[serde(rename = "webhook_delivery")]
    WebhookDelivery,
}

/// `pending` (an attempt is due, now or after a backoff), `succeeded` (answered 2xx), `failed`
/// (refused, retries ran out, or the endpoint was disabled) or `canceled` (the endpoint was
/// deleted).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookDeliveryStatus {
    Pending,
    Succeeded,
    Failed,
    Canceled,
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAttempt)]
pub struct AttemptBody {
    #[serde(with = "kassa_core::clock::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    attempted_at: OffsetDateTime,
    /// The HTTP status the endpoint answered; `null` when it did not answer (see `error`).
    status_code: Option<u16>,
    /// Why there was no answer: `could not connect`, `timed out after 10 s`, or
    /// `url not allowed: the host resolves to a non-public address` (nothing was sent).
    error: Option<String>,
    /// How long the attempt took, in milliseconds.
    latency_ms: i64,
}

impl From<&WebhookAttempt> for AttemptBody {
    fn from(a: &WebhookAttempt) -> Self {
        AttemptBody {
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error.clone(),
            latency_ms: a.latency_ms,
        }
    }
}

/// One event for one endpoint, with every attempt made to deliver it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryBody {
    id: WebhookDeliveryId,
    #[schema(inline)]
    object: WebhookDeliveryObject,
    endpoint_id: WebhookEndpointId,
    event_id: EventId,
    event_type: String,
    status: WebhookDeliveryStatus,
    attempt_count: i64,
    /// When the next attempt is due, while `pending`.
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "kassa_core::clock::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// When it succeeded, failed or was canceled.
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    completed_at: Option<OffsetDateTime>,
    /// Oldest first.
    attempts: Vec<AttemptBody>,
}

impl From<&WebhookDelivery> for DeliveryBody {
    fn from(d: &WebhookDelivery) -> Self {
        DeliveryBody {
            id: d.id.clone(),
            object: WebhookDeliveryObject::WebhookDelivery,
            endpoint_id: d.endpoint_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: match d.status {
                DeliveryStatus::Pending => WebhookDeliveryStatus::Pending,
                DeliveryStatus::Succeeded => WebhookDeliveryStatus::Succeeded,
                DeliveryStatus::Failed => WebhookDeliveryStatus::Failed,
                DeliveryStatus::Canceled => WebhookDeliveryStatus::Canceled,
            },
            attempt_count: d.attempt_count,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            completed_at: d.completed_at,
            attempts: d.attempts.iter().map(AttemptBody::from).collect(),
        }
    }
}

/// A page of the list, under its own name in the OpenAPI document.
type WebhookDeliveryList = ListBody<DeliveryBody>;

#[utoipa::path(
    get,
    path = "/v1/webhook-endpoints/{id}/deliveries",
    tag = "Webhooks",
    operation_id = "listWebhookDeliveries",
    summary = "List an endpoint's deliveries",
    description = "Every event sent (or to be sent) to the endpoint, newest first, each with its \
        attempts: when, the HTTP status or why there was none, and how long it took.",
    params(
        ("id" = WebhookEndpointId, Path, description = "The endpoint's id (`we_…`)"),
        ("status" = Option<String>, Query, description = "Only deliveries with this status: \
            `pending`, `succeeded`, `failed` or `canceled`"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = WebhookDeliveryList),
        (status = 400, description = "An invalid `status`, an invalid or unknown query parameter, \
            or an unknown `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    auth: ApiAuth,
    id: LatePathId<WebhookEndpointId>,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&["status"])?;
    let status = match query.get("status") {
        None => None,
        Some(s) => Some(DeliveryStatus::parse_str(s).ok_or_else(|| {
            ApiError::field(
                "status",
                "invalid_value",
                "must be one of pending, succeeded, failed, canceled",
            )
        })?),
    };
    let page = query.page()?;
    let id = id.get()?;
    let deliveries =
        webhooks::deliveries(&state, &auth.partner, id.as_str(), status, &page).await?;
    Ok(list_response(deliveries.map(|d| DeliveryBody::from(&d)))?.into_response())
}

#[utoipa::path(
    post,
    path = "/v1/webhook-deliveries/{id}/retry",
    tag = "Webhooks",
    operation_id = "retryWebhookDelivery",
    summary = "Send a delivery again",
    description = "Makes a new attempt now — also for a delivery that failed or succeeded — \
        with the same event (same `id`). The answer is the delivery, `pending` and due now; the \
        attempt is made by the background worker within a second or so and then appears in \
        its `attempts`.",
    params(("id" = WebhookDeliveryId, Path, description = "The delivery's id (`whd_…`)")),
    responses(
        (status = 200, description = "The delivery, due now", body = DeliveryBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`endpoint_disabled`: enable the endpoint first; or \
            `idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["webhooks"])),
)]
pub async fn retry(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<WebhookDeliveryId>,
) -> Result<Json<DeliveryBody>, ApiError> {
    let delivery = webhooks::retry(&state, &auth.partner, &auth.caller, id.as_str()).await?;
    Ok(Json(DeliveryBody::from(&delivery)))
}

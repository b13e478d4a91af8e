//! Webhooks: the partner's endpoints (create with the secret shown once, rotate, enable, delete)
//! and each endpoint's delivery log with every attempt and a manual retry. Every action calls
//! [`crate::webhooks`], the same code as `/v1/webhook-endpoints`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::event::EVENT_TYPES;
use kassa_core::webhook::{DeliveryStatus, EndpointStatus};
use kassa_store::{PageRequest, WebhookDelivery, WebhookEndpoint};

use super::times::Times;
use super::{act, field, sentence, Can, Nav, Signed};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::state::AppState;
use crate::webhooks::{self, EndpointInput};

struct EndpointRow {
    id: String,
    url: String,
    description: String,
    events: String,
    enabled: bool,
    disabled_reason: String,
    failing_since: Option<String>,
}

fn endpoint_row(e: &WebhookEndpoint, times: &Times) -> EndpointRow {
    let events = e.events.to_list();
    EndpointRow {
        id: e.id.to_string(),
        url: e.url.as_str().to_string(),
        description: e.description.clone().unwrap_or_default(),
        events: if events == ["*"] {
            "All events".to_string()
        } else {
            events.join(", ")
        },
        enabled: e.status == EndpointStatus::Enabled,
        disabled_reason: e.disabled_reason.clone().unwrap_or_default(),
        failing_since: e.failing_since.map(|t| times.when(t)),
    }
}

/// One event type's checkbox.
struct TypeChoice {
    name: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct ListPage {
    brand: Brand,
    nav: Nav,
    endpoints: Vec<EndpointRow>,
    new_secret: Option<String>,
    url: String,
    description: String,
    all_events: bool,
    types: Vec<TypeChoice>,
    errors: HashMap<String, String>,
    /// The operator allows webhooks to private networks (`webhooks.allowPrivateNetworks`).
    private_networks: bool,
}

impl ListPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    flash: Option<String>,
) -> Result<ListPage, Response> {
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let endpoints = match webhooks::list(state, signed.partner(), &page).await {
        Ok(kassa_store::Page::Items { data, .. }) => data,
        Ok(kassa_store::Page::UnknownCursor) => Vec::new(),
        Err(e) => return Err(internal_error_page(e.into_cause())),
    };
    Ok(ListPage {
        brand: Brand::of(signed.partner()),
        nav: signed.nav(state, "webhooks", flash),
        endpoints: endpoints
            .iter()
            .map(|e| endpoint_row(e, &signed.times()))
            .collect(),
        new_secret: None,
        url: String::new(),
        description: String::new(),
        all_events: true,
        types: EVENT_TYPES
            .iter()
            .map(|name| TypeChoice {
                name,
                checked: false,
            })
            .collect(),
        errors: HashMap::new(),
        private_networks: state.config.webhooks.allow_private_networks,
    })
}

/// `GET /dashboard/webhooks`.
pub async fn webhooks_page(
    State(state): State<AppState>,
    signed: Can<act::View>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let flash = match query.get("done").map(String::as_str) {
        Some("deleted") => Some("Endpoint deleted. Nothing more is sent to it.".to_string()),
        _ => None,
    };
    match list_page(&state, &signed, flash).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(resp) => resp,
    }
}

/// `POST /dashboard/webhooks`: makes an endpoint and shows its signing secret this once.
pub async fn create_webhook(
    State(state): State<AppState>,
    signed: Can<act::ManageWebhooks>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form: HashMap<String, String> = pairs.iter().cloned().collect();
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let chosen: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let all = chosen.iter().any(|v| v == "*");
    let input = EndpointInput {
        url: Some(field(&form, "url")),
        events: Some(if all {
            vec!["*".to_string()]
        } else {
            chosen.clone()
        }),
        description: Some(field(&form, "description")).filter(|d| !d.is_empty()),
    };
    let mut page = match list_page(&state, &signed, None).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match webhooks::create(&state, signed.partner(), &signed.caller, input).await {
        Ok((endpoint, secret)) => {
            page.endpoints
                .insert(0, endpoint_row(&endpoint, &signed.times()));
            page.endpoints.dedup_by(|a, b| a.id == b.id);
            page.nav.flash = Some(
                "Endpoint added. Copy its signing secret now: it will not be shown again.".into(),
            );
            page.new_secret = Some(secret.expose().clone());
            // `render` marks every page no-store, so the secret lingers in no cache.
            render(StatusCode::CREATED, &page)
        }
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => {
            page.url = field(&form, "url");
            page.description = field(&form, "description");
            page.all_events = all;
            for t in &mut page.types {
                t.checked = chosen.iter().any(|c| c == t.name);
            }
            for fe in e.field_errors() {
                // `events[2]` and `events` are one field on the page.
                let name = fe.field.split('[').next().unwrap_or(&fe.field).to_string();
                page.errors
                    .entry(name)
                    .or_insert_with(|| sentence(&fe.message));
            }
            if page.errors.is_empty() {
                page.errors.insert("url".into(), sentence(e.message()));
            }
            render(e.status(), &page)
        }
    }
}

struct AttemptRow {
    at: String,
    outcome: String,
    latency_ms: i64,
    ok: bool,
}

struct DeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    status: &'static str,
    created: String,
    next_attempt: Option<String>,
    attempts: Vec<AttemptRow>,
}

fn delivery_row(d: &WebhookDelivery, times: &Times) -> DeliveryRow {
    DeliveryRow {
        id: d.id.to_string(),
        event_id: d.event_id.to_string(),
        event_type: d.event_type.clone(),
        status: d.status.as_str(),
        created: times.when(d.created_at),
        next_attempt: match d.status {
            DeliveryStatus::Pending => d.next_attempt_at.map(|t| times.when(t)),
            _ => None,
        },
        attempts: d
            .attempts
            .iter()
            .map(|a| AttemptRow {
                at: times.when(a.attempted_at),
                outcome: kassa_core::webhook::describe_attempt(a.status_code, a.error.as_deref()),
                latency_ms: a.latency_ms,
                ok: a.status_code.is_some_and(|c| (200..300).contains(&c)),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/webhook.html")]
struct EndpointPage {
    brand: Brand,
    nav: Nav,
    endpoint: EndpointRow,
    rotation_until: Option<String>,
    new_secret: Option<String>,
    notice: Option<String>,
    deliveries: Vec<DeliveryRow>,
    next: Option<String>,
}

async fn endpoint_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    after: Option<String>,
    flash: Option<String>,
) -> Result<EndpointPage, Response> {
    let partner = signed.partner();
    let endpoint = match webhooks::get(state, partner, id).await {
        Ok(e) => e,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return Err(super::not_found(partner, "webhook endpoint"))
        }
        Err(e) => return Err(internal_error_page(e.into_cause())),
    };
    let page = PageRequest {
        limit: 50,
        starting_after: after,
    };
    let (deliveries, next) =
        match webhooks::deliveries(state, partner, endpoint.id.as_str(), None, &page).await {
            Ok(kassa_store::Page::Items { data, has_more }) => {
                let next = has_more
                    .then(|| data.last().map(|d| format!("after={}", d.id)))
                    .flatten();
                let times = signed.times();
                (data.iter().map(|d| delivery_row(d, &times)).collect(), next)
            }
            Ok(kassa_store::Page::UnknownCursor) => (Vec::new(), None),
            Err(e) => return Err(internal_error_page(e.into_cause())),
        };
    Ok(EndpointPage {
        brand: Brand::of(partner),
        nav: signed.nav(state, "webhooks", flash),
        rotation_until: endpoint
            .previous_secret_expires_at
            .filter(|at| *at > state.clock.now())
            .map(|t| signed.times().when(t)),
        endpoint: endpoint_row(&endpoint, &signed.times()),
        new_secret: None,
        notice: None,
        deliveries,
        next,
    })
}

/// `GET /dashboard/webhooks/{id}`: the endpoint and its deliveries, newest first.
pub async fn webhook_page(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let flash = match query.get("done").map(String::as_str) {
        Some("enabled") => Some("Endpoint enabled. New events are sent to it again.".to_string()),
        Some("retried") => {
            Some("Delivery scheduled: it is sent again within a few seconds.".to_string())
        }
        _ => None,
    };
    let after = query
        .get("after")
        .filter(|a| a.starts_with("whd_"))
        .cloned();
    match endpoint_page(&state, &signed, params.id(), after, flash).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(resp) => resp,
    }
}

/// `POST /dashboard/webhooks/{id}/{action}`: `rotate-secret` (the new secret shown once; the
/// old one keeps signing for a day), `enable`, `delete`; rotating and deleting only from their
/// confirmation page (`confirm=yes`).
pub async fn webhook_action(
    State(state): State<AppState>,
    signed: Can<act::ManageWebhooks>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let partner = signed.partner();
    let id = params.id();
    let action = params.0.get("action").map(String::as_str).unwrap_or("");
    if action == "rotate-secret" || action == "delete" {
        let confirm_at = format!("/dashboard/webhooks/{id}/{action}");
        if let Some(resp) = super::confirm::unconfirmed(&form, &confirm_at) {
            return resp;
        }
    }
    let outcome = match action {
        "rotate-secret" => match webhooks::rotate_secret(&state, partner, &signed.caller, id).await
        {
            Ok((_, secret)) => {
                let mut page = match endpoint_page(&state, &signed, id, None, None).await {
                    Ok(p) => p,
                    Err(resp) => return resp,
                };
                page.nav.flash = Some(
                    "New signing secret made. Copy it now: it will not be shown again. The old \
                     secret keeps signing too for 24 hours."
                        .into(),
                );
                page.new_secret = Some(secret.expose().clone());
                return render(StatusCode::OK, &page);
            }
            Err(e) => Err(e),
        },
        "enable" => webhooks::enable(&state, partner, &signed.caller, id)
            .await
            .map(|e| format!("/dashboard/webhooks/{}?done=enabled", e.id)),
        "delete" => webhooks::delete(&state, partner, &signed.caller, id)
            .await
            .map(|_| "/dashboard/webhooks?done=deleted".to_string()),
        _ => return super::not_found(partner, "page"),
    };
    match outcome {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            super::not_found(partner, "webhook endpoint")
        }
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => {
            let mut page = match endpoint_page(&state, &signed, id, None, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            page.notice = Some(sentence(e.message()));
            render(e.status(), &page)
        }
    }
}

/// `POST /dashboard/webhooks/deliveries/{id}/retry`.
pub async fn retry_delivery(
    State(state): State<AppState>,
    signed: Can<act::ManageWebhooks>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let partner = signed.partner();
    match webhooks::retry(&state, partner, &signed.caller, params.id()).await {
        Ok(d) => Redirect::to(&format!(
            "/dashboard/webhooks/{}?done=retried",
            d.endpoint_id
        ))
        .into_response(),
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            super::not_found(partner, "webhook delivery")
        }
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => crate::pages::message(
            e.status(),
            Brand::of(partner),
            "Not sent",
            "This delivery was not sent again",
            &sentence(e.message()),
        ),
    }
}

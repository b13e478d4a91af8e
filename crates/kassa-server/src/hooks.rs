//! The processors' notification endpoints (docs/api.md §10): `POST /hooks/stripe/{partnerSlug}`
//! and `POST /hooks/authorize-net/{partnerSlug}`. Each delivery is believed only once its
//! connector has checked the signature with the partner's secret; a bad one is `400` and changes
//! nothing. A genuine one is applied once per processor event id, through the same store writes
//! as the sandbox path (`money::apply_notification`).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use kassa_core::processor::Connector;
use kassa_processor::{Delivery, NotificationError, ProcessorError};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Processors send small JSON bodies; anything larger is not one of theirs.
const MAX_BODY: usize = 256 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hooks/stripe/{slug}", post(stripe))
        .route("/hooks/authorize-net/{slug}", post(authorize_net))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn stripe(state: State<AppState>, slug: Path<String>, h: HeaderMap, body: Bytes) -> Response {
    receive(&state, Connector::Stripe, &slug, &h, &body).await
}

async fn authorize_net(
    state: State<AppState>,
    slug: Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&state, Connector::AuthorizeNet, &slug, &h, &body).await
}

async fn receive(
    state: &AppState,
    connector: Connector,
    slug: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    match handle(state, connector, slug, headers, body).await {
        Ok(duplicate) => Json(json!({ "received": true, "duplicate": duplicate })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Whether the event had been applied before.
async fn handle(
    state: &AppState,
    connector: Connector,
    slug: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<bool, ApiError> {
    let partner = state
        .store
        .partner_by_slug(slug)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    let processor = match state.processor_for(&partner.id, connector).await {
        Ok(p) => p,
        Err(ProcessorError::NotSent(why)) => {
            tracing::warn!(partner = %partner.id, %connector, reason = %why, "a processor notification for an account Kassa cannot use");
            return Err(ApiError::not_found("processor account"));
        }
        Err(e @ ProcessorError::Unknown(_)) => {
            return Err(ApiError::unavailable(
                "processor_unavailable",
                e.to_string(),
            ))
        }
    };
    // Header values that are not text cannot carry a signature; they are left out.
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let delivery = Delivery {
        headers: &pairs,
        body,
        received_at: state.clock.now(),
    };
    let notification = match processor.read_notification(delivery).await {
        Ok(n) => n,
        Err(NotificationError::TryLater(why)) => {
            tracing::warn!(partner = %partner.id, %connector, reason = %why, "a processor notification cannot be applied now; the processor will send it again");
            return Err(ApiError::unavailable(
                "try_later",
                "the notification cannot be applied now; send it again later",
            ));
        }
        Err(e) => {
            tracing::warn!(partner = %partner.id, %connector, error = %e, "a processor notification was refused");
            return Err(ApiError::invalid_notification(e.to_string()));
        }
    };
    let store = &state.store;
    let event = notification.event_id.as_str();
    if store
        .processor_event_seen(&partner.id, connector, event)
        .await
        .map_err(ApiError::internal)?
    {
        return Ok(true);
    }
    if let Some(change) = &notification.change {
        let applied = crate::money::apply_notification(state, &partner.id, connector, change)
            .await
            .map_err(ApiError::internal)?;
        tracing::info!(partner = %partner.id, %connector, event, ?applied, "processor notification applied");
    }
    // Noted after it is applied: a crash in between sends it again, and applying it again
    // changes nothing (every write is conditional on the record's state).
    let first = store
        .note_processor_event(&partner.id, connector, event, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    Ok(!first)
}

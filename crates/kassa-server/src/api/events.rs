//! Events (docs/api.md §5): `GET /v1/events?type=` and `GET /v1/events/{id}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::error::FieldErrors;
use kassa_core::event::{is_event_type, Event, EventType, EVENT_TYPES};
use kassa_core::id::EventId;

use super::{list_response, ApiAuth, ListBody, ListQuery, Paging, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::event_object::event_of;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    tag = "Events",
    operation_id = "getEvent",
    summary = "Get an event",
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    responses(
        (status = 200, description = "The event", body = Event),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<EventId>,
) -> Result<Json<Event>, ApiError> {
    let record = state
        .store
        .event(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(event_of(record)))
}

/// A page of the list, under its own name in the OpenAPI document.
type EventList = ListBody<Event>;

#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "Events",
    operation_id = "listEvents",
    summary = "List events",
    description = "What happened to your payment requests, payments, refunds, authorizations and \
        payouts, newest first. Each event is written in the same transaction as the change it \
        reports, so none is ever missing; `data` is the object right after the change.",
    params(
        ("type" = Option<EventType>, Query, description = "Only events of this type, e.g. `payment.completed`"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of events", body = EventList),
        (status = 400, description = "An unknown `type`, an invalid or unknown query parameter, \
            or an unknown `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&["type"])?;
    let mut errors = FieldErrors::new();
    let event_type = query.get("type");
    if let Some(t) = event_type {
        if !is_event_type(t) {
            errors.add(
                "type",
                "invalid_value",
                format!("must be one of {}", EVENT_TYPES.join(", ")),
            );
        }
    }
    let page = query.page();
    errors.finish().map_err(ApiError::validation)?;
    let page = state
        .store
        .list_events(&auth.partner.id, event_type, &page?)
        .await?;
    Ok(list_response(page.map(event_of))?.into_response())
}

//! The audit log through the API (docs/api.md §9): `GET /v1/audit-events`, newest first, with
//! the `admin` scope.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use kassa_core::audit::{Action, Actor, Outcome, Record};
use kassa_core::error::FieldErrors;
use kassa_core::id::AuditEventId;
use kassa_store::AuditFilter;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{list_response, ApiAuth, ListBody, ListQuery, Paging};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Something done to the account, by whom, from where, and how it ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
pub struct AuditEventBody {
    id: AuditEventId,
    #[schema(inline)]
    object: AuditEventObject,
    /// What was done, e.g. `refund.created`, `api_key.revoked`, `user.signed_in`,
    /// `access.denied`.
    #[schema(value_type = String, example = "refund.created")]
    action: Action,
    outcome: Outcome,
    actor: Actor,
    /// What it was done to (`re_…`, `key_…`), when there is one.
    object_id: Option<String>,
    /// The client's address.
    ip: Option<String>,
    user_agent: Option<String>,
    /// More about it: the amount, a settings change's `before` and `after`, a refused scope.
    #[schema(value_type = Object)]
    details: serde_json::Value,
    #[serde(with = "kassa_core::clock::rfc3339")]
    created_at: OffsetDateTime,
}

/// The `object` field: always `"audit_event"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum AuditEventObject {
    #[default]
    #[serde(rename = "audit_event")]
    AuditEvent,
}

impl AuditEventBody {
    pub fn from_record(r: Record) -> Self {
        AuditEventBody {
            id: r.id,
            object: AuditEventObject::AuditEvent,
            action: r.action,
            outcome: r.outcome,
            actor: r.actor,
            object_id: r.object_id,
            ip: r.ip,
            user_agent: r.user_agent,
            // Written by Kassa from a JSON value; an unreadable one is shown as it is stored.
            details: serde_json::from_str(&r.details)
                .unwrap_or(serde_json::Value::String(r.details)),
            created_at: r.created_at,
        }
    }
}

/// A page of the list, under its own name in the OpenAPI document.
type AuditEventList = ListBody<AuditEventBody>;

#[utoipa::path(
    get,
    path = "/v1/audit-events",
    tag = "Settings",
    operation_id = "listAuditEvents",
    summary = "List audit events",
    description = "Everything done to your account, newest first: every change made through the \
        API, the dashboard or the command line, every refused scope or role check, every sign-in \
        and sign-out. Events are written in the same transaction as the change they record, \
        can be neither changed nor removed, and are hash-chained (`kassa audit verify`).",
    params(
        ("action" = Option<String>, Query, description = "Only this action, e.g. `refund.created`"),
        ("actorId" = Option<String>, Query, description = "Only events of this actor (`key_…`, `usr_…`, `cli`)"),
        ("objectId" = Option<String>, Query, description = "Only events about this object"),
        ("createdFrom" = Option<String>, Query, format = DateTime, description = "Only events at or after this time (RFC 3339)"),
        ("createdTo" = Option<String>, Query, format = DateTime, description = "Only events at or before this time (RFC 3339)"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of audit events", body = AuditEventList),
        (status = 400, description = "An unknown `action`, an invalid or unknown query parameter, \
            or an unknown `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`: the key lacks `admin`", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&["action", "actorId", "objectId", "createdFrom", "createdTo"])?;
    let mut errors = FieldErrors::new();
    let filter = filter_of(&query, &mut errors);
    let page = query.page();
    errors.finish().map_err(ApiError::validation)?;
    let page = state
        .store
        .list_audit_events(&auth.partner.id, &filter, &page?)
        .await?;
    Ok(list_response(page.map(AuditEventBody::from_record))?.into_response())
}

/// The filters of the list (the API's and the dashboard's), every bad one recorded in `errors`.
pub fn filter_of(query: &ListQuery, errors: &mut FieldErrors) -> AuditFilter {
    let action = query.get("action").and_then(|a| {
        let parsed = Action::parse(a);
        if parsed.is_none() {
            errors.add(
                "action",
                "invalid_value",
                "is not an audit action (e.g. refund.created, api_key.revoked, user.signed_in)",
            );
        }
        parsed
    });
    let text = |name: &str| {
        query
            .get(name)
            .map(|v| v.chars().take(100).collect::<String>())
    };
    let (created_from, created_to) = query.created_range(errors);
    AuditFilter {
        action,
        actor_id: text("actorId"),
        object_id: text("objectId"),
        created_from,
        created_to,
    }
}

//! The Audit page (docs/api.md §9): the partner's audit log, newest first, with filters and its
//! CSV export — for owners, as `GET /v1/audit-events` is for keys with the `admin` scope.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_core::audit::{Action, Record};
use kassa_core::id::AuditEventId;
use kassa_store::{AuditFilter, Page, PageRequest};

use super::times::Times;
use super::{act, Can, Nav};
use crate::pages::{internal_error_page, render, Brand};
use crate::state::AppState;

/// The filters, read from the query string; the same for the page and its CSV.
struct AuditQuery {
    raw: HashMap<String, String>,
    filter: AuditFilter,
    problems: Vec<String>,
}

fn audit_query(params: HashMap<String, String>, times: &Times) -> AuditQuery {
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    let mut filter = AuditFilter::default();
    if let Some(a) = get("action") {
        match Action::parse(a) {
            Some(action) => filter.action = Some(action),
            None => problems.push("Unknown action.".to_string()),
        }
    }
    let text = |k: &str| get(k).map(|v| v.chars().take(100).collect::<String>());
    filter.actor_id = text("actor");
    filter.object_id = text("object");
    (filter.created_from, filter.created_to) =
        super::day_range(get("from"), get("to"), times, &mut problems);
    AuditQuery {
        raw: params,
        filter,
        problems,
    }
}

impl AuditQuery {
    fn value(&self, k: &str) -> String {
        self.raw.get(k).cloned().unwrap_or_default()
    }

    /// The filters as a query string (without the page cursor).
    fn query_string(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for k in ["action", "actor", "object", "from", "to"] {
            if let Some(v) = self.raw.get(k).filter(|v| !v.trim().is_empty()) {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }
}

struct EventRow {
    when: String,
    action: &'static str,
    outcome: &'static str,
    actor: String,
    object: String,
    ip: String,
    details: String,
}

impl EventRow {
    fn of(r: &Record, times: &Times) -> EventRow {
        EventRow {
            when: times.when(r.created_at),
            action: r.action.as_str(),
            outcome: r.outcome.as_str(),
            actor: actor_text(r),
            object: r.object_id.clone().unwrap_or_default(),
            ip: r.ip.clone().unwrap_or_default(),
            details: if r.details == "{}" {
                String::new()
            } else {
                r.details.clone()
            },
        }
    }
}

/// "Bookkeeping (api_key key_…)", "ada@acme.example (user)", "kassa (system)".
fn actor_text(r: &Record) -> String {
    format!(
        "{} ({} {})",
        r.actor.name,
        r.actor.kind.as_str(),
        r.actor.id
    )
}

struct ActionOption {
    value: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    brand: Brand,
    nav: Nav,
    notice: Option<String>,
    actions: Vec<ActionOption>,
    actor: String,
    object: String,
    from: String,
    to: String,
    query: String,
    rows: Vec<EventRow>,
    next: Option<String>,
}

/// `GET /dashboard/audit`: newest first, 50 a page.
pub async fn audit_page(
    State(state): State<AppState>,
    signed: Can<act::ViewAudit>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let partner = signed.partner();
    let after = params
        .get("after")
        .filter(|a| AuditEventId::parse(a).is_ok())
        .cloned();
    let times = signed.times();
    let aq = audit_query(params, &times);
    let (rows, has_more) = if aq.problems.is_empty() {
        let page = PageRequest {
            limit: 50,
            starting_after: after,
        };
        match state
            .store
            .list_audit_events(&partner.id, &aq.filter, &page)
            .await
        {
            Ok(Page::Items { data, has_more }) => (data, has_more),
            Ok(Page::UnknownCursor) => (Vec::new(), false),
            Err(e) => return internal_error_page(e),
        }
    } else {
        (Vec::new(), false)
    };
    let selected = aq.filter.action.map(Action::as_str);
    let next = has_more
        .then(|| {
            rows.last()
                .map(|r| format!("{}&after={}", aq.query_string(), r.id))
        })
        .flatten();
    render(
        if aq.problems.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        &AuditPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "audit", None),
            notice: (!aq.problems.is_empty()).then(|| aq.problems.join(" ")),
            actions: Action::ALL
                .iter()
                .map(|a| ActionOption {
                    value: a.as_str(),
                    selected: selected == Some(a.as_str()),
                })
                .collect(),
            actor: aq.value("actor"),
            object: aq.value("object"),
            from: aq.value("from"),
            to: aq.value("to"),
            query: aq.query_string(),
            rows: rows.iter().map(|r| EventRow::of(r, &times)).collect(),
            next,
        },
    )
}

/// `GET /dashboard/audit.csv`: exactly what the same filters show, every page (the newest
/// `csv::CSV_MAX_ROWS` at most).
pub async fn audit_csv(
    State(state): State<AppState>,
    signed: Can<act::ViewAudit>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let partner = signed.partner();
    let times = signed.times();
    let aq = audit_query(params, &times);
    if !aq.problems.is_empty() {
        return (StatusCode::BAD_REQUEST, aq.problems.join(" ")).into_response();
    }
    let store = &state.store;
    let filter = &aq.filter;
    super::csv::export(
        "audit-events.csv",
        "id,created_at,action,outcome,actor_type,actor_id,actor_name,object_id,ip,user_agent,details",
        |page| async move { store.list_audit_events(&partner.id, filter, &page).await },
        |r| {
            vec![
                r.id.to_string(),
                times.iso(r.created_at),
                r.action.as_str().to_string(),
                r.outcome.as_str().to_string(),
                r.actor.kind.as_str().to_string(),
                r.actor.id.clone(),
                r.actor.name.clone(),
                r.object_id.clone().unwrap_or_default(),
                r.ip.clone().unwrap_or_default(),
                r.user_agent.clone().unwrap_or_default(),
                r.details.clone(),
            ]
        },
        |r| r.id.to_string(),
    )
    .await
}

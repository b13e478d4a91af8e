//! `GET /metrics`: the counters (`counters.rs`) and what is read at scrape time — the job queue by
//! kind, the database connections, the process — in the Prometheus text format (docs/api.md
//! §12). Requests are counted by `request_log.rs`. Who may read them (docs/api.md §9): with `metrics.token`, a
//! request carrying `Authorization: Bearer <token>`; with `metrics.listen`, anyone reaching that
//! address (and the token too, when one is set), and nobody on the public listener; with neither,
//! nobody (404, the page of an unknown path).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kassa_core::job::JobKind;
use kassa_core::secret::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::process_stats::ProcessStats;
use crate::prometheus::{write_gauge, write_header};
use crate::state::AppState;

/// `/metrics` on the public listener: only with a token, and only when the metrics have no
/// listener of their own.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = &state.config.metrics;
    match (&config.token, config.listen) {
        (Some(token), None) => guarded(&state, token, &headers).await,
        _ => crate::pages::not_found_page(),
    }
}

/// The router of the `metrics.listen` address: `GET /metrics` (behind the token when one is set)
/// and nothing else.
pub fn own_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(on_own_listener))
        .fallback(|| async { crate::pages::not_found_page() })
        .layer(crate::compression::layer())
        .with_state(state)
}

async fn on_own_listener(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.config.metrics.token {
        Some(token) => guarded(&state, token, &headers).await,
        None => render(&state).await,
    }
}

async fn guarded(state: &AppState, token: &Secret<String>, headers: &HeaderMap) -> Response {
    if bearer_matches(headers, token) {
        render(state).await
    } else {
        // No detail: whether the header was missing, malformed or wrong is not said.
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response()
    }
}

/// Whether the request's `Authorization: Bearer …` is the token. Both are hashed first, so the
/// constant-time comparison does not even tell the length.
fn bearer_matches(headers: &HeaderMap, token: &Secret<String>) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given = Sha256::digest(given.trim().as_bytes());
    let wanted = Sha256::digest(token.expose().as_bytes());
    given.ct_eq(&wanted).into()
}

async fn render(state: &AppState) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    state.metrics.render(&mut out);
    render_jobs(state, &mut out).await;
    render_connections(state, &mut out);
    render_process(&ProcessStats::read(), &mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// The queue by kind, every known kind shown (zero when empty) so a series does not vanish. A
/// database that does not answer leaves the families out; the rest is still served.
async fn render_jobs(state: &AppState, out: &mut String) {
    let queued = match state.store.queued_jobs(state.clock.now()).await {
        Ok(queued) => queued,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the job queue for /metrics");
            return;
        }
    };
    let mut kinds: Vec<(&str, i64, f64)> = JobKind::ALL
        .iter()
        .map(|kind| (kind.as_str(), 0, 0.0))
        .collect();
    for q in &queued {
        let age = q.oldest_due_for.as_seconds_f64();
        match kinds.iter_mut().find(|(kind, ..)| *kind == q.kind) {
            Some(known) => *known = (known.0, q.queued, age),
            None => kinds.push((&q.kind, q.queued, age)),
        }
    }
    write_header(
        out,
        "kassa_jobs_queued",
        "gauge",
        "Jobs not done yet, by kind.",
    );
    for (kind, queued, _) in &kinds {
        write_gauge(out, "kassa_jobs_queued", &[("kind", kind)], queued);
    }
    write_header(
        out,
        "kassa_jobs_oldest_age_seconds",
        "gauge",
        "How long the longest-waiting due job of each kind has been due.",
    );
    for (kind, _, age) in &kinds {
        write_gauge(out, "kassa_jobs_oldest_age_seconds", &[("kind", kind)], age);
    }
}

fn render_connections(state: &AppState, out: &mut String) {
    let stats = state.store.connection_stats();
    write_header(
        out,
        "kassa_db_connections",
        "gauge",
        "Open database connections by state (PostgreSQL's pool; SQLite's readers).",
    );
    write_gauge(
        out,
        "kassa_db_connections",
        &[("state", "idle")],
        stats.idle,
    );
    write_gauge(
        out,
        "kassa_db_connections",
        &[("state", "in_use")],
        stats.in_use,
    );
}

fn render_process(stats: &ProcessStats, out: &mut String) {
    if let Some(bytes) = stats.resident_memory_bytes {
        write_header(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        write_gauge(out, "process_resident_memory_bytes", &[], bytes);
    }
    if let Some(secs) = stats.cpu_seconds {
        write_header(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        write_gauge(out, "process_cpu_seconds_total", &[], secs);
    }
    if let Some(fds) = stats.open_fds {
        write_header(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        write_gauge(out, "process_open_fds", &[], fds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn only_the_bearer_token_matches() {
        let token = Secret::new("metrics-token-0123456789".to_string());
        assert!(bearer_matches(
            &headers("Bearer metrics-token-0123456789"),
            &token
        ));
        for wrong in [
            "Bearer metrics-token-012345678",
            "Bearer metrics-token-01234567890",
            "Bearer ",
            "bearer metrics-token-0123456789",
            "Basic metrics-token-0123456789",
            "metrics-token-0123456789",
        ] {
            assert!(!bearer_matches(&headers(wrong), &token), "{wrong}");
        }
        assert!(!bearer_matches(&HeaderMap::new(), &token));
    }
}

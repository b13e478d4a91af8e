//! One log line and one latency observation per request (docs/api.md §12), and its request id.
//! The middleware runs after routing, so it knows the route *template* (`/v1/payments/{id}`,
//! never a raw id; `unmatched` for unknown paths); it takes a sane `X-Request-Id` from the client
//! or makes one, runs the request inside a span carrying it, returns it on the answer, and then
//! logs method, route, status, latency, request id and — when the request was authenticated as a
//! partner, by API key or dashboard session — the partner id. Neither the query string nor the
//! body is ever logged: they may carry payer data.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use kassa_core::id::PartnerId;
use tracing::Instrument;

use crate::counters::UNMATCHED_ROUTE;
use crate::state::AppState;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client; a longer one is replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request's id: the client's when sane, else one Kassa made. In the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's `X-Request-Id` if it is a sane token — 1 to [`MAX_REQUEST_ID_LEN`] letters,
    /// digits and `-_.:+/=` (what UUIDs, trace ids and base64 use) — else a new one. Anything
    /// else (spaces, quotes, control characters, other bytes) could forge or break a log line.
    pub fn of(headers: &HeaderMap) -> RequestId {
        headers
            .get(&X_REQUEST_ID)
            .filter(|v| sane(v.as_bytes()))
            .map(|v| RequestId(v.clone()))
            .unwrap_or_else(RequestId::generate)
    }

    fn generate() -> RequestId {
        let id = kassa_core::id::random_base62(20);
        RequestId(HeaderValue::from_str(&id).expect("base62 is a valid header value"))
    }

    pub fn as_str(&self) -> &str {
        // Only sane (ASCII) values are ever kept.
        self.0.to_str().unwrap_or_default()
    }
}

fn sane(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(b))
}

/// Where the partner a request was authenticated as is noted for its log line: the middleware
/// puts an empty slot in the request's extensions, and the API key or session extractor fills it.
#[derive(Debug, Clone, Default)]
pub struct PartnerSlot(Arc<OnceLock<PartnerId>>);

/// Notes the partner a request is authenticated as (the first one noted stays).
pub fn note_partner(extensions: &axum::http::Extensions, partner: &PartnerId) {
    if let Some(PartnerSlot(slot)) = extensions.get::<PartnerSlot>() {
        let _ = slot.set(partner.clone());
    }
}

/// The middleware: id, span, answer, then the metrics and the log line.
pub async fn log_request(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId::of(req.headers());
    let partner = PartnerSlot::default();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    req.extensions_mut().insert(id.clone());
    req.extensions_mut().insert(partner.clone());

    let span = tracing::info_span!("request", id = id.as_str());
    let mut resp = next.run(req).instrument(span).await;
    resp.headers_mut().insert(&X_REQUEST_ID, id.0.clone());

    let took = started.elapsed();
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let status = resp.status();
    state.metrics.request(route, &method, status, took);
    tracing::info!(
        target: "kassa::request",
        method = method.as_str(),
        route,
        status = status.as_u16(),
        latency_ms = took.as_secs_f64() * 1000.0,
        request_id = id.as_str(),
        partner_id = partner.0.get().map(PartnerId::as_str),
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn a_sane_request_id_is_kept() {
        for id in [
            "abc",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "dGVzdA==",
        ] {
            assert_eq!(RequestId::of(&with(id.as_bytes())).as_str(), id);
        }
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(RequestId::of(&with(longest.as_bytes())).as_str(), longest);
    }

    #[test]
    fn a_hostile_or_missing_request_id_is_replaced() {
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for hostile in [
            too_long.as_bytes(),
            b"",
            b"a b",
            b"x\" status=200",
            b"a\tb",
            b"caf\xc3\xa9",
            b"{\"forged\":1}",
        ] {
            let id = RequestId::of(&with(hostile));
            assert_ne!(id.as_str().as_bytes(), hostile);
            assert_eq!(id.as_str().len(), 20);
            assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_eq!(RequestId::of(&HeaderMap::new()).as_str().len(), 20);
    }

    #[test]
    fn the_first_partner_noted_stays() {
        let mut extensions = axum::http::Extensions::new();
        let slot = PartnerSlot::default();
        extensions.insert(slot.clone());
        let (a, b) = (PartnerId::generate(), PartnerId::generate());
        note_partner(&extensions, &a);
        note_partner(&extensions, &b);
        assert_eq!(slot.0.get(), Some(&a));
        // Without a slot (a request outside the middleware), nothing happens.
        note_partner(&axum::http::Extensions::new(), &a);
    }
}

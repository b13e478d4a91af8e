//! Which API key may call which operation (docs/api.md §9). Each operation declares the scope it
//! needs once, in its `#[utoipa::path(security(("apiKey" = ["refunds"])))]`; the table here is
//! read from that same registration, so the OpenAPI document and the check cannot differ. A key
//! without the scope gets 403 `insufficient_scope` before the handler runs, and the refusal is
//! written to the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kassa_core::audit::{Action, Entry, Outcome};
use kassa_core::scope::Scope;
use utoipa::openapi::OpenApi;

use crate::api_auth::ApiAuth;
use crate::error::ApiError;
use crate::state::AppState;

/// The security scheme every operation names.
const SCHEME: &str = "apiKey";

/// The scope each operation needs, by method and path template (`/v1/refunds/{id}`).
#[derive(Debug, Clone, Default)]
pub struct ScopeTable(HashMap<(Method, String), Scope>);

impl ScopeTable {
    /// Reads every operation's scope from the OpenAPI document. Panics when an operation names
    /// no scope, or one Kassa does not have: that is a programming error, found by the first
    /// test that builds the router, never a request left unchecked.
    pub fn from_openapi(doc: &OpenApi) -> ScopeTable {
        let mut table = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let scope = required_scope(operation).unwrap_or_else(|| {
                    panic!("{method} {path} must name exactly one known scope in its security")
                });
                table.insert((method, path.clone()), scope);
            }
        }
        ScopeTable(table)
    }

    pub fn scope(&self, method: &Method, path: &str) -> Option<Scope> {
        self.0.get(&(method.clone(), path.to_string())).copied()
    }
}

/// The one scope of the operation's `apiKey` requirement.
fn required_scope(operation: &utoipa::openapi::path::Operation) -> Option<Scope> {
    let requirements = operation.security.as_ref()?;
    let json = serde_json::to_value(requirements).ok()?;
    let scopes = json.as_array()?.first()?.get(SCHEME)?.as_array()?;
    match scopes.as_slice() {
        [one] => Scope::parse(one.as_str()?),
        _ => None,
    }
}

/// The route layer: authenticates the caller and checks the operation's scope.
pub async fn layer(
    State((state, table)): State<(AppState, Arc<ScopeTable>)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    // Every operation is in the table (`from_openapi` checked each); anything else is refused.
    let scope = path
        .as_deref()
        .and_then(|p| table.scope(&parts.method, p))
        .unwrap_or(Scope::Admin);
    let auth = match ApiAuth::from_request_parts(&mut parts, &state).await {
        Ok(auth) => auth,
        Err(e) => return e.into_response(),
    };
    let operation = format!("{} {}", parts.method, path.as_deref().unwrap_or("?"));
    if let Err(denied) = require(&state, &auth, scope, Some(&operation)).await {
        return denied.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Refuses the call with 403 `insufficient_scope` unless the key has `scope`, writing the
/// refusal to the audit log. For checks inside an operation (the security settings of
/// `PATCH /v1/partner`, the scopes a new key may get), handlers call it themselves.
pub async fn require(
    state: &AppState,
    auth: &ApiAuth,
    scope: Scope,
    operation: Option<&str>,
) -> Result<(), ApiError> {
    if auth.key.scopes.contains(scope) {
        return Ok(());
    }
    deny(state, auth, scope, operation).await
}

/// Writes the refusal to the audit log and answers 403 `insufficient_scope`.
pub async fn deny(
    state: &AppState,
    auth: &ApiAuth,
    scope: Scope,
    operation: Option<&str>,
) -> Result<(), ApiError> {
    let entry = Entry {
        action: Action::AccessDenied,
        outcome: Outcome::Denied,
        object_id: None,
        details: serde_json::json!({
            "requiredScope": scope.as_str(),
            "operation": operation,
        }),
    };
    state
        .store
        .record_audit(Some(&auth.partner.id), &auth.caller, &entry)
        .await?;
    Err(ApiError::insufficient_scope(scope))
}

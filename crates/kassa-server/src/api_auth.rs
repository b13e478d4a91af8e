//! The authenticated caller of an API request: the partner whose API key is in
//! `Authorization: Bearer sk_…`. The handlers under `api/` and the idempotency layer both ask
//! for it; it is looked up once per request. Two limits of docs/api.md §8 are kept here: failed
//! authentications per client IP (a refused address is not even looked up) and calls per key.
//! It also names the caller for the audit log: the key, the client's address and user agent.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kassa_core::audit::{Actor, Caller};
use kassa_store::{KeyHolder, Partner};

use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;
use crate::vault::hash_api_key;

/// The authenticated caller of an API request.
#[derive(Clone, Debug)]
pub struct ApiAuth {
    pub partner: Arc<Partner>,
    /// The key, with its scopes.
    pub key: KeyHolder,
    /// Who is calling, for the audit log: the key, from the client's address.
    pub caller: Caller,
}

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(auth) = parts.extensions.get::<ApiAuth>() {
            return Ok(auth.clone());
        }
        let Ok(client) = ClientIp::from_request_parts(parts, state).await;
        let ip = client.network();
        if let Some(retry_after) = state.limits.known_refused(ip, state.clock.now()) {
            return Err(ApiError::rate_limited(
                retry_after,
                "too many failed authentications from this address; wait before trying again",
            ));
        }
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let Some(key) = key else {
            let missing = ApiError::missing_api_key();
            return Err(state.limits.failed_authentication(state, ip, missing).await);
        };
        let found = state
            .store
            .partner_by_api_key_hash(&hash_api_key(key))
            .await?;
        let Some((partner, key)) = found else {
            let invalid = ApiError::invalid_api_key();
            return Err(state.limits.failed_authentication(state, ip, invalid).await);
        };
        crate::request_log::note_partner(&parts.extensions, &partner.id);
        state.limits.api_call(&key.id)?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let caller = Caller::new(
            Actor::api_key(key.id.as_str(), &key.label),
            state.clock.now(),
            Some(client.0.to_string()),
            user_agent,
        );
        let auth = ApiAuth {
            partner: Arc::new(partner),
            key,
            caller,
        };
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

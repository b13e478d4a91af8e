//! The authenticated caller of an API request: the partner whose API key is in
//! `Authorization: Bearer sk_…`. The handlers under `api/` and the idempotency layer both ask
//! for it; it is looked up once per request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kassa_core::id::ApiKeyId;
use kassa_store::Partner;

use crate::error::ApiError;
use crate::state::AppState;
use crate::vault::hash_api_key;

/// The authenticated caller of an API request.
#[derive(Clone, Debug)]
pub struct ApiAuth {
    pub partner: Arc<Partner>,
    #[allow(dead_code)]
    pub key_id: ApiKeyId,
}

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(auth) = parts.extensions.get::<ApiAuth>() {
            return Ok(auth.clone());
        }
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(ApiError::missing_api_key)?;
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(ApiError::missing_api_key)?;
        let (partner, key_id) = state
            .store
            .partner_by_api_key_hash(&hash_api_key(key))
            .await?
            .ok_or_else(ApiError::invalid_api_key)?;
        let auth = ApiAuth {
            partner: Arc::new(partner),
            key_id,
        };
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

//! A partner's logo, uploaded and removed: the one use case behind `PUT`/`DELETE
//! /v1/partner/logo` (`api/logo.rs`) and the dashboard's Settings (`pages/dashboard/settings.rs`).
//! What a logo may be is `kassa_core::logo`; the bytes go to `kassa_store::LogoStore`.

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, StatusCode};
use kassa_core::audit::Caller;
use kassa_core::error::ValidationError;
use kassa_core::logo::{Logo, LogoError, MAX_LOGO_BYTES};
use kassa_store::{LogoRef, Partner};

use crate::error::ApiError;
use crate::state::AppState;

/// The API's answer to a refused upload: 413 `logo_too_large`, 415 `unsupported_logo_type`,
/// or 400 `invalid_logo`.
pub fn refusal(e: &LogoError) -> ApiError {
    let status = match e {
        LogoError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        LogoError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::invalid_request(status, e.code(), format!("the logo {}", e.message()))
}

/// Reads an upload's body, stopping as soon as it passes [`MAX_LOGO_BYTES`] (a declared
/// `Content-Length` over it is refused before anything is read).
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_LOGO_BYTES as u64) {
        return Err(refusal(&LogoError::TooLarge));
    }
    to_bytes(body, MAX_LOGO_BYTES)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| refusal(&LogoError::TooLarge))
}

/// Checks `bytes` as a logo of `content_type` and makes it the partner's.
pub async fn upload(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    content_type: &str,
    bytes: &[u8],
) -> Result<LogoRef, ApiError> {
    let logo = Logo::parse(content_type, bytes).map_err(|e| refusal(&e))?;
    if !state.store.set_logo(&partner.id, &logo, by).await? {
        return Err(ApiError::not_found("partner"));
    }
    Ok(LogoRef {
        content_type: logo.kind.content_type().to_string(),
        sha256: logo.sha256,
        width: logo.width,
        height: logo.height,
        updated_at: by.at,
    })
}

/// Removes the partner's logo (its pages show its name again); false when it had none.
pub async fn remove(state: &AppState, partner: &Partner, by: &Caller) -> Result<bool, ApiError> {
    Ok(state.store.delete_logo(&partner.id, by).await?)
}

/// The logo's absolute URL, as `GET /v1/partner` shows it.
pub fn public_url(state: &AppState, partner: &Partner, logo: &LogoRef) -> String {
    format!(
        "{}{}",
        state.config.public_base(),
        crate::pages::logo_path(partner, logo)
    )
}

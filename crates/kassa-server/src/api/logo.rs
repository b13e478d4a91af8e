//! `PUT /v1/partner/logo` and `DELETE /v1/partner/logo` (docs/api.md §11): the partner's logo,
//! uploaded as the raw body and stored and served by Kassa (`crate::partner_logo`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::file_body::FileBody;
use super::ApiAuth;
use crate::error::{ApiError, ErrorBody};
use crate::partner_logo;
use crate::state::AppState;

/// The partner's logo as Kassa serves it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PartnerLogo)]
pub struct LogoBody {
    /// Where Kassa serves it (also `logoUrl` on the partner); it changes with the logo.
    #[schema(format = "uri")]
    url: String,
    /// `image/png`, `image/jpeg` or `image/svg+xml`.
    content_type: String,
    /// Pixels for PNG and JPEG; the SVG's own size.
    width: u32,
    height: u32,
    /// Hex SHA-256 of the stored bytes (an SVG's as sanitised).
    sha256: String,
    #[serde(with = "kassa_core::clock::rfc3339")]
    updated_at: OffsetDateTime,
}

#[utoipa::path(
    put,
    path = "/v1/partner/logo",
    tag = "Settings",
    operation_id = "uploadPartnerLogo",
    summary = "Upload your logo",
    description = "The logo your pay pages and receipts show, sent as the raw request body with \
        its `Content-Type`: `image/png`, `image/jpeg` or `image/svg+xml`, at most 256 KB. A PNG or \
        JPEG must be what its magic bytes say and at most 2048 pixels either side; an SVG is \
        sanitised (only shapes, text, gradients and clip paths are kept: no script, style \
        element, event attribute, external reference or `javascript:`/`data:` URL) and one with \
        a DOCTYPE is refused. It replaces the logo you had. Kassa serves it at `url`, on its own \
        host and on your billing host; pages never load a logo from anywhere else.",
    request_body(
        description = "The image file itself.",
        content((FileBody = "image/png"), (FileBody = "image/jpeg"), (FileBody = "image/svg+xml"))
    ),
    responses(
        (status = 200, description = "The stored logo", body = LogoBody),
        (status = 400, description = "`invalid_logo`: not a readable image of its type, larger than 2048 pixels, or an SVG with a DOCTYPE or without a size", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 413, description = "`logo_too_large`: more than 256 KB", body = ErrorBody),
        (status = 415, description = "`unsupported_logo_type`: not PNG, JPEG or SVG", body = ErrorBody),
    ),
    security(("apiKey" = ["settings"])),
)]
pub async fn upload_logo(
    State(state): State<AppState>,
    auth: ApiAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<LogoBody>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The type is checked before the body is read: an unwanted upload is not taken in.
    if kassa_core::logo::LogoType::from_content_type(content_type).is_none() {
        return Err(partner_logo::refusal(
            &kassa_core::logo::LogoError::UnsupportedType,
        ));
    }
    let bytes = partner_logo::read_body(&headers, body).await?;
    let logo =
        partner_logo::upload(&state, &auth.partner, &auth.caller, content_type, &bytes).await?;
    Ok(Json(LogoBody {
        url: partner_logo::public_url(&state, &auth.partner, &logo),
        content_type: logo.content_type,
        width: logo.width,
        height: logo.height,
        sha256: logo.sha256,
        updated_at: logo.updated_at,
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/partner/logo",
    tag = "Settings",
    operation_id = "deletePartnerLogo",
    summary = "Remove your logo",
    description = "Your pages show your name instead of a logo.",
    responses(
        (status = 200, description = "Removed", body = DeletedLogo),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "`not_found`: you have no logo", body = ErrorBody),
    ),
    security(("apiKey" = ["settings"])),
)]
pub async fn delete_logo(
    State(state): State<AppState>,
    auth: ApiAuth,
) -> Result<Json<DeletedLogo>, ApiError> {
    if partner_logo::remove(&state, &auth.partner, &auth.caller).await? {
        Ok(Json(DeletedLogo { deleted: true }))
    } else {
        Err(ApiError::not_found("logo"))
    }
}

/// The answer to `DELETE /v1/partner/logo`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedPartnerLogo)]
pub struct DeletedLogo {
    /// Always `true`.
    deleted: bool,
}

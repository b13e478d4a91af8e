//! The Settings page's logo (docs/api.md §11): `POST /dashboard/settings/logo` uploads one (a
//! multipart form with the CSRF token and the file), `POST /dashboard/settings/logo/remove`
//! removes it. Both go through `crate::partner_logo`, as the API's `PUT`/`DELETE
//! /v1/partner/logo` do; a refused file is said on the Settings page and changes nothing.

use std::collections::HashMap;

use axum::extract::{Form, Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::logo::{LogoError, MAX_LOGO_BYTES};

use super::{act, Can};
use crate::partner_logo;
use crate::state::AppState;

/// A file chosen in the form, read no further than [`MAX_LOGO_BYTES`] and one byte.
struct Upload {
    content_type: String,
    bytes: Vec<u8>,
    too_large: bool,
}

/// The type a browser sent for the file, else the one its name says.
fn content_type_of(declared: Option<&str>, file_name: Option<&str>) -> String {
    match declared.filter(|t| !t.is_empty() && *t != "application/octet-stream") {
        Some(t) => t.to_string(),
        None => {
            let name = file_name.unwrap_or("").to_ascii_lowercase();
            let guessed = if name.ends_with(".png") {
                "image/png"
            } else if name.ends_with(".jpg") || name.ends_with(".jpeg") {
                "image/jpeg"
            } else if name.ends_with(".svg") {
                "image/svg+xml"
            } else {
                ""
            };
            guessed.to_string()
        }
    }
}

/// The form's text fields and its file (`logo`).
async fn read_form(
    mut multipart: Multipart,
) -> Result<(HashMap<String, String>, Option<Upload>), String> {
    let unreadable = |_| "The form could not be read. Please choose the file again.".to_string();
    let mut fields = HashMap::new();
    let mut upload = None;
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "logo" {
            let content_type = content_type_of(field.content_type(), field.file_name());
            let mut bytes = Vec::new();
            let mut too_large = false;
            while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_LOGO_BYTES {
                    too_large = true;
                    break;
                }
            }
            upload = Some(Upload {
                content_type,
                bytes,
                too_large,
            });
            if too_large {
                break;
            }
        } else if name == "csrfToken" {
            let text = field.text().await.map_err(unreadable)?;
            fields.insert(name, text.chars().take(200).collect());
        }
    }
    Ok((fields, upload))
}

/// `POST /dashboard/settings/logo`.
pub async fn upload_logo(
    State(state): State<AppState>,
    signed: Can<act::ManageSettings>,
    multipart: Multipart,
) -> Response {
    let (fields, upload) = match read_form(multipart).await {
        Ok(read) => read,
        Err(message) => return super::settings::with_logo_error(&state, &signed, message).await,
    };
    if let Some(resp) = signed.refuse_form(&state, &fields) {
        return resp;
    }
    let refused = |e: LogoError| {
        let message = super::sentence(partner_logo::refusal(&e).message());
        super::settings::with_logo_error(&state, &signed, message)
    };
    let upload = match upload {
        Some(u) if !u.bytes.is_empty() || u.too_large => u,
        _ => {
            return super::settings::with_logo_error(
                &state,
                &signed,
                "Choose a PNG, JPEG or SVG file to upload.".into(),
            )
            .await
        }
    };
    if upload.too_large {
        return refused(LogoError::TooLarge).await;
    }
    match partner_logo::upload(
        &state,
        signed.partner(),
        &signed.caller,
        &upload.content_type,
        &upload.bytes,
    )
    .await
    {
        Ok(_) => Redirect::to("/dashboard/settings?done=logo-saved").into_response(),
        Err(e) if e.is_internal() => crate::pages::internal_error_page(e.into_cause()),
        Err(e) => {
            let message = super::sentence(e.message());
            super::settings::with_logo_error(&state, &signed, message).await
        }
    }
}

/// `POST /dashboard/settings/logo/remove`: the pages show the business name again.
pub async fn remove_logo(
    State(state): State<AppState>,
    signed: Can<act::ManageSettings>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    if let Some(ask) = super::confirm::unconfirmed(&form, "/dashboard/settings/logo/remove") {
        return ask;
    }
    match partner_logo::remove(&state, signed.partner(), &signed.caller).await {
        Ok(_) => Redirect::to("/dashboard/settings?done=logo-removed").into_response(),
        Err(e) => crate::pages::internal_error_page(e.into_cause()),
    }
}

#[cfg(test)]
mod tests {
    use super::content_type_of;

    #[test]
    fn the_browsers_type_else_the_files_extension() {
        assert_eq!(
            content_type_of(Some("image/png"), Some("x.svg")),
            "image/png"
        );
        assert_eq!(
            content_type_of(Some("application/octet-stream"), Some("Logo.SVG")),
            "image/svg+xml"
        );
        assert_eq!(content_type_of(None, Some("a.jpeg")), "image/jpeg");
        assert_eq!(content_type_of(None, Some("a.gif")), "");
    }
}

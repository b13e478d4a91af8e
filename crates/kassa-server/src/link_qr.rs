//! The QR code of a payment link, as an SVG image (docs/api.md §11): answered by
//! `GET /v1/payment-requests/{id}/qr` and by the dashboard's payment request page.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The link as a standalone SVG document (black modules on white, a quiet zone around them).
pub fn svg(link: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(link.as_bytes())?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// The link's QR code as an `image/svg+xml` answer; a link too long for a QR code (none Kassa
/// makes is) is a server fault.
pub fn svg_response(link: &str) -> Response {
    match svg(link) {
        Ok(svg) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            svg,
        )
            .into_response(),
        Err(e) => crate::pages::internal_error_page(anyhow::anyhow!("QR code of a link: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::svg;

    #[test]
    fn a_link_is_a_standalone_svg_without_script_or_style() {
        let svg = svg("https://pay.acme.example/pay/pr_0123456789abcdefghijklmn").unwrap();
        assert!(svg.starts_with("<?xml"), "{svg:.60}");
        assert!(svg.contains("<svg") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!svg.contains("<script") && !svg.contains("style="));
    }
}

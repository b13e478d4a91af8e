//! A partner's logo, uploaded to Kassa and served by it (never hot-linked): PNG, JPEG or SVG,
//! at most [`MAX_LOGO_BYTES`]. PNG and JPEG are checked by their magic bytes and their size is
//! read from the header (`raster.rs`, no image decoder); an SVG is sanitised by an allow-list
//! and written again (`svg.rs`). What is stored is what [`Logo::parse`] returns.

mod raster;
mod svg;

use sha2::{Digest, Sha256};

use crate::error::ValidationError;

/// The largest upload accepted, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The largest width or height of a PNG or JPEG logo, in pixels.
pub const MAX_LOGO_SIDE: u32 = 2048;

/// The kinds of image a logo may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Jpeg,
    Svg,
}

impl LogoType {
    /// The type a `Content-Type` names (parameters such as `; charset=utf-8` ignored).
    pub fn from_content_type(value: &str) -> Option<LogoType> {
        let essence = value.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "image/png" => Some(LogoType::Png),
            "image/jpeg" | "image/jpg" => Some(LogoType::Jpeg),
            "image/svg+xml" => Some(LogoType::Svg),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            LogoType::Png => "image/png",
            LogoType::Jpeg => "image/jpeg",
            LogoType::Svg => "image/svg+xml",
        }
    }
}

/// Why an upload is not a logo Kassa keeps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoError {
    #[error("is larger than 256 KB")]
    TooLarge,
    #[error("must be a PNG, JPEG or SVG image (image/png, image/jpeg or image/svg+xml)")]
    UnsupportedType,
    #[error("is not a readable {0} image")]
    Unreadable(&'static str),
    #[error("is {width}×{height} pixels; at most 2048 pixels either side")]
    TooBig { width: u32, height: u32 },
    #[error("is an SVG with a DOCTYPE, which is not accepted")]
    SvgDoctype,
    #[error("is an SVG that is not well-formed XML ({0})")]
    SvgMalformed(String),
    #[error("is an SVG without a size: give its root a viewBox or width and height")]
    SvgNoSize,
}

impl ValidationError for LogoError {
    fn code(&self) -> &'static str {
        match self {
            LogoError::TooLarge => "logo_too_large",
            LogoError::UnsupportedType => "unsupported_logo_type",
            _ => "invalid_logo",
        }
    }
}

/// A checked logo, ready to be stored: its bytes (an SVG's sanitised), their SHA-256 (hex,
/// which names the logo in its URL) and its size in pixels (an SVG's own units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub kind: LogoType,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

impl Logo {
    /// Checks an upload of `content_type` (the `Content-Type` it was sent with).
    pub fn parse(content_type: &str, bytes: &[u8]) -> Result<Logo, LogoError> {
        let kind = LogoType::from_content_type(content_type).ok_or(LogoError::UnsupportedType)?;
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(LogoError::TooLarge);
        }
        let (bytes, (width, height)) = match kind {
            LogoType::Png => (bytes.to_vec(), raster::png_size(bytes)?),
            LogoType::Jpeg => (bytes.to_vec(), raster::jpeg_size(bytes)?),
            LogoType::Svg => {
                let clean = svg::sanitize(bytes)?;
                (clean.markup.into_bytes(), (clean.width, clean.height))
            }
        };
        if kind != LogoType::Svg
            && (width == 0 || height == 0 || width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE)
        {
            return Err(LogoError::TooBig { width, height });
        }
        Ok(Logo {
            kind,
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
            width,
            height,
        })
    }
}

/// The size to draw a `width`×`height` logo at inside a `max_width`×`max_height` box, keeping
/// its proportions (never larger than it is, never 0).
pub fn fit(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let scale = (f64::from(max_width) / w)
        .min(f64::from(max_height) / h)
        .min(1.0);
    (
        ((w * scale).round() as u32).max(1),
        ((h * scale).round() as u32).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_name_the_three_kinds_only() {
        assert_eq!(
            LogoType::from_content_type("image/png"),
            Some(LogoType::Png)
        );
        assert_eq!(
            LogoType::from_content_type("Image/SVG+XML; charset=utf-8"),
            Some(LogoType::Svg)
        );
        assert_eq!(LogoType::from_content_type("image/gif"), None);
        assert_eq!(LogoType::from_content_type("text/html"), None);
        assert_eq!(
            Logo::parse("image/webp", b"RIFF").unwrap_err().code(),
            "unsupported_logo_type"
        );
    }

    #[test]
    fn too_large_is_refused_before_it_is_read() {
        let big = vec![0u8; MAX_LOGO_BYTES + 1];
        assert_eq!(Logo::parse("image/png", &big), Err(LogoError::TooLarge));
        assert_eq!(LogoError::TooLarge.code(), "logo_too_large");
    }

    #[test]
    fn a_png_is_kept_as_sent_with_its_hash_and_size() {
        let png = raster::tests::png(120, 40);
        let logo = Logo::parse("image/png", &png).unwrap();
        assert_eq!((logo.width, logo.height), (120, 40));
        assert_eq!(logo.bytes, png);
        assert_eq!(logo.sha256, hex::encode(Sha256::digest(&png)));
        assert_eq!(logo.kind.content_type(), "image/png");
    }

    #[test]
    fn a_huge_raster_is_refused() {
        let png = raster::tests::png(4000, 40);
        assert_eq!(
            Logo::parse("image/png", &png),
            Err(LogoError::TooBig {
                width: 4000,
                height: 40
            })
        );
    }

    #[test]
    fn the_wrong_magic_for_the_type_is_refused() {
        let png = raster::tests::png(10, 10);
        assert_eq!(
            Logo::parse("image/jpeg", &png),
            Err(LogoError::Unreadable("JPEG"))
        );
        assert_eq!(
            Logo::parse("image/png", b"<svg/>"),
            Err(LogoError::Unreadable("PNG"))
        );
    }

    #[test]
    fn logos_fit_their_box_in_proportion() {
        assert_eq!(fit(440, 96, 220, 48), (220, 48));
        assert_eq!(fit(100, 100, 220, 48), (48, 48));
        assert_eq!(fit(1000, 10, 220, 48), (220, 2));
        assert_eq!(fit(20, 10, 220, 48), (20, 10));
        assert_eq!(fit(0, 0, 220, 48), (1, 1));
    }
}

//! Colours that stay readable whatever brand colour a partner picks (WCAG 2.x contrast): the text
//! drawn on the brand colour (the Pay button, the brand bar) is black or white, whichever
//! contrasts more — one of them always reaches 4.5:1 — and where the brand colour itself is text
//! on the white page (links), a darker shade of it is used when it would not.

use crate::partner::BrandColor;

/// WCAG's minimum contrast for body text (level AA).
pub const TEXT_CONTRAST: f64 = 4.5;

/// WCAG's minimum contrast for focus rings, borders and other non-text marks (level AA).
pub const MARK_CONTRAST: f64 = 3.0;

/// The colours a page derives from a brand colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    /// The brand colour itself, as the partner picked it (`#rrggbb`).
    pub brand: String,
    /// Text on the brand colour: `#000000` or `#ffffff`.
    pub on_brand: &'static str,
    /// The brand colour as text on white: itself, or the lightest darker shade that reaches
    /// [`TEXT_CONTRAST`].
    pub ink: String,
    /// The brand colour's own contrast with white.
    pub on_white: f64,
}

impl Palette {
    pub fn of(color: &BrandColor) -> Palette {
        let rgb = rgb(color.as_str());
        let white = contrast(rgb, WHITE);
        let on_brand = if white >= contrast(rgb, BLACK) {
            "#ffffff"
        } else {
            "#000000"
        };
        Palette {
            brand: color.as_str().to_string(),
            on_brand,
            ink: hex(darkened_until_readable(rgb)),
            on_white: white,
        }
    }

    /// Whether the brand colour is too light for the marks drawn in it on white (focus rings,
    /// the selected tab) — what the settings preview warns about.
    pub fn too_light_for_marks(&self) -> bool {
        self.on_white < MARK_CONTRAST
    }

    /// Whether links use a darker shade than the brand colour.
    pub fn ink_is_darkened(&self) -> bool {
        self.ink != self.brand
    }
}

type Rgb = (u8, u8, u8);

const WHITE: Rgb = (255, 255, 255);
const BLACK: Rgb = (0, 0, 0);

/// `#rrggbb` (already validated by [`BrandColor::parse`]) as its three channels.
fn rgb(hex: &str) -> Rgb {
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    (channel(1), channel(3), channel(5))
}

fn hex((r, g, b): Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Relative luminance (WCAG 2.x).
fn luminance((r, g, b): Rgb) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// The contrast ratio of two colours, from 1 to 21.
pub fn contrast_ratio(a: &BrandColor, b: &BrandColor) -> f64 {
    contrast(rgb(a.as_str()), rgb(b.as_str()))
}

fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (light, dark) = if la >= lb { (la, lb) } else { (lb, la) };
    (light + 0.05) / (dark + 0.05)
}

/// The colour mixed with black in small steps until it reads on white; black reads at 21:1.
fn darkened_until_readable(rgb: Rgb) -> Rgb {
    let (r, g, b) = rgb;
    (0..=100u16)
        .map(|step| {
            let keep = |c: u8| ((u16::from(c) * (100 - step) + 50) / 100) as u8;
            (keep(r), keep(g), keep(b))
        })
        .find(|shade| contrast(*shade, WHITE) >= TEXT_CONTRAST)
        .unwrap_or(BLACK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn color(s: &str) -> BrandColor {
        BrandColor::parse(s).unwrap()
    }

    #[test]
    fn the_extremes_and_a_known_pair() {
        assert!((contrast_ratio(&color("#000000"), &color("#ffffff")) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio(&color("#777777"), &color("#ffffff")) - 4.48).abs() < 0.01);
    }

    #[test]
    fn a_light_brand_gets_dark_text_and_darker_links() {
        let pale = Palette::of(&color("#ffe066"));
        assert_eq!(pale.on_brand, "#000000");
        assert!(pale.too_light_for_marks());
        assert!(pale.ink_is_darkened());
        assert!(contrast(rgb(&pale.ink), WHITE) >= TEXT_CONTRAST);

        let kassa = Palette::of(&BrandColor::default_color());
        assert_eq!(kassa.on_brand, "#ffffff");
        assert!(!kassa.too_light_for_marks());
        assert_eq!(kassa.ink, "#1f4fd1", "a dark brand colour is its own ink");
    }

    proptest! {
        #[test]
        fn every_brand_colour_gets_readable_text_and_ink(r: u8, g: u8, b: u8) {
            let c = color(&hex((r, g, b)));
            let p = Palette::of(&c);
            prop_assert!(contrast(rgb(&p.brand), rgb(p.on_brand)) >= TEXT_CONTRAST);
            prop_assert!(contrast(rgb(&p.ink), WHITE) >= TEXT_CONTRAST);
            // The ink keeps the brand's hue: a darker shade, never another colour.
            let (ir, ig, ib) = rgb(&p.ink);
            prop_assert!(ir <= r && ig <= g && ib <= b);
        }
    }
}

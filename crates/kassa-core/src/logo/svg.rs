//! SVG logos, sanitised by an allow-list: only presentational elements and attributes are kept
//! and the document is written again from what was kept. Scripts, `foreignObject`, `style`
//! elements, event attributes, external references and `javascript:`/`data:` URLs never reach
//! the output; a DOCTYPE (and with it any entity) is refused outright.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::LogoError;

/// Elements kept (with their content); anything else is dropped with everything inside it.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "defs",
    "linearGradient",
    "radialGradient",
    "stop",
    "title",
    "desc",
    "clipPath",
    "mask",
    "use",
];

/// Elements whose text is kept.
const TEXT_ELEMENTS: &[&str] = &["text", "tspan", "title", "desc"];

/// Attributes kept (besides `href`, kept on `use` and gradients when it points inside).
const ATTRIBUTES: &[&str] = &[
    "id",
    "width",
    "height",
    "viewBox",
    "preserveAspectRatio",
    "version",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "dx",
    "dy",
    "d",
    "points",
    "pathLength",
    "transform",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "opacity",
    "color",
    "display",
    "visibility",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "clip-path",
    "clip-rule",
    "clipPathUnits",
    "mask",
    "maskUnits",
    "maskContentUnits",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-anchor",
    "dominant-baseline",
    "letter-spacing",
    "textLength",
    "lengthAdjust",
];

/// Deeper documents are refused (a logo needs nothing like it).
const MAX_DEPTH: usize = 64;

/// A sanitised SVG: the markup to store and the size its root declares.
#[derive(Debug)]
pub(super) struct CleanSvg {
    pub markup: String,
    pub width: u32,
    pub height: u32,
}

fn malformed(what: impl std::fmt::Display) -> LogoError {
    LogoError::SvgMalformed(what.to_string())
}

/// Reads `bytes` (UTF-8) and writes back only what the allow-lists keep.
pub(super) fn sanitize(bytes: &[u8]) -> Result<CleanSvg, LogoError> {
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out = String::with_capacity(text.len());
    // The kept elements open now (None: inside a dropped element, skipped with its content).
    let mut open: Vec<Option<String>> = Vec::new();
    let mut size = None;
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("at byte {}: {e}", reader.error_position())))?;
        let skipping = open.iter().any(Option::is_none);
        match event {
            Event::DocType(_) => return Err(LogoError::SvgDoctype),
            Event::Start(e) | Event::Empty(e) if !seen_root && e.name().as_ref() != b"svg" => {
                let _ = e;
                return Err(malformed("the root element is not <svg>"));
            }
            Event::Start(e) if !seen_root => {
                seen_root = true;
                size = Some(root_size(&e)?);
                write_start(&mut out, "svg", &e, true, false)?;
                open.push(Some("svg".into()));
            }
            Event::Empty(e) if !seen_root => {
                seen_root = true;
                size = Some(root_size(&e)?);
                write_start(&mut out, "svg", &e, true, true)?;
            }
            Event::Start(e) => {
                if open.len() >= MAX_DEPTH {
                    return Err(malformed("nested too deeply"));
                }
                let name = element_name(&e);
                match name.filter(|_| !skipping) {
                    Some(name) => {
                        write_start(&mut out, name, &e, false, false)?;
                        open.push(Some(name.to_string()));
                    }
                    None => open.push(None),
                }
            }
            Event::Empty(e) => {
                if let Some(name) = element_name(&e).filter(|_| !skipping) {
                    write_start(&mut out, name, &e, false, true)?;
                }
            }
            Event::End(_) => match open.pop() {
                Some(Some(name)) => {
                    out.push_str("</");
                    out.push_str(&name);
                    out.push('>');
                }
                Some(None) => {}
                None => return Err(malformed("an end tag without its start")),
            },
            Event::Text(t) if !skipping && in_text(&open) => {
                let decoded = t.xml_content().map_err(malformed)?;
                escape_into(&mut out, &decoded, false);
            }
            Event::CData(t) if !skipping && in_text(&open) => {
                let decoded = t.decode().map_err(malformed)?;
                escape_into(&mut out, &decoded, false);
            }
            Event::GeneralRef(r) => {
                // Character references and the five predefined entities; without a DTD no
                // other entity exists.
                let c = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c,
                    None => match r.as_ref() {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return Err(malformed("an undefined entity")),
                    },
                };
                if !skipping && in_text(&open) {
                    escape_into(&mut out, c.encode_utf8(&mut [0; 4]), false);
                }
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and text outside text elements.
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err(malformed("an element is not closed"));
    }
    let (width, height) = size.ok_or_else(|| malformed("no <svg> element"))?;
    Ok(CleanSvg {
        markup: out,
        width,
        height,
    })
}

/// The allowed element this start tag opens (unprefixed names only).
fn element_name(e: &BytesStart<'_>) -> Option<&'static str> {
    let name = e.name();
    ELEMENTS
        .iter()
        .copied()
        .find(|n| n.as_bytes() == name.as_ref())
}

fn in_text(open: &[Option<String>]) -> bool {
    matches!(open.last(), Some(Some(name)) if TEXT_ELEMENTS.contains(&name.as_str()))
}

/// Writes a start tag with the attributes the allow-list keeps; the root gets the SVG
/// namespace (and only it).
fn write_start(
    out: &mut String,
    name: &str,
    e: &BytesStart<'_>,
    root: bool,
    empty: bool,
) -> Result<(), LogoError> {
    out.push('<');
    out.push_str(name);
    if root {
        out.push_str(" xmlns=\"http://www.w3.org/2000/svg\"");
    }
    for attr in e.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = std::str::from_utf8(attr.key.as_ref()).map_err(malformed)?;
        let value = attr.unescape_value().map_err(malformed)?;
        let Some(kept) = kept_attribute(name, key, &value) else {
            continue;
        };
        out.push(' ');
        out.push_str(kept);
        out.push_str("=\"");
        escape_into(out, &value, true);
        out.push('"');
    }
    out.push_str(if empty { "/>" } else { ">" });
    Ok(())
}

/// The name an attribute is written with, or None to drop it.
fn kept_attribute(element: &str, key: &str, value: &str) -> Option<&'static str> {
    if !safe_value(value) {
        return None;
    }
    if key == "href" || key == "xlink:href" {
        // Only a reference inside the document, on the elements that use one.
        let internal = value.trim_start().starts_with('#');
        let may = matches!(element, "use" | "linearGradient" | "radialGradient");
        return (internal && may).then_some("href");
    }
    ATTRIBUTES.iter().copied().find(|a| *a == key)
}

/// A value with no script or data URL, and no `url(…)` other than one inside the document.
fn safe_value(value: &str) -> bool {
    let folded: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect();
    if folded.contains("javascript:") || folded.contains("data:") || folded.contains('\\') {
        return false;
    }
    folded.match_indices("url(").all(|(i, m)| {
        folded[i + m.len()..]
            .trim_start_matches(['"', '\''])
            .starts_with('#')
    })
}

/// The root's size: `width` and `height` in px (or unitless), else the `viewBox`'s.
fn root_size(e: &BytesStart<'_>) -> Result<(u32, u32), LogoError> {
    let mut width = None;
    let mut height = None;
    let mut view_box = None;
    for attr in e.attributes() {
        let attr = attr.map_err(malformed)?;
        let value = attr.unescape_value().map_err(malformed)?;
        match attr.key.as_ref() {
            b"width" => width = pixels(&value),
            b"height" => height = pixels(&value),
            b"viewBox" => {
                let numbers: Vec<f64> = value
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| s.parse().ok())
                    .collect();
                if let [_, _, w, h] = numbers[..] {
                    view_box = Some((w, h));
                }
            }
            _ => {}
        }
    }
    let (w, h) = match (width, height, view_box) {
        (Some(w), Some(h), _) => (w, h),
        (_, _, Some(vb)) => vb,
        _ => return Err(LogoError::SvgNoSize),
    };
    if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
        return Err(LogoError::SvgNoSize);
    }
    let side = |v: f64| v.round().clamp(1.0, f64::from(u32::MAX)) as u32;
    Ok((side(w), side(h)))
}

/// A length in px or without a unit; None for other units (%, em, …).
fn pixels(value: &str) -> Option<f64> {
    let v = value.trim();
    v.strip_suffix("px").unwrap_or(v).trim().parse().ok()
}

fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(svg: &str) -> String {
        sanitize(svg.as_bytes()).unwrap().markup
    }

    #[test]
    fn a_plain_logo_keeps_its_shapes_and_size() {
        let svg = r##"<?xml version="1.0"?><!-- made by hand --><svg xmlns="http://www.w3.org/2000/svg" width="120" height="40px" viewBox="0 0 120 40"><title>Acme &amp; Co</title><rect x="0" y="0" width="120" height="40" fill="#1f4fd1"/><text x="10" y="28" font-size="20">Acme</text></svg>"##;
        let out = sanitize(svg.as_bytes()).unwrap();
        assert_eq!((out.width, out.height), (120, 40));
        assert_eq!(
            out.markup,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40px" viewBox="0 0 120 40"><title>Acme &amp; Co</title><rect x="0" y="0" width="120" height="40" fill="#1f4fd1"/><text x="10" y="28" font-size="20">Acme</text></svg>"##
        );
    }

    #[test]
    fn scripts_events_foreign_objects_and_styles_are_dropped() {
        let out = clean(
            r#"<svg viewBox="0 0 10 10" onload="alert(1)"><script>alert(2)</script><style>rect{fill:url(https://evil.example/x)}</style><foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(3)</script></body></foreignObject><rect width="10" height="10" onclick="alert(4)" style="fill:red"/><g><iframe src="https://evil.example"/></g></svg>"#,
        );
        assert_eq!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/><g></g></svg>"#
        );
        for bad in [
            "alert",
            "script",
            "style",
            "foreignObject",
            "iframe",
            "evil",
            "on",
        ] {
            assert!(
                !out.contains(&format!(" {bad}")) && !out.contains(&format!("<{bad}")),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_internal_references_are_kept() {
        let out = clean(
            r##"<svg xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"><defs><linearGradient id="g"><stop offset="0" stop-color="#000"/></linearGradient></defs><use xlink:href="#g"/><use href="https://evil.example/a.svg#x"/><use href="javascript:alert(1)"/><rect fill="url(#g)" width="1" height="1"/><rect fill="url(https://evil.example/p)" width="1" height="1"/><rect fill="url( 'data:image/png;base64,AAA')" width="2" height="2"/></svg>"##,
        );
        assert!(out.contains(r##"<use href="#g"/>"##), "{out}");
        assert!(out.contains(r##"fill="url(#g)""##));
        assert!(!out.contains("evil") && !out.contains("javascript") && !out.contains("data:"));
        assert!(!out.contains("xmlns:xlink"));
    }

    #[test]
    fn a_javascript_url_hidden_by_entities_or_case_is_dropped() {
        let out = clean(
            r##"<svg viewBox="0 0 1 1"><use href="#a" fill="JaVa&#x09;Script:alert(1)"/></svg>"##,
        );
        assert_eq!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><use href="#a"/></svg>"##
        );
    }

    #[test]
    fn a_doctype_or_an_entity_is_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg viewBox="0 0 1 1"><text>&x;</text></svg>"#;
        assert_eq!(sanitize(xxe.as_bytes()).unwrap_err(), LogoError::SvgDoctype);
        let undefined = r#"<svg viewBox="0 0 1 1"><text>&x;</text></svg>"#;
        assert!(matches!(
            sanitize(undefined.as_bytes()),
            Err(LogoError::SvgMalformed(_))
        ));
    }

    #[test]
    fn what_is_not_an_svg_is_refused() {
        for bad in [
            "<html><body/></html>",
            "<svg viewBox=\"0 0 1 1\"><g></svg>",
            "<svg viewBox=\"0 0 1 1\">",
            "not xml at all",
            "",
        ] {
            assert!(sanitize(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(sanitize(b"\xff\xfe<svg/>").is_err());
        assert_eq!(
            sanitize(b"<svg width=\"100%\"/>").unwrap_err(),
            LogoError::SvgNoSize
        );
    }

    #[test]
    fn text_outside_text_elements_and_comments_are_dropped() {
        let out = clean(
            r#"<svg width="2" height="2">hello<!-- x --><g>there</g><desc>kept &lt;here&gt;</desc></svg>"#,
        );
        assert_eq!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><g></g><desc>kept &lt;here&gt;</desc></svg>"#
        );
    }
}

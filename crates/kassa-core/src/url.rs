//! Redirect URLs, checked by a small strict hand-written parser. Payers are sent to these
//! after paying, so anything that could confuse a browser (backslashes, raw spaces,
//! userinfo, non-ASCII look-alikes) is rejected rather than normalised.

use crate::error::ValidationError;

pub const REDIRECT_URL_MAX_CHARS: usize = 2048;

/// A payer is sent here after paying: absolute https URL; plain http only when the host is
/// exactly localhost or 127.0.0.1; ≤ 2048 chars; no userinfo; no whitespace, control or
/// non-ASCII characters (they must be percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUrlError {
    #[error("is required")]
    Empty,
    #[error("must be at most 2048 characters")]
    TooLong,
    #[error("must be an absolute https URL")]
    Invalid,
    #[error("must use https")]
    Insecure,
    #[error("must not contain a user name or password")]
    CredentialsNotAllowed,
}

impl ValidationError for RedirectUrlError {
    fn code(&self) -> &'static str {
        match self {
            RedirectUrlError::Empty => "required",
            RedirectUrlError::TooLong => "too_long",
            RedirectUrlError::Invalid => "invalid_url",
            RedirectUrlError::Insecure => "insecure_url",
            RedirectUrlError::CredentialsNotAllowed => "credentials_not_allowed",
        }
    }
}

/// RFC 3986 unreserved + reserved characters, plus '%' (checked separately).
/// Excludes space, '"', '<', '>', '\\', '^', '`', '{', '|', '}' which must be encoded.
fn is_url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// Every '%' must start a two-hex-digit escape.
fn percent_escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match b.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

fn port_ok(port: &str) -> bool {
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
}

fn reg_name_ok(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn ipv6_literal_ok(inner: &str) -> bool {
    inner.contains(':')
        && inner
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}

/// Splits "host[:port]" (host possibly a bracketed IPv6 literal) and validates both.
/// Returns the host as written.
fn parse_host_port(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !ipv6_literal_ok(inner) {
            return None;
        }
        let host = &authority[..inner.len() + 2];
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !host.starts_with('[') && !reg_name_ok(host) {
        return None;
    }
    if let Some(p) = port {
        if !port_ok(p) {
            return None;
        }
    }
    Some(host)
}

/// Validates an absolute http(s) URL against the redirect rules.
fn check_redirect_url(s: &str) -> Result<(), RedirectUrlError> {
    if s.is_empty() {
        return Err(RedirectUrlError::Empty);
    }
    if s.chars().count() > REDIRECT_URL_MAX_CHARS {
        return Err(RedirectUrlError::TooLong);
    }
    // Byte check also rejects every non-ASCII character, whitespace and control character.
    if !s.bytes().all(is_url_char) || !percent_escapes_ok(s) {
        return Err(RedirectUrlError::Invalid);
    }
    let (scheme, rest) = s.split_once("://").ok_or(RedirectUrlError::Invalid)?;
    let is_https = scheme.eq_ignore_ascii_case("https");
    if !is_https && !scheme.eq_ignore_ascii_case("http") {
        return Err(RedirectUrlError::Invalid);
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        return Err(RedirectUrlError::CredentialsNotAllowed);
    }
    let host = parse_host_port(authority).ok_or(RedirectUrlError::Invalid)?;
    // Plain http only for local development, where there is no certificate to be had.
    if !(is_https || host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1") {
        return Err(RedirectUrlError::Insecure);
    }
    Ok(())
}

impl RedirectUrl {
    pub fn parse(s: &str) -> Result<Self, RedirectUrlError> {
        check_redirect_url(s)?;
        Ok(RedirectUrl(s.to_owned()))
    }

    /// The host as written, without the port (an IPv6 literal keeps its brackets).
    pub fn host(&self) -> &str {
        let authority = self.authority();
        match authority.find(']') {
            Some(end) if authority.starts_with('[') => &authority[..=end],
            _ => authority.split(':').next().unwrap_or(authority),
        }
    }

    /// The port written in the URL, unless it is the scheme's own (443 for https, 80 for http).
    pub fn other_port(&self) -> Option<&str> {
        let authority = self.authority();
        let port = authority[self.host().len()..].strip_prefix(':')?;
        let default = if self.0.starts_with("https://") {
            "443"
        } else {
            "80"
        };
        (!port.is_empty() && port != default).then_some(port)
    }

    fn authority(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]
    }
}

string_newtype_impls!(RedirectUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_ports_are_told_apart_from_the_schemes_own() {
        let port = |u: &str| {
            RedirectUrl::parse(u)
                .unwrap()
                .other_port()
                .map(str::to_string)
        };
        assert_eq!(port("https://shop.example/x"), None);
        assert_eq!(port("https://shop.example:443/x"), None);
        assert_eq!(port("https://shop.example:8443/x").as_deref(), Some("8443"));
        assert_eq!(port("https://[2001:db8::1]:8443/").as_deref(), Some("8443"));
        assert_eq!(port("http://localhost:8080/").as_deref(), Some("8080"));
        assert_eq!(port("http://localhost:80/"), None);
    }

    #[test]
    fn accepts() {
        for ok in [
            "https://example.com",
            "https://example.com/",
            "https://shop.example.com/thanks?order=42&x=%20y#top",
            "HTTPS://Example.COM/Path",
            "https://example.com:8443/done",
            "https://example.com/?email=a@b.example",
            "https://example.com/a/b;c=d/e~f_g.h!$'()*+,",
            "https://[::1]/done",
            "https://[2001:db8::1]:8443/",
            "https://xn--bcher-kva.example/",
            "https://example.com?x=1",
            "https://example.com#frag",
            "http://localhost/done",
            "http://localhost:3000/done",
            "HTTP://LOCALHOST:8081",
            "http://127.0.0.1:8080/cb?ok=1",
            "https://localhost/done",
            "https://a-b.c-d.example/",
            "https://example.com/%E2%9C%93",
        ] {
            assert_eq!(RedirectUrl::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048 - 20));
        assert_eq!(long.len(), 2048);
        assert!(RedirectUrl::parse(&long).is_ok());
    }

    #[test]
    fn host_is_read_without_port_path_or_query() {
        for (url, host) in [
            ("https://example.com", "example.com"),
            ("HTTPS://Example.COM/Path", "Example.COM"),
            ("https://example.com:8443/done", "example.com"),
            ("https://example.com?x=1", "example.com"),
            ("https://example.com#frag", "example.com"),
            ("https://example.com/?email=a@b.example", "example.com"),
            ("https://[2001:db8::1]:8443/", "[2001:db8::1]"),
            ("https://[::1]/done", "[::1]"),
            ("http://localhost:3000/done", "localhost"),
        ] {
            assert_eq!(RedirectUrl::parse(url).unwrap().host(), host, "{url}");
        }
    }

    #[test]
    fn rejects_empty_and_too_long() {
        assert_eq!(RedirectUrl::parse(""), Err(RedirectUrlError::Empty));
        let long = format!("https://example.com/{}", "a".repeat(2048 - 19));
        assert_eq!(RedirectUrl::parse(&long), Err(RedirectUrlError::TooLong));
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            " ",
            "example.com",
            "//example.com/path",
            "/relative/path",
            "https:example.com",
            "https:/example.com",
            "https://",
            "https:///path",
            "https://?x",
            "ftp://example.com/",
            "javascript:alert(1)",
            "javascript://example.com/%0Aalert(1)",
            "data:text/html,hi",
            "https ://example.com",
            " https://example.com",
            "https://example.com ",
            "https://exa mple.com",
            "https://example.com/a b",
            "https://example.com/\tx",
            "https://example.com/\nx",
            "https://example.com/\u{7f}",
            "https://exämple.com/",
            "https://example.com/✓",
            "https://example.com/１",
            "https://example.com\\@evil.example",
            "https://example.com/\\evil",
            "https://example.com/\"><script>",
            "https://example.com/{x}",
            "https://example.com/a|b",
            "https://example.com/%",
            "https://example.com/%2",
            "https://example.com/%zz",
            "https://example..com/",
            "https://.example.com/",
            "https://example.com./",
            "https://exa_mple.com/",
            "https://example.com:/",
            "https://example.com:0/",
            "https://example.com:65536/",
            "https://example.com:123456/",
            "https://example.com:80a/",
            "https://example.com:+80/",
            "https://example.com:80:80/",
            "https://[::1/",
            "https://[]/",
            "https://[example.com]/",
            "https://[::1]x/",
            "https://[::1]:/",
            "https://[::1]]/",
        ] {
            assert_eq!(
                RedirectUrl::parse(bad),
                Err(RedirectUrlError::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_insecure() {
        for bad in [
            "http://example.com/",
            "http://localhost.example.com/",
            "http://127.0.0.2/",
            "http://[::1]/",
            "http://0.0.0.0/",
            "http://localhostx:3000/",
        ] {
            let e = RedirectUrl::parse(bad).unwrap_err();
            assert_eq!(e, RedirectUrlError::Insecure, "{bad:?}");
            assert_eq!(e.message(), "must use https");
        }
    }

    #[test]
    fn rejects_credentials() {
        for bad in [
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://@example.com/",
            "http://user@localhost/",
            "https://example.com@evil.example/",
        ] {
            assert_eq!(
                RedirectUrl::parse(bad),
                Err(RedirectUrlError::CredentialsNotAllowed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn codes() {
        use RedirectUrlError::*;
        let codes: Vec<_> = [Empty, TooLong, Invalid, Insecure, CredentialsNotAllowed]
            .iter()
            .map(|e| e.code())
            .collect();
        assert_eq!(
            codes,
            [
                "required",
                "too_long",
                "invalid_url",
                "insecure_url",
                "credentials_not_allowed"
            ]
        );
    }

    #[test]
    fn trusted_display_serialize() {
        let u = RedirectUrl::parse("https://example.com/x").unwrap();
        assert_eq!(u.to_string(), "https://example.com/x");
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            "\"https://example.com/x\""
        );
        assert_eq!(RedirectUrl::from_trusted("nope".into()).as_str(), "nope");
    }
}

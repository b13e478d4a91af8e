//! Partner-facing configuration values: the pay-page slug, brand colour, billing host, logo, and
//! the hosts unsigned creation links may send payers back to.

use crate::error::ValidationError;
use crate::url::{RedirectUrl, RedirectUrlError};

/// URL-safe partner handle used in /p/{slug}: 2–40 chars of [a-z0-9-], not starting or ending with '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SlugError {
    #[error("must be 2 to 40 characters of a-z, 0-9 and '-', not starting or ending with '-'")]
    Invalid,
}

impl ValidationError for SlugError {
    fn code(&self) -> &'static str {
        match self {
            SlugError::Invalid => "invalid_slug",
        }
    }
}

impl Slug {
    /// Uppercase is rejected rather than folded so a slug has exactly one spelling in URLs.
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        let ok = (2..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(SlugError::Invalid)
        }
    }
}

string_newtype_impls!(Slug);

/// "#RRGGBB" (hex, case-insensitive, stored lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrandColor(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BrandColorError {
    #[error("must be a hex color like #1f4fd1")]
    Invalid,
}

impl ValidationError for BrandColorError {
    fn code(&self) -> &'static str {
        match self {
            BrandColorError::Invalid => "invalid_color",
        }
    }
}

impl BrandColor {
    pub fn parse(s: &str) -> Result<Self, BrandColorError> {
        match s.strip_prefix('#') {
            Some(hex) if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(BrandColor(s.to_ascii_lowercase()))
            }
            _ => Err(BrandColorError::Invalid),
        }
    }

    /// Kassa blue, used until a partner picks a colour.
    pub fn default_color() -> Self {
        BrandColor("#1f4fd1".to_owned())
    }
}

impl Default for BrandColor {
    fn default() -> Self {
        BrandColor::default_color()
    }
}

string_newtype_impls!(BrandColor);

pub const BILLING_HOST_MAX_CHARS: usize = 253;

/// A host name a partner serves its pay pages on, e.g. "pay.acme.example": labels of [a-z0-9-]
/// (not starting or ending with '-', at most 63 chars) separated by dots, optional :port
/// (1–65535); accepted in any case and stored lowercase; ≤ 253 chars. IP literals and
/// `localhost` (with the names under it) are refused: nobody can prove in DNS that they hold
/// them (see `billing_host.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BillingHost(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BillingHostError {
    #[error("must be a host name like pay.example.com, optionally with a :port")]
    Invalid,
    #[error("must be a host name, not an IP address")]
    IpAddress,
    #[error("must be a public host name; localhost cannot be a billing host")]
    Localhost,
}

impl ValidationError for BillingHostError {
    fn code(&self) -> &'static str {
        match self {
            BillingHostError::Invalid => "invalid_host",
            BillingHostError::IpAddress => "ip_address_not_allowed",
            BillingHostError::Localhost => "localhost_not_allowed",
        }
    }
}

/// Whether `host` (lowercase, maybe with a :port or in brackets) is an IP literal, or what a
/// browser would read as one: IPv6 (bare or bracketed), dotted IPv4, and any name whose last
/// label is a number (`127.1`, `2130706433`, `10.0x1`), which no top-level domain is.
fn is_ip_literal(host: &str) -> bool {
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.split_once(':').map_or(host, |(h, _)| h);
    let last = name.rsplit('.').next().unwrap_or_default();
    let numeric =
        |digits: &str, radix| !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    numeric(last, 10)
        || last
            .strip_prefix("0x")
            .is_some_and(|hex| hex.is_empty() || numeric(hex, 16))
}

fn host_label_ok(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl BillingHost {
    pub fn parse(s: &str) -> Result<Self, BillingHostError> {
        // Hosts are case-insensitive; lowercasing gives one canonical form to look pages up by.
        let lower = s.to_ascii_lowercase();
        if is_ip_literal(&lower) {
            return Err(BillingHostError::IpAddress);
        }
        let (host, port) = match lower.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (lower.as_str(), None),
        };
        let port_ok = port.is_none_or(|p| {
            (1..=5).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| (1..=65_535).contains(&n))
        });
        let ok = lower.len() <= BILLING_HOST_MAX_CHARS
            && !host.is_empty()
            && host.split('.').all(host_label_ok)
            && port_ok;
        if !ok {
            return Err(BillingHostError::Invalid);
        }
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(BillingHostError::Localhost);
        }
        Ok(BillingHost(lower))
    }

    /// The host without any :port.
    pub fn hostname(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(h, _)| h)
    }
}

string_newtype_impls!(BillingHost);

/// Most hosts a partner may list in [`RedirectHosts`].
pub const MAX_REDIRECT_HOSTS: usize = 50;

/// A host an unsigned creation link may send payers back to, e.g. "shop.acme.example": a host
/// name only — labels of [a-z0-9-] (not starting or ending with '-', at most 63 chars) separated
/// by dots, ≤ 253 chars — without scheme, port or path; accepted in any case and kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectHost(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RedirectHostError {
    #[error("must be a host name like shop.example.com, without scheme, port or path")]
    Invalid,
}

impl ValidationError for RedirectHostError {
    fn code(&self) -> &'static str {
        match self {
            RedirectHostError::Invalid => "invalid_host",
        }
    }
}

impl RedirectHost {
    pub fn parse(s: &str) -> Result<Self, RedirectHostError> {
        let lower = s.to_ascii_lowercase();
        if lower.len() <= BILLING_HOST_MAX_CHARS && lower.split('.').all(host_label_ok) {
            Ok(RedirectHost(lower))
        } else {
            Err(RedirectHostError::Invalid)
        }
    }
}

string_newtype_impls!(RedirectHost);

/// The hosts a partner's unsigned creation links may name in `redirectUrl` (its setting
/// `allowedRedirectHosts`), in the order given and without repeats. The host of the partner's
/// default redirect URL is allowed besides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectHosts(Vec<RedirectHost>);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RedirectHostsError {
    #[error("must list at most 50 hosts")]
    TooMany,
}

impl ValidationError for RedirectHostsError {
    fn code(&self) -> &'static str {
        match self {
            RedirectHostsError::TooMany => "too_many_hosts",
        }
    }
}

impl RedirectHosts {
    /// The hosts, a repeat dropped; more than [`MAX_REDIRECT_HOSTS`] is refused.
    pub fn new(hosts: impl IntoIterator<Item = RedirectHost>) -> Result<Self, RedirectHostsError> {
        let mut unique: Vec<RedirectHost> = Vec::new();
        for host in hosts {
            if !unique.contains(&host) {
                unique.push(host);
            }
        }
        if unique.len() > MAX_REDIRECT_HOSTS {
            return Err(RedirectHostsError::TooMany);
        }
        Ok(RedirectHosts(unique))
    }

    /// For hosts read back from our own database; no check.
    pub fn from_trusted(hosts: Vec<String>) -> Self {
        RedirectHosts(hosts.into_iter().map(RedirectHost).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(RedirectHost::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an unsigned creation link may send payers to `url`: its host is one of these or
    /// the host of `default` (the partner's default redirect URL). Hosts match exactly, ignoring
    /// case: a listed host does not cover its subdomains. A listed host covers only the scheme's
    /// own port (another service on another port of that host is not the partner's site); a port
    /// of the default redirect URL is allowed with its host.
    pub fn allow(&self, url: &RedirectUrl, default: Option<&RedirectUrl>) -> bool {
        let host = url.host();
        let port = url.other_port();
        default.is_some_and(|d| d.host().eq_ignore_ascii_case(host) && d.other_port() == port)
            || (port.is_none() && self.iter().any(|h| h.eq_ignore_ascii_case(host)))
    }
}

/// A partner's logo, shown on pay pages. Same rules as [`RedirectUrl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoUrl(String);

/// Logo URLs fail exactly as redirect URLs do.
pub type LogoUrlError = RedirectUrlError;

impl LogoUrl {
    pub fn parse(s: &str) -> Result<Self, LogoUrlError> {
        let url = RedirectUrl::parse(s)?;
        Ok(LogoUrl(url.as_str().to_owned()))
    }
}

string_newtype_impls!(LogoUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_accepts() {
        for ok in ["ab", "acme", "acme-co", "a1", "12", "a--b", &"a".repeat(40)] {
            assert_eq!(Slug::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn slug_rejects() {
        for bad in [
            "",
            "a",
            &"a".repeat(41),
            "-acme",
            "acme-",
            "-",
            "--",
            "Acme",
            "ACME",
            "acme_co",
            "acme co",
            "acme.co",
            "acme/co",
            "ácme",
            "acme１",
            "ac٣",
        ] {
            let e = Slug::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_slug", "{bad:?}");
        }
    }

    #[test]
    fn slug_display_serialize_trusted() {
        let s = Slug::parse("acme").unwrap();
        assert_eq!(s.to_string(), "acme");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"acme\"");
        assert_eq!(Slug::from_trusted("X".into()).as_str(), "X");
    }

    #[test]
    fn brand_color() {
        assert_eq!(BrandColor::parse("#1f4fd1").unwrap().as_str(), "#1f4fd1");
        assert_eq!(BrandColor::parse("#1F4FD1").unwrap().as_str(), "#1f4fd1");
        assert_eq!(BrandColor::parse("#AbCdEf").unwrap().as_str(), "#abcdef");
        assert_eq!(BrandColor::parse("#000000").unwrap().as_str(), "#000000");
        for bad in [
            "",
            "#",
            "1f4fd1",
            "#1f4fd",
            "#1f4fd1a",
            "#fff",
            "#gggggg",
            "# 1f4fd",
            "#1f4fd1 ",
            "##1f4fd",
            "#１f4fd1",
            "red",
        ] {
            let e = BrandColor::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_color", "{bad:?}");
        }
        assert_eq!(BrandColor::default_color().as_str(), "#1f4fd1");
        assert_eq!(BrandColor::default(), BrandColor::default_color());
        assert_eq!(
            serde_json::to_string(&BrandColor::default_color()).unwrap(),
            "\"#1f4fd1\""
        );
        assert_eq!(BrandColor::from_trusted("#ABC".into()).as_str(), "#ABC");
    }

    #[test]
    fn billing_host_accepts_and_lowercases() {
        let cases = [
            ("pay.acme.example", "pay.acme.example"),
            ("Pay.Acme.Example", "pay.acme.example"),
            ("pay.acme.example:8443", "pay.acme.example:8443"),
            ("a-b.example:65535", "a-b.example:65535"),
            ("localhost.acme.example", "localhost.acme.example"),
            ("1password.example", "1password.example"),
            ("pay.example.x0", "pay.example.x0"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ];
        for (input, want) in cases {
            let h = BillingHost::parse(input).unwrap();
            assert_eq!(h.as_str(), want);
        }
        assert_eq!(
            BillingHost::parse("pay.acme.example:8443")
                .unwrap()
                .hostname(),
            "pay.acme.example"
        );
        assert_eq!(
            BillingHost::parse("pay.acme.example").unwrap().hostname(),
            "pay.acme.example"
        );
        let label = "a".repeat(63);
        let long = [label.as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(BillingHost::parse(&long[..253]).is_ok());
    }

    #[test]
    fn billing_host_rejects() {
        let label = "a".repeat(63);
        let too_long = [label.as_str(); 4].join(".");
        for bad in [
            "",
            ":8080",
            "pay..acme.example",
            ".acme.example",
            "acme.example.",
            "-acme.example",
            "acme-.example",
            &"a".repeat(64),
            &too_long,
            "acme_co.example",
            "pay acme.example",
            " pay.acme.example",
            "https://pay.acme.example",
            "pay.acme.example/",
            "pay.acme.example:",
            "pay.acme.example:0",
            "pay.acme.example:65536",
            "pay.acme.example:123456",
            "pay.acme.example:80:80",
            "pay.acme.example:８0",
            "user@pay.acme.example",
            "bücher.example",
        ] {
            let e = BillingHost::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_host", "{bad:?}");
        }
    }

    #[test]
    fn billing_host_refuses_ip_literals_and_localhost() {
        for ip in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "93.184.215.14",
            "::1",
            "2001:db8::1",
            "[::1]",
            "[::1]:8080",
            "[2001:DB8::1]",
            "127.1",
            "2130706433",
            "10.0x1",
            "0x7f000001",
            "1.2.3.0x",
        ] {
            let e = BillingHost::parse(ip).unwrap_err();
            assert_eq!(e.code(), "ip_address_not_allowed", "{ip:?}");
        }
        for local in [
            "localhost",
            "LOCALHOST:8081",
            "pay.localhost",
            "a.b.localhost:443",
        ] {
            let e = BillingHost::parse(local).unwrap_err();
            assert_eq!(e.code(), "localhost_not_allowed", "{local:?}");
        }
    }

    #[test]
    fn billing_host_serialize_trusted() {
        let h = BillingHost::parse("pay.acme.example").unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"pay.acme.example\"");
        assert_eq!(h.to_string(), "pay.acme.example");
        assert_eq!(BillingHost::from_trusted("X".into()).as_str(), "X");
    }

    #[test]
    fn redirect_host_accepts_host_names_only() {
        for (input, want) in [
            ("shop.acme.example", "shop.acme.example"),
            ("Shop.ACME.example", "shop.acme.example"),
            ("localhost", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ] {
            assert_eq!(RedirectHost::parse(input).unwrap().as_str(), want);
        }
        let label = "a".repeat(63);
        let too_long = [label.as_str(); 4].join(".");
        for bad in [
            "",
            " shop.acme.example",
            "https://shop.acme.example",
            "shop.acme.example/",
            "shop.acme.example/thanks",
            "shop.acme.example:443",
            "shop.acme.example.",
            "*.acme.example",
            ".acme.example",
            "shop..acme.example",
            "-shop.acme.example",
            "user@shop.acme.example",
            "shop_acme.example",
            "[::1]",
            "bücher.example",
            "<b>x</b>",
            &"a".repeat(64),
            &too_long,
        ] {
            let e = RedirectHost::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_host", "{bad:?}");
        }
    }

    fn hosts(list: &[&str]) -> RedirectHosts {
        RedirectHosts::new(list.iter().map(|h| RedirectHost::parse(h).unwrap())).unwrap()
    }

    #[test]
    fn redirect_hosts_drop_repeats_and_hold_at_most_fifty() {
        let h = hosts(&["b.example", "A.example", "a.example", "b.example"]);
        assert_eq!(h.iter().collect::<Vec<_>>(), ["b.example", "a.example"]);
        assert!(RedirectHosts::default().is_empty());
        let many =
            |n: usize| (0..n).map(|i| RedirectHost::parse(&format!("h{i}.example")).unwrap());
        assert_eq!(RedirectHosts::new(many(50)).unwrap().iter().count(), 50);
        let e = RedirectHosts::new(many(51)).unwrap_err();
        assert_eq!(e.code(), "too_many_hosts");
    }

    #[test]
    fn a_redirect_is_allowed_by_its_exact_host_or_the_default_redirects() {
        let url = |u: &str| RedirectUrl::parse(u).unwrap();
        let allowed = hosts(&["shop.acme.example"]);
        let default = url("https://www.acme.example/thanks");
        for ok in [
            "https://shop.acme.example/done?x=1",
            "https://SHOP.acme.example",
            "https://shop.acme.example:443/done",
            "https://www.acme.example/other",
            "https://WWW.ACME.EXAMPLE#x",
        ] {
            assert!(allowed.allow(&url(ok), Some(&default)), "{ok}");
        }
        for bad in [
            "https://acme.example/",
            "https://sub.shop.acme.example/",
            "https://shop.acme.example.evil.example/",
            "https://evil.example/shop.acme.example",
            "https://evil.example/?next=https://shop.acme.example",
            "https://evil.example#shop.acme.example",
            "https://[::1]/",
            // Another port is another service.
            "https://shop.acme.example:8443/done",
            "https://www.acme.example:8443/other",
        ] {
            assert!(!allowed.allow(&url(bad), Some(&default)), "{bad}");
        }
        // Nothing listed and no default: no redirect is allowed.
        assert!(!RedirectHosts::default().allow(&url("https://shop.acme.example/"), None));
        assert!(RedirectHosts::default().allow(&url("https://www.acme.example/x"), Some(&default)));
        // A default redirect with a port allows that port on its host.
        let on_port = url("https://www.acme.example:8443/thanks");
        assert!(
            RedirectHosts::default().allow(&url("https://www.acme.example:8443/x"), Some(&on_port))
        );
        assert!(!RedirectHosts::default().allow(&url("https://www.acme.example/x"), Some(&on_port)));
    }

    #[test]
    fn logo_url_reuses_redirect_rules() {
        let ok = "https://cdn.acme.example/logo.png";
        assert_eq!(LogoUrl::parse(ok).unwrap().as_str(), ok);
        assert_eq!(
            LogoUrl::parse("http://cdn.acme.example/logo.png"),
            Err(RedirectUrlError::Insecure)
        );
        assert_eq!(LogoUrl::parse(""), Err(RedirectUrlError::Empty));
        assert_eq!(
            LogoUrl::parse("https://u:p@cdn.acme.example/"),
            Err(RedirectUrlError::CredentialsNotAllowed)
        );
        assert_eq!(LogoUrl::parse("logo.png"), Err(RedirectUrlError::Invalid));
        assert_eq!(
            serde_json::to_string(&LogoUrl::parse(ok).unwrap()).unwrap(),
            format!("\"{ok}\"")
        );
        assert_eq!(LogoUrl::from_trusted("x".into()).as_str(), "x");
    }
}

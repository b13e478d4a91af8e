//! Webhooks (docs/api.md §5): where a partner wants its events sent, which ones, and the rules of
//! delivery — what is retried, how long to wait, when to give up, when to disable an endpoint.
//! Also where a webhook may go (docs/api.md §8): the URL's rules, and which addresses its host may
//! have. Nothing here does I/O; the caller brings the time, the randomness and the host's
//! addresses.

use time::{Duration, OffsetDateTime};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{FieldErrors, ValidationError};
use crate::event::{is_event_type, EVENT_TYPES};
use crate::network::{self, Networks};
use crate::url::{RedirectUrl, RedirectUrlError};

/// How long one attempt may take, connecting and answering included.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The first retry waits up to this long; each next one up to twice as long as the last…
pub const RETRY_BASE: Duration = Duration::seconds(30);
/// …but never more than this.
pub const RETRY_CAP: Duration = Duration::hours(6);
/// A delivery is retried for this long after its first attempt (its last attempt is at the end
/// of the window), then it has failed.
pub const RETRY_WINDOW: Duration = Duration::days(3);
/// An endpoint whose every attempt has failed for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(3);
/// …and so is one whose last this many deliveries failed for good (e.g. answered 4xx).
pub const MAX_FAILED_DELIVERIES: i64 = 20;
/// After a rotation, the old secret signs too for this long.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// How many endpoints a partner may have.
pub const MAX_ENDPOINTS: i64 = 20;
/// The longest description.
pub const DESCRIPTION_MAX_CHARS: usize = 500;

/// Where deliveries go (docs/api.md §8): an absolute `https` URL without a user name or password,
/// at most 2048 characters (the syntax of a redirect URL), whose host is a name or an IP address
/// in its usual form, and whose addresses Kassa may reach ([`check_addresses`]). With private
/// networks allowed, plain `http` too, to loopback and private addresses only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not a valid URL (by the rules of a redirect URL).
    #[error("{0}")]
    Url(RedirectUrlError),
    /// Plain `http` where it is not allowed.
    #[error("must use https")]
    Insecure,
    /// `http` to a public address while private networks are allowed.
    #[error("must use https: plain http goes only to loopback and private addresses")]
    InsecureToPublic,
    /// An IP address spelled as a number, in octal or hex, or shortened (`2130706433`,
    /// `0x7f000001`, `0177.0.0.1`, `127.1`): one address, read differently by different parsers.
    #[error(
        "must name its host, or write an IP address in its usual form (not as a number like \
         2130706433, 0x7f000001, 0177.0.0.1 or 127.1)"
    )]
    NumericHost,
    /// An IP address Kassa may not connect to.
    #[error("must not be a loopback, private, link-local or other non-public address")]
    AddressNotAllowed,
    /// A name that resolves to an address Kassa may not connect to.
    #[error("its host resolves to a non-public address")]
    ResolvesNotAllowed,
    /// A name that has no address (or whose lookup failed).
    #[error(
        "its host name could not be resolved; check it, or try again once its DNS records exist"
    )]
    Unresolvable,
}

impl ValidationError for WebhookUrlError {
    fn code(&self) -> &'static str {
        match self {
            WebhookUrlError::Url(e) => e.code(),
            WebhookUrlError::Insecure | WebhookUrlError::InsecureToPublic => "insecure_url",
            WebhookUrlError::NumericHost
            | WebhookUrlError::AddressNotAllowed
            | WebhookUrlError::ResolvesNotAllowed => "url_not_allowed",
            WebhookUrlError::Unresolvable => "url_unresolvable",
        }
    }
}

impl WebhookUrlError {
    /// What a delivery attempt the check refused means: a name that did not resolve may resolve
    /// later, so it is retried; an address Kassa may not reach fails the delivery.
    pub fn verdict(&self) -> Verdict {
        match self {
            WebhookUrlError::Unresolvable => Verdict::Retry,
            _ => Verdict::Refused,
        }
    }

    /// What a delivery attempt refused by the check records: no more than this (never an
    /// address, nor whether something answers there).
    pub fn attempt_error(&self) -> &'static str {
        match self {
            WebhookUrlError::Insecure | WebhookUrlError::InsecureToPublic => {
                "url not allowed: plain http goes only to loopback and private addresses"
            }
            WebhookUrlError::Unresolvable => "could not resolve the host name",
            WebhookUrlError::Url(_)
            | WebhookUrlError::NumericHost
            | WebhookUrlError::AddressNotAllowed
            | WebhookUrlError::ResolvesNotAllowed => {
                "url not allowed: the host resolves to a non-public address"
            }
        }
    }
}

/// The host of a webhook URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookHost<'a> {
    /// A name, to be resolved.
    Name(&'a str),
    Ip(IpAddr),
}

/// The scheme and host of a URL that passed the syntax of a redirect URL.
fn scheme_and_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = match authority.strip_prefix('[') {
        Some(v6) => &authority[..v6.find(']')? + 2],
        None => authority.split(':').next()?,
    };
    Some((scheme, host))
}

/// Reads a host as written: a bracketed IPv6 address, a dotted IPv4 address exactly as it is
/// printed, or a name. As URL parsers do (WHATWG), a host whose last label is a number (digits,
/// or `0x` and hex digits) is an IPv4 address; spelled any other way than the usual one it is
/// refused.
fn read_host(host: &str) -> Result<WebhookHost<'_>, WebhookUrlError> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| WebhookHost::Ip(IpAddr::V6(ip)))
            .map_err(|_| WebhookUrlError::Url(RedirectUrlError::Invalid));
    }
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
        && last[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !(hex || last.bytes().all(|b| b.is_ascii_digit())) {
        return Ok(WebhookHost::Name(host));
    }
    match host.parse::<Ipv4Addr>() {
        Ok(ip) if ip.to_string() == host => Ok(WebhookHost::Ip(IpAddr::V4(ip))),
        _ => Err(WebhookUrlError::NumericHost),
    }
}

impl WebhookUrl {
    /// Checks everything that can be known without resolving the host: the syntax, the scheme,
    /// how the host is written, and an IP address host against `networks`. A name's addresses
    /// are then checked with [`check_addresses`].
    pub fn parse(s: &str, networks: Networks) -> Result<Self, WebhookUrlError> {
        match RedirectUrl::parse(s) {
            // A redirect URL allows `http` only for localhost; the syntax is otherwise fine.
            Ok(_) | Err(RedirectUrlError::Insecure) => {}
            Err(e) => return Err(WebhookUrlError::Url(e)),
        }
        let url = WebhookUrl(s.to_string());
        if !url.is_https() && networks == Networks::Public {
            return Err(WebhookUrlError::Insecure);
        }
        let (_, host) =
            scheme_and_host(s).ok_or(WebhookUrlError::Url(RedirectUrlError::Invalid))?;
        if let WebhookHost::Ip(ip) = read_host(host)? {
            check_addresses(url.is_https(), &[ip], networks).map_err(|e| match e {
                WebhookUrlError::ResolvesNotAllowed => WebhookUrlError::AddressNotAllowed,
                e => e,
            })?;
        }
        Ok(url)
    }

    pub fn is_https(&self) -> bool {
        scheme_and_host(&self.0).is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("https"))
    }

    /// The host, when the URL is one [`WebhookUrl::parse`] accepts.
    pub fn host(&self) -> Option<WebhookHost<'_>> {
        scheme_and_host(&self.0).and_then(|(_, host)| read_host(host).ok())
    }
}

/// Whether a webhook may go to `addrs`, the addresses its host has (the IP address it names, or
/// all those its name resolves to): every one allowed by `networks` (else
/// `ResolvesNotAllowed`), and over plain `http` (`secure` false) only loopback and private ones
/// (else `InsecureToPublic`, or `Insecure` when private networks are not allowed at all). No
/// address at all is `Unresolvable`.
pub fn check_addresses(
    secure: bool,
    addrs: &[IpAddr],
    networks: Networks,
) -> Result<(), WebhookUrlError> {
    if addrs.is_empty() {
        return Err(WebhookUrlError::Unresolvable);
    }
    if !addrs.iter().all(|ip| networks.allows(*ip)) {
        return Err(WebhookUrlError::ResolvesNotAllowed);
    }
    if !secure {
        if networks == Networks::Public {
            return Err(WebhookUrlError::Insecure);
        }
        if !addrs
            .iter()
            .all(|ip| network::classify(*ip).is_private_network())
        {
            return Err(WebhookUrlError::InsecureToPublic);
        }
    }
    Ok(())
}

string_newtype_impls!(WebhookUrl);

/// Which events an endpoint receives: all (`["*"]`) or the types listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    /// Known event types, each once, in the order given.
    Only(Vec<String>),
}

impl EventFilter {
    /// Reads the `events` field: `["*"]`, or a non-empty list of event types (repeats are
    /// dropped). Every problem is recorded in `errors`, under `field` or `field[i]`.
    pub fn parse(errors: &mut FieldErrors, field: &str, events: &[String]) -> Option<Self> {
        if events.is_empty() {
            errors.add(
                field,
                "required",
                "must list at least one event type, or be [\"*\"] for all",
            );
            return None;
        }
        if events.iter().any(|e| e == "*") {
            if events.iter().all(|e| e == "*") {
                return Some(EventFilter::All);
            }
            errors.add(
                field,
                "invalid_value",
                "\"*\" (every event) cannot be combined with event types",
            );
            return None;
        }
        let before = errors.len();
        let mut types: Vec<String> = Vec::new();
        for (i, name) in events.iter().enumerate() {
            if !is_event_type(name) {
                errors.add(
                    format!("{field}[{i}]"),
                    "invalid_value",
                    format!("must be \"*\" or one of {}", EVENT_TYPES.join(", ")),
                );
            } else if !types.contains(name) {
                types.push(name.clone());
            }
        }
        (errors.len() == before).then_some(EventFilter::Only(types))
    }

    /// Reads back what [`EventFilter::to_list`] stored.
    pub fn from_trusted(list: Vec<String>) -> Self {
        if list.iter().any(|e| e == "*") {
            EventFilter::All
        } else {
            EventFilter::Only(list)
        }
    }

    /// As the API shows it: `["*"]` or the types.
    pub fn to_list(&self) -> Vec<String> {
        match self {
            EventFilter::All => vec!["*".to_string()],
            EventFilter::Only(types) => types.clone(),
        }
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(types) => types.iter().any(|t| t == event_type),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    /// Deliveries kept failing; nothing is sent until the partner enables it again.
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        match s {
            "enabled" => Some(EndpointStatus::Enabled),
            "disabled" => Some(EndpointStatus::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet: an attempt is due (now, or after a backoff).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// The endpoint refused it (a 3xx or 4xx other than 408 and 429), its retries ran out, or the
    /// endpoint was disabled.
    Failed,
    /// The endpoint was deleted before it was delivered.
    Canceled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
        DeliveryStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Canceled => "canceled",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// What an attempt's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth trying again later: no answer (network error, timeout), a 5xx, 408 or 429.
    Retry,
    /// The endpoint refused it: retrying would get the same answer.
    Refused,
}

/// The verdict on an HTTP status: 2xx delivered; 408, 429 and 5xx retried; anything else
/// (a redirect, which is not followed, or another 4xx) refused.
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

/// The longest wait before retry number `attempts_made` (after that many failed attempts):
/// 30 s, 1 min, 2 min, … doubling, at most 6 h.
pub fn retry_cap(attempts_made: u32) -> Duration {
    let doublings = attempts_made.saturating_sub(1).min(20);
    let cap = RETRY_BASE * 2i32.pow(doublings);
    cap.min(RETRY_CAP)
}

/// When to try again after `attempts_made` failed attempts, the first at `first_attempt_at`:
/// a random wait up to [`retry_cap`] ("full jitter", `jitter` in [0, 1)), at least a second;
/// never past the retry window, whose end gets the last attempt. None when the window is over.
pub fn next_attempt(
    now: OffsetDateTime,
    first_attempt_at: OffsetDateTime,
    attempts_made: u32,
    jitter: f64,
) -> Option<OffsetDateTime> {
    let window_end = first_attempt_at + RETRY_WINDOW;
    if now >= window_end {
        return None;
    }
    let cap = retry_cap(attempts_made).whole_microseconds() as f64;
    let wait = Duration::microseconds((cap * jitter.clamp(0.0, 1.0)) as i64);
    Some((now + wait.max(Duration::seconds(1))).min(window_end))
}

/// An attempt's outcome in a few words: `HTTP 500`, or why there was no answer.
pub fn describe_attempt(status_code: Option<u16>, error: Option<&str>) -> String {
    match (status_code, error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error.to_string(),
        (None, None) => "no answer".to_string(),
    }
}

/// Why an endpoint was disabled, for people.
pub fn disabled_reason(
    failing_since: OffsetDateTime,
    failed_deliveries: i64,
    last_failure: &str,
) -> String {
    let since = crate::clock::format_rfc3339(failing_since);
    if failed_deliveries >= MAX_FAILED_DELIVERIES {
        format!(
            "the last {failed_deliveries} deliveries failed (failing since {since}; last attempt: \
             {last_failure}); fix the endpoint, then enable it again"
        )
    } else {
        format!(
            "every delivery attempt has failed for 3 days (since {since}; last attempt: \
             {last_failure}); fix the endpoint, then enable it again"
        )
    }
}

/// Whether an endpoint failing since `failing_since`, whose last `failed_deliveries` deliveries
/// failed for good, is to be disabled now.
pub fn should_disable(
    now: OffsetDateTime,
    failing_since: OffsetDateTime,
    failed_deliveries: i64,
) -> bool {
    now - failing_since >= DISABLE_AFTER || failed_deliveries >= MAX_FAILED_DELIVERIES
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn parse(events: &[&str]) -> Result<EventFilter, Vec<(String, &'static str)>> {
        let mut errors = FieldErrors::new();
        let list: Vec<String> = events.iter().map(|s| s.to_string()).collect();
        let filter = EventFilter::parse(&mut errors, "events", &list);
        match errors.finish() {
            Ok(()) => Ok(filter.unwrap()),
            Err(e) => {
                assert!(filter.is_none());
                Err(e.into_iter().map(|e| (e.field, e.code)).collect())
            }
        }
    }

    #[test]
    fn event_filters() {
        assert_eq!(parse(&["*"]), Ok(EventFilter::All));
        assert_eq!(parse(&["*", "*"]), Ok(EventFilter::All));
        let only = parse(&["payment.completed", "refund.created", "payment.completed"]).unwrap();
        assert_eq!(only.to_list(), ["payment.completed", "refund.created"]);
        assert!(only.matches("refund.created") && !only.matches("payment.failed"));
        assert!(EventFilter::All.matches("payout.paid"));
        assert_eq!(parse(&[]), Err(vec![("events".into(), "required")]));
        assert_eq!(
            parse(&["*", "payment.completed"]),
            Err(vec![("events".into(), "invalid_value")])
        );
        assert_eq!(
            parse(&["payment.completed", "payment.*", "nope"]),
            Err(vec![
                ("events[1]".into(), "invalid_value"),
                ("events[2]".into(), "invalid_value")
            ])
        );
        assert_eq!(
            EventFilter::from_trusted(vec!["*".into()]),
            EventFilter::All
        );
    }

    #[test]
    fn verdicts() {
        for s in [200, 201, 204, 299] {
            assert_eq!(verdict(s), Verdict::Delivered, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 599] {
            assert_eq!(verdict(s), Verdict::Retry, "{s}");
        }
        for s in [100, 301, 302, 304, 400, 401, 403, 404, 410, 422] {
            assert_eq!(verdict(s), Verdict::Refused, "{s}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_six_hours() {
        assert_eq!(retry_cap(1), Duration::seconds(30));
        assert_eq!(retry_cap(2), Duration::seconds(60));
        assert_eq!(retry_cap(5), Duration::seconds(480));
        assert_eq!(retry_cap(10), Duration::seconds(30 * 512));
        assert_eq!(retry_cap(11), Duration::hours(6));
        assert_eq!(retry_cap(u32::MAX), Duration::hours(6));
    }

    #[test]
    fn next_attempt_is_jittered_and_ends_with_the_window() {
        let first = datetime!(2026-11-21 12:00 UTC);
        assert_eq!(
            next_attempt(first, first, 1, 0.0),
            Some(first + Duration::seconds(1))
        );
        assert_eq!(
            next_attempt(first, first, 1, 0.5),
            Some(first + Duration::seconds(15))
        );
        let late = first + RETRY_WINDOW - Duration::hours(1);
        assert_eq!(
            next_attempt(late, first, 30, 0.9),
            Some(first + RETRY_WINDOW)
        );
        assert_eq!(next_attempt(first + RETRY_WINDOW, first, 31, 0.5), None);
        // About three days of retries: the number of attempts is bounded.
        let (mut now, mut n) = (first, 1);
        while let Some(next) = next_attempt(now, first, n, 0.5) {
            now = next;
            n += 1;
        }
        assert_eq!(now, first + RETRY_WINDOW);
        assert!((15..=60).contains(&n), "{n}");
    }

    #[test]
    fn disabling() {
        let since = datetime!(2026-11-21 12:00 UTC);
        assert!(!should_disable(since + Duration::hours(71), since, 3));
        assert!(should_disable(since + DISABLE_AFTER, since, 1));
        assert!(should_disable(since, since, MAX_FAILED_DELIVERIES));
        assert!(disabled_reason(since, 1, "HTTP 500").contains("3 days"));
        assert!(disabled_reason(since, 20, "HTTP 410").contains("last 20"));
    }

    fn url(s: &str, networks: Networks) -> Result<(), (&'static str, WebhookUrlError)> {
        WebhookUrl::parse(s, networks)
            .map(|u| assert_eq!(u.as_str(), s))
            .map_err(|e| (e.code(), e))
    }

    #[test]
    fn webhook_urls_by_default() {
        use WebhookUrlError::*;
        for ok in [
            "https://hooks.acme.example/kassa",
            "https://HOOKS.acme.example:8443/k?x=1",
            "https://localhost/hook",
            "https://8.8.8.8/hook",
            "https://[2606:4700:4700::1111]:443/hook",
            "https://[64:ff9b::808:808]/",
            "https://1a.example/",
            "https://0x.example/",
            "https://123.example/",
            "https://example.0x1g/",
        ] {
            assert_eq!(url(ok, Networks::Public), Ok(()), "{ok}");
        }
        let refused: &[(&str, WebhookUrlError)] = &[
            // Plain http.
            ("http://hooks.acme.example/", Insecure),
            ("http://127.0.0.1:9000/hook", Insecure),
            ("http://localhost/hook", Insecure),
            // Loopback, private, shared, link-local, multicast, unspecified, broadcast.
            ("https://127.0.0.1/", AddressNotAllowed),
            ("https://127.0.0.2:8443/x", AddressNotAllowed),
            ("https://[::1]/", AddressNotAllowed),
            ("https://10.0.0.1/", AddressNotAllowed),
            ("https://172.16.5.4/", AddressNotAllowed),
            ("https://192.168.1.1/", AddressNotAllowed),
            ("https://[fd00::1]/", AddressNotAllowed),
            ("https://[fc00::1]/", AddressNotAllowed),
            ("https://100.64.0.1/", AddressNotAllowed),
            (
                "https://169.254.169.254/latest/meta-data/",
                AddressNotAllowed,
            ),
            ("https://[fe80::1]/", AddressNotAllowed),
            ("https://224.0.0.1/", AddressNotAllowed),
            ("https://[ff02::1]/", AddressNotAllowed),
            ("https://0.0.0.0/", AddressNotAllowed),
            ("https://0.1.2.3/", AddressNotAllowed),
            ("https://[::]/", AddressNotAllowed),
            ("https://255.255.255.255/", AddressNotAllowed),
            // Documentation, benchmarking, reserved.
            ("https://192.0.2.1/", AddressNotAllowed),
            ("https://198.51.100.7/", AddressNotAllowed),
            ("https://203.0.113.9/", AddressNotAllowed),
            ("https://[2001:db8::1]/", AddressNotAllowed),
            ("https://198.18.0.1/", AddressNotAllowed),
            ("https://240.0.0.1/", AddressNotAllowed),
            // IPv4 in IPv6, and tunnels to private IPv4.
            ("https://[::ffff:127.0.0.1]/", AddressNotAllowed),
            ("https://[::ffff:7f00:1]/", AddressNotAllowed),
            ("https://[::FFFF:169.254.169.254]/", AddressNotAllowed),
            ("https://[::ffff:8.8.8.8]/", AddressNotAllowed),
            ("https://[::127.0.0.1]/", AddressNotAllowed),
            ("https://[64:ff9b::a00:1]/", AddressNotAllowed),
            ("https://[2002:7f00:1::]/", AddressNotAllowed),
            (
                "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
                AddressNotAllowed,
            ),
            // Numeric spellings: decimal, hex, octal, short, leading zeros.
            ("https://2130706433/", NumericHost),
            ("https://0x7f000001/", NumericHost),
            ("https://0X7F000001/", NumericHost),
            ("https://0x7f.0.0.1/", NumericHost),
            ("https://0177.0.0.1/", NumericHost),
            ("https://017700000001/", NumericHost),
            ("https://127.1/", NumericHost),
            ("https://127.0.1/", NumericHost),
            ("https://10.1/", NumericHost),
            ("https://8.8.8.08/", NumericHost),
            ("https://134744072/", NumericHost),
            ("https://1.2.3.4.5/", NumericHost),
            ("https://256.0.0.1/", NumericHost),
            ("https://example.0x10/", NumericHost),
            ("https://example.123/", NumericHost),
            ("https://0x/", NumericHost),
            // Not a URL at all.
            ("https://[::1::2]/", Url(RedirectUrlError::Invalid)),
            (
                "https://u:p@hooks.acme.example/",
                Url(RedirectUrlError::CredentialsNotAllowed),
            ),
            ("ftp://hooks.acme.example/", Url(RedirectUrlError::Invalid)),
            ("", Url(RedirectUrlError::Empty)),
        ];
        for (bad, why) in refused {
            let got = url(bad, Networks::Public);
            assert_eq!(got.as_ref().map_err(|e| &e.1), Err(why), "{bad}");
        }
        assert_eq!(
            url("https://127.1/", Networks::Public).unwrap_err().0,
            "url_not_allowed"
        );
        assert_eq!(
            url("https://10.0.0.1/", Networks::Public).unwrap_err().0,
            "url_not_allowed"
        );
        assert_eq!(
            url("http://a.example/", Networks::Public).unwrap_err().0,
            "insecure_url"
        );
    }

    #[test]
    fn webhook_urls_with_private_networks_allowed() {
        use WebhookUrlError::*;
        let open = Networks::PublicAndPrivate;
        for ok in [
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/hook",
            "http://receiver.internal/hook",
            "https://127.0.0.1/",
            "http://[::1]:8080/",
            "http://10.1.2.3/",
            "https://192.168.0.10/",
            "http://[fd00::1]/",
            "http://100.100.1.1/",
            "https://8.8.8.8/",
        ] {
            assert_eq!(url(ok, open), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("https://169.254.169.254/", AddressNotAllowed),
            ("http://[fe80::1]/", AddressNotAllowed),
            ("http://0.0.0.0:9000/", AddressNotAllowed),
            ("http://[::ffff:127.0.0.1]/", AddressNotAllowed),
            ("http://224.0.0.1/", AddressNotAllowed),
            ("http://8.8.8.8/", InsecureToPublic),
            ("http://2130706433/", NumericHost),
            ("http://127.1/", NumericHost),
        ] {
            assert_eq!(url(bad, open).map_err(|e| e.1), Err(why), "{bad}");
        }
    }

    #[test]
    fn resolved_addresses() {
        use WebhookUrlError::*;
        let ips =
            |list: &[&str]| -> Vec<IpAddr> { list.iter().map(|s| s.parse().unwrap()).collect() };
        let public = ips(&["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]);
        let (off, on) = (Networks::Public, Networks::PublicAndPrivate);
        assert_eq!(check_addresses(true, &public, off), Ok(()));
        assert_eq!(check_addresses(true, &public, on), Ok(()));
        assert_eq!(check_addresses(false, &public, off), Err(Insecure));
        assert_eq!(check_addresses(false, &public, on), Err(InsecureToPublic));
        assert_eq!(check_addresses(true, &[], off), Err(Unresolvable));
        // One address not allowed is enough to refuse the host.
        let mixed = ips(&["93.184.215.14", "10.0.0.5"]);
        assert_eq!(check_addresses(true, &mixed, off), Err(ResolvesNotAllowed));
        assert_eq!(check_addresses(true, &mixed, on), Ok(()));
        assert_eq!(check_addresses(false, &mixed, on), Err(InsecureToPublic));
        let local = ips(&["127.0.0.1", "::1"]);
        assert_eq!(check_addresses(true, &local, off), Err(ResolvesNotAllowed));
        assert_eq!(check_addresses(false, &local, on), Ok(()));
        let metadata = ips(&["169.254.169.254"]);
        assert_eq!(
            check_addresses(true, &metadata, on),
            Err(ResolvesNotAllowed)
        );
        assert_eq!(ResolvesNotAllowed.verdict(), Verdict::Refused);
        assert_eq!(Unresolvable.verdict(), Verdict::Retry);
        assert_eq!(ResolvesNotAllowed.code(), "url_not_allowed");
        assert_eq!(Unresolvable.code(), "url_unresolvable");
        assert_eq!(
            ResolvesNotAllowed.attempt_error(),
            "url not allowed: the host resolves to a non-public address"
        );
    }

    #[test]
    fn webhook_hosts() {
        let host = |s: &str| {
            WebhookUrl::from_trusted(s.into())
                .host()
                .map(|h| format!("{h:?}"))
        };
        assert_eq!(
            host("https://a.example:8443/x").as_deref(),
            Some("Name(\"a.example\")")
        );
        assert_eq!(host("https://8.8.8.8/").as_deref(), Some("Ip(8.8.8.8)"));
        assert_eq!(host("https://[::1]:9/").as_deref(), Some("Ip(::1)"));
        assert_eq!(host("https://127.1/"), None);
        assert!(WebhookUrl::from_trusted("https://a.example".into()).is_https());
        assert!(!WebhookUrl::from_trusted("HTTP://a.example".into()).is_https());
    }

    #[test]
    fn statuses_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse_str(s.as_str()), Some(s));
        }
        for s in [EndpointStatus::Enabled, EndpointStatus::Disabled] {
            assert_eq!(EndpointStatus::parse_str(s.as_str()), Some(s));
        }
    }
}

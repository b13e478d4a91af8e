//! Webhooks (docs/api.md §5): where a partner wants its events sent, which ones, and the rules of
//! delivery — what is retried, how long to wait, when to give up, when to disable an endpoint.
//! Nothing here does I/O; the caller brings the time and the randomness.

use time::{Duration, OffsetDateTime};

use crate::error::FieldErrors;
use crate::event::{is_event_type, EVENT_TYPES};
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

/// Where deliveries go: the rules of a redirect URL (absolute `https`, plain `http` only for
/// `localhost` and `127.0.0.1`, no user name or password, at most 2048 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(s: &str) -> Result<Self, RedirectUrlError> {
        RedirectUrl::parse(s).map(|u| WebhookUrl(u.as_str().to_string()))
    }
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

    #[test]
    fn urls() {
        assert!(WebhookUrl::parse("https://hooks.acme.example/kassa").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook").is_ok());
        assert_eq!(
            WebhookUrl::parse("http://hooks.acme.example/"),
            Err(RedirectUrlError::Insecure)
        );
        assert_eq!(
            WebhookUrl::parse("https://u:p@hooks.acme.example/"),
            Err(RedirectUrlError::CredentialsNotAllowed)
        );
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

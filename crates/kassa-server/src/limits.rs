//! The abuse limits of docs/api.md §8, applied at the edge. Which limits exist and their rates
//! are [`Limit`] and `config.limits`; the counting rule is `kassa_core::limit`; the counters
//! that must hold across instances are the store's (`LimitStore`), keyed by a digest of what
//! they count (a client IP, an email, a card number) so none of those is stored in the clear.
//! The two limits each instance keeps for itself live here too: API calls per key (a token
//! bucket, `governor`) and the password hashes computed at once (a semaphore).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use axum::response::Response;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kassa_core::id::ApiKeyId;
use kassa_core::limit::{retry_after_secs, Rate};
use kassa_store::{LimitKey, StoreError};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{LimitsConfig, PASSWORD_HASH_WAIT};
use crate::error::ApiError;
use crate::state::AppState;

/// A limit counted in the database, shared by every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed API authentications (missing, unknown or revoked key), per client IP.
    FailedAuthentication,
    /// Creation links without a valid signature, per client IP.
    UnsignedLinkPerIp,
    /// Creation links without a valid signature, per partner.
    UnsignedLinkPerPartner,
    /// Declined pay-page attempts per client IP, across links and partners.
    DeclinePerIp,
    /// Declined pay-page attempts per card, across links and partners.
    DeclinePerCard,
    /// Failed dashboard sign-ins per email.
    SignInFailurePerEmail,
    /// Failed dashboard sign-ins per client IP.
    SignInFailurePerIp,
    /// Emails a partner asks Kassa to send about one payment or payment request (a receipt
    /// again, the link), so a leaked key cannot flood a payer's inbox.
    EmailsPerSubject,
}

/// [`Limit::EmailsPerSubject`]: 5 an hour.
const EMAILS_PER_SUBJECT: Rate = Rate::new(5, std::time::Duration::from_secs(3600));

impl Limit {
    /// The name its counters are kept under.
    fn name(self) -> &'static str {
        match self {
            Limit::FailedAuthentication => "failed_auth_ip",
            Limit::UnsignedLinkPerIp => "unsigned_link_ip",
            Limit::UnsignedLinkPerPartner => "unsigned_link_partner",
            Limit::DeclinePerIp => "decline_ip",
            Limit::DeclinePerCard => "decline_card",
            Limit::SignInFailurePerEmail => "sign_in_email",
            Limit::SignInFailurePerIp => "sign_in_ip",
            Limit::EmailsPerSubject => "emails_subject",
        }
    }

    /// Its configured rate; `None`: turned off.
    fn rate(self, c: &LimitsConfig) -> Option<Rate> {
        match self {
            Limit::FailedAuthentication => c.failed_authentications,
            Limit::UnsignedLinkPerIp => c.unsigned_links_per_ip,
            Limit::UnsignedLinkPerPartner => c.unsigned_links_per_partner,
            Limit::DeclinePerIp => c.declines_per_ip,
            Limit::DeclinePerCard => c.declines_per_card,
            Limit::SignInFailurePerEmail => c.sign_in_failures_per_email,
            Limit::SignInFailurePerIp => c.sign_in_failures_per_ip,
            Limit::EmailsPerSubject => Some(EMAILS_PER_SUBJECT),
        }
    }
}

/// Why a limited action did not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate limited; retry after {retry_after_secs} s")]
    Refused { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LimitError {
    /// The API's answer: 429 `rate_limited` with `Retry-After`, or a 500.
    pub fn into_api(self, message: &str) -> ApiError {
        match self {
            LimitError::Refused { retry_after_secs } => {
                ApiError::rate_limited(retry_after_secs, message)
            }
            LimitError::Store(e) => ApiError::from(e),
        }
    }

    /// A page's answer: the plain 429 page with `Retry-After`, or the error page.
    pub fn into_page(self, heading: &str, body: &str) -> Response {
        match self {
            LimitError::Refused { retry_after_secs } => {
                crate::pages::rate_limited_page(retry_after_secs, heading, body)
            }
            LimitError::Store(e) => crate::pages::internal_error_page(e),
        }
    }
}

/// Events counted by [`Limits::take`]; give them back with [`Limits::give_back`] when they turn
/// out not to count (the password was right, the card was approved).
#[must_use = "give the events back when they did not count, or drop this when they did"]
#[derive(Debug, Default)]
pub struct Taken(Vec<(String, Rate)>);

/// The limits one instance keeps, and the way to the shared ones.
pub struct Limits {
    config: LimitsConfig,
    api_calls: Option<DefaultKeyedRateLimiter<ApiKeyId>>,
    password_hashes: Arc<Semaphore>,
    /// Client IPs this instance saw refused for failed authentications, and until when: their
    /// next call is refused before its key is even looked up.
    refused_ips: Mutex<HashMap<IpAddr, OffsetDateTime>>,
}

/// Refused client IPs remembered at most; past this the oldest are forgotten (the database
/// still counts them).
const REFUSED_IPS_KEPT: usize = 10_000;

impl Limits {
    pub fn new(config: &LimitsConfig) -> Limits {
        let api_calls = config.api_calls.map(|rate| {
            let burst = NonZeroU32::new(config.api_call_burst).unwrap_or(NonZeroU32::MIN);
            let period = rate.per / rate.count;
            let quota = Quota::with_period(period.max(std::time::Duration::from_nanos(1)))
                .expect("a positive period")
                .allow_burst(burst);
            RateLimiter::keyed(quota)
        });
        Limits {
            config: config.clone(),
            api_calls,
            password_hashes: Arc::new(Semaphore::new(config.password_hashes as usize)),
            refused_ips: Mutex::new(HashMap::new()),
        }
    }

    /// One API call with `key`: refused beyond `limits.apiCalls` (this instance's share).
    pub fn api_call(&self, key: &ApiKeyId) -> Result<(), ApiError> {
        let Some(limiter) = &self.api_calls else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            ApiError::rate_limited(
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                "too many requests with this API key; slow down",
            )
        })
    }

    /// Forgets idle API-key buckets and expired refusals (housekeeping).
    pub fn forget_idle(&self, now: OffsetDateTime) {
        if let Some(limiter) = &self.api_calls {
            limiter.retain_recent();
        }
        self.refused().retain(|_, until| *until > now);
    }

    fn refused(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, OffsetDateTime>> {
        self.refused_ips.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this instance already knows `ip` is refused for failed authentications.
    pub fn known_refused(&self, ip: IpAddr, now: OffsetDateTime) -> Option<u64> {
        let until = *self.refused().get(&ip)?;
        (until > now).then(|| retry_after_secs((until - now).whole_microseconds() as i64))
    }

    /// Counts a failed API authentication from `ip`: the API's answer is `unauthorized` until
    /// the limit is reached, then 429.
    pub async fn failed_authentication(
        &self,
        state: &AppState,
        ip: IpAddr,
        unauthorized: ApiError,
    ) -> ApiError {
        let now = state.clock.now();
        match self
            .take(state, &[(Limit::FailedAuthentication, &ip.to_string())])
            .await
        {
            Ok(_counted) => unauthorized,
            Err(LimitError::Refused { retry_after_secs }) => {
                let mut refused = self.refused();
                if refused.len() >= REFUSED_IPS_KEPT {
                    refused.retain(|_, until| *until > now);
                }
                if refused.len() >= REFUSED_IPS_KEPT {
                    // Still full of live refusals: start over (the database still counts).
                    refused.clear();
                }
                refused.insert(ip, now + time::Duration::seconds(retry_after_secs as i64));
                ApiError::rate_limited(
                    retry_after_secs,
                    "too many failed authentications from this address; wait before trying again",
                )
            }
            Err(e @ LimitError::Store(_)) => e.into_api(""),
        }
    }

    /// Counts one event against each of `counters` (a limit and the thing it counts: an IP, an
    /// email, a card number), all or none. Limits turned off are skipped.
    pub async fn take(
        &self,
        state: &AppState,
        counters: &[(Limit, &str)],
    ) -> Result<Taken, LimitError> {
        let taken = Taken(
            counters
                .iter()
                .filter_map(|(limit, thing)| {
                    let rate = limit.rate(&self.config)?;
                    Some((state.vault.limit_key(limit.name(), thing), rate))
                })
                .collect(),
        );
        if taken.0.is_empty() {
            return Ok(taken);
        }
        let keys: Vec<LimitKey> = taken.keys().collect();
        match state.store.limit_take(&keys, state.clock.now()).await? {
            None => Ok(taken),
            Some(wait) => Err(LimitError::Refused {
                retry_after_secs: retry_after_secs(wait),
            }),
        }
    }

    /// Gives back what [`Limits::take`] counted. A failure is logged: the events then count,
    /// which errs on the side of the limit.
    pub async fn give_back(&self, state: &AppState, taken: Taken) {
        if taken.0.is_empty() {
            return;
        }
        let keys: Vec<LimitKey> = taken.keys().collect();
        if let Err(e) = state.store.limit_give_back(&keys, state.clock.now()).await {
            tracing::warn!(error = %e, "a limit could not be given back");
        }
    }

    /// One of the `limits.passwordHashes` slots for computing a password hash; `None` when
    /// none freed up within [`PASSWORD_HASH_WAIT`] (the caller answers 429). Move it into the
    /// blocking task that hashes, so a caller that goes away does not free it early.
    pub async fn password_hash_slot(&self) -> Option<OwnedSemaphorePermit> {
        let slots = Arc::clone(&self.password_hashes);
        tokio::time::timeout(PASSWORD_HASH_WAIT, slots.acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

impl Taken {
    fn keys(&self) -> impl Iterator<Item = LimitKey<'_>> {
        self.0
            .iter()
            .map(|(key, rate)| LimitKey { key, rate: *rate })
    }
}

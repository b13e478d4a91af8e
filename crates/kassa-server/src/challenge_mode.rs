//! Challenge mode on the server (docs/api.md §8): whether a partner's pay pages are in it (read
//! from the database, so instances sharing it agree), switching it on after a declined pay-page
//! attempt, and the proof-of-work challenges those pages issue and check. The rule and the
//! proof of work themselves are `kassa_core::challenge` and `kassa_core::proof_of_work`.

use kassa_core::challenge::{self, ChallengeRule};
use kassa_core::id::PartnerId;
use kassa_core::payment_request::PaymentRequest;
use kassa_core::proof_of_work::{self, Bound, Refusal};
use kassa_store::Partner;
use time::OffsetDateTime;

use crate::config::Config;
use crate::state::AppState;

/// The rule the settings give; None when `limits.challengeDeclines` is off.
pub fn rule(config: &Config) -> Option<ChallengeRule> {
    config
        .limits
        .challenge_declines
        .map(|declines| ChallengeRule {
            declines,
            duration: config.limits.challenge_duration,
        })
}

/// Until when the partner's pay pages are in challenge mode; None when they are not (or the
/// setting is off).
pub async fn active_until(
    state: &AppState,
    partner: &PartnerId,
) -> Result<Option<OffsetDateTime>, kassa_store::StoreError> {
    if rule(&state.config).is_none() {
        return Ok(None);
    }
    let until = state.store.challenge_mode_until(partner).await?;
    Ok(challenge::active_until(until, state.clock.now()))
}

/// The same for a partner just read from the database (a pay page's): no query of its own.
pub fn active_for(state: &AppState, partner: &Partner) -> Option<OffsetDateTime> {
    rule(&state.config)?;
    challenge::active_until(partner.challenge_mode_until, state.clock.now())
}

/// After a declined pay-page attempt: switches challenge mode on when the partner's recent
/// attempts call for it. Never fails the payer's answer: a failure is logged.
pub async fn after_decline(state: &AppState, partner: &PartnerId) {
    let Some(rule) = rule(&state.config) else {
        return;
    };
    match state
        .store
        .switch_on_challenge_mode(partner, &rule, state.clock.now())
        .await
    {
        Ok(Some(until)) => tracing::warn!(
            partner = %partner,
            until = %kassa_core::clock::format_rfc3339(until),
            "many declines on the partner's pay pages: challenge mode is on"
        ),
        Ok(None) => {}
        Err(e) => tracing::error!(
            error = format!("{e:#}"),
            partner = %partner,
            "could not evaluate challenge mode after a decline"
        ),
    }
}

/// A challenge for the next attempt on `request`.
pub fn issue(state: &AppState, request: &PaymentRequest) -> String {
    proof_of_work::issue(
        bound(request),
        state.config.limits.challenge_difficulty,
        state.clock.now(),
        |body| state.vault.challenge_mac(body),
    )
}

/// Checks the form's answer for the next attempt on `request`.
pub fn verify(
    state: &AppState,
    request: &PaymentRequest,
    challenge: &str,
    solution: &str,
) -> Result<(), Refusal> {
    proof_of_work::verify(
        challenge,
        solution,
        bound(request),
        state.config.limits.challenge_difficulty,
        state.clock.now(),
        |body, mac| state.vault.challenge_mac_valid(body, mac),
    )
}

fn bound(request: &PaymentRequest) -> Bound<'_> {
    Bound {
        request: &request.id,
        attempt: request.attempt_count,
    }
}

//! Challenge mode in the store, on both backends: a partner's pay-page declines within the
//! window switch it on when they are more than the threshold and more than half of the attempts;
//! other partners, older attempts and API sales do not count; the end only moves forward.

mod common;

use std::sync::Arc;

use common::*;
use kassa_core::challenge::ChallengeRule;
use kassa_core::id::PartnerId;
use kassa_core::limit::Rate;
use kassa_core::payment::{DeclineCode, Funding};
use kassa_store::{AttemptResult, BeginOutcome, CreateOutcome, Store};
use time::{Duration, OffsetDateTime};

fn rule() -> ChallengeRule {
    ChallengeRule {
        declines: Rate::new(30, std::time::Duration::from_secs(600)),
        duration: std::time::Duration::from_secs(3600),
    }
}

async fn open_request(
    store: &Arc<dyn Store>,
    partner: &PartnerId,
) -> kassa_core::id::PaymentRequestId {
    match store
        .create_payment_request(&request(partner, &reference(), 1_000, now()), &by_at(now()))
        .await
        .unwrap()
    {
        CreateOutcome::Created(pr) => pr.id,
        other => panic!("expected Created, got {other:?}"),
    }
}

/// One pay-page attempt on `request` at `at`, answered with `result`.
async fn attempt(
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    request: &kassa_core::id::PaymentRequestId,
    result: AttemptResult,
    at: OffsetDateTime,
) {
    let a = card_attempt();
    match store.begin_attempt(partner, request, &a, at).await.unwrap() {
        BeginOutcome::Started { .. } => {}
        other => panic!("expected Started, got {other:?}"),
    }
    store
        .finish_attempt(partner, &a.payment_id, &result, None, at)
        .await
        .unwrap();
}

/// `n` declined attempts at `at`, at most 8 per request (a link locks after 10).
async fn declines(store: &Arc<dyn Store>, partner: &PartnerId, n: usize, at: OffsetDateTime) {
    let mut request = open_request(store, partner).await;
    for i in 0..n {
        if i > 0 && i % 8 == 0 {
            request = open_request(store, partner).await;
        }
        let code = DeclineCode::InsufficientFunds;
        attempt(
            store,
            partner,
            &request,
            AttemptResult::Declined { code },
            at,
        )
        .await;
    }
}

/// `n` approved attempts at `at`, each paying its own request.
async fn approvals(store: &Arc<dyn Store>, partner: &PartnerId, n: usize, at: OffsetDateTime) {
    for _ in 0..n {
        let request = open_request(store, partner).await;
        let funding = Funding::Credit;
        attempt(
            store,
            partner,
            &request,
            AttemptResult::Approved { funding },
            at,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_declines_than_the_threshold_and_than_half_switch_it_on() {
    for (name, store) in backends().await.iter() {
        let t0 = instant_in(2031);
        let partner = new_partner(name, store).await;
        assert_eq!(store.challenge_mode_until(&partner).await.unwrap(), None);

        // 30 declines (and 29 approvals): not more than the threshold.
        declines(store, &partner, 30, t0).await;
        approvals(store, &partner, 29, t0).await;
        let at = t0 + Duration::minutes(1);
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), at)
                .await
                .unwrap(),
            None,
            "[{name}]"
        );
        assert_eq!(store.challenge_mode_until(&partner).await.unwrap(), None);

        // The 31st decline: 31 of 60 attempts.
        declines(store, &partner, 1, at).await;
        let until = at + Duration::hours(1);
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), at)
                .await
                .unwrap(),
            Some(until),
            "[{name}]"
        );
        assert_eq!(
            store.challenge_mode_until(&partner).await.unwrap(),
            Some(until),
            "[{name}]"
        );

        // Later declines extend it; an earlier clock never moves it back.
        let later = at + Duration::minutes(5);
        declines(store, &partner, 1, later).await;
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), later)
                .await
                .unwrap(),
            Some(later + Duration::hours(1)),
            "[{name}]"
        );
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), at)
                .await
                .unwrap(),
            None,
            "[{name}]"
        );
        assert_eq!(
            store.challenge_mode_until(&partner).await.unwrap(),
            Some(later + Duration::hours(1)),
            "[{name}]"
        );

        // Ten minutes after the last of them, none counts any more.
        let gone = later + Duration::minutes(10);
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), gone)
                .await
                .unwrap(),
            None,
            "[{name}]"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declines_that_are_not_more_than_half_or_not_this_partners_do_not() {
    for (name, store) in backends().await.iter() {
        let t0 = instant_in(2032);
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;

        // 31 declines, 31 approvals: exactly half.
        declines(store, &partner, 31, t0).await;
        approvals(store, &partner, 31, t0).await;
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), t0)
                .await
                .unwrap(),
            None,
            "[{name}]"
        );

        // Another partner's declines are its own.
        declines(store, &other, 31, t0).await;
        assert_eq!(
            store
                .switch_on_challenge_mode(&other, &rule(), t0)
                .await
                .unwrap(),
            Some(t0 + Duration::hours(1)),
            "[{name}]"
        );
        assert_eq!(store.challenge_mode_until(&partner).await.unwrap(), None);

        // Declines older than the window do not count.
        let old = new_partner(name, store).await;
        declines(store, &old, 31, t0).await;
        let after = t0 + Duration::minutes(10);
        assert_eq!(
            store
                .switch_on_challenge_mode(&old, &rule(), after)
                .await
                .unwrap(),
            None,
            "[{name}]"
        );
        assert_eq!(store.challenge_mode_until(&old).await.unwrap(), None);

        // An unknown partner is never in challenge mode.
        assert_eq!(
            store
                .challenge_mode_until(&PartnerId::generate())
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_debits_do_not_dilute_card_declines() {
    for (name, store) in backends().await.iter() {
        let t0 = instant_in(2036);
        let partner = new_partner(name, store).await;
        // 31 card declines, and 40 bank debits begun beside them (never declined at once).
        declines(store, &partner, 31, t0).await;
        for _ in 0..40 {
            let request = open_request(store, &partner).await;
            match store
                .begin_attempt(&partner, &request, &ach_attempt(), t0)
                .await
                .unwrap()
            {
                BeginOutcome::Started { .. } => {}
                other => panic!("[{name}] expected Started, got {other:?}"),
            }
        }
        let at = t0 + Duration::minutes(1);
        assert_eq!(
            store
                .switch_on_challenge_mode(&partner, &rule(), at)
                .await
                .unwrap(),
            Some(at + Duration::hours(1)),
            "[{name}]"
        );
    }
}

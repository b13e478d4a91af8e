//! Challenge mode (docs/api.md §8): more than 30 declines in 10 minutes on a partner's pay
//! pages, more than half of the attempts, put its pay pages in challenge mode for an hour. The
//! forms then carry a proof-of-work challenge answered by a first-party script; a form without
//! a valid answer is refused and records nothing. `GET /v1/partner` and the dashboard show it,
//! and every instance on the same database sees it.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_core::proof_of_work;
use kassa_server::vault::Vault;
use kassa_server::{admin, App, AppParts, Config};
use serde_json::Value;

const DIFFICULTY: u8 = 8;
const SCRIPT_TAG: &str = r#"<script src="/static/pow.js" defer></script>"#;

/// The limits these tests need: an easy proof of work, and no per-IP or per-card decline limits
/// (the tests decline many times from one client with one card).
fn configure(config: &mut Config) {
    config.limits.challenge_difficulty = DIFFICULTY;
    config.limits.declines_per_ip = None;
    config.limits.declines_per_card = None;
}

/// Another instance of the application on the same database, clock and processor, with the
/// settings `configure` gives.
fn instance(app: &TestApp) -> App {
    let mut config = app.app.state().config.clone();
    configure(&mut config);
    App::new(AppParts {
        config,
        store: app.store.clone(),
        processor: app.processor.clone(),
        clock: app.clock.clone(),
        vault: Vault::new(&[42u8; 32]),
        resolver: None,
    })
}

/// The test application, reassembled with [`configure`]'s settings.
fn configured(app: TestApp) -> TestApp {
    app.reconfigured(configure)
}

async fn new_page(app: &TestApp, p: &TestPartner) -> String {
    pay_path(
        &app.create_request(p, "25.00", &format!("INV-{}", rand_ref()))
            .await,
    )
}

fn rand_ref() -> String {
    kassa_core::id::random_base62(10)
}

/// `n` attempts with `card`, on as many new requests as needed (at most 8 on each, below the
/// link's own limit); the status of each answer.
async fn attempts(app: &TestApp, p: &TestPartner, card: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    let mut page = String::new();
    let mut payer = Payer::new(app);
    for i in 0..n {
        if i % 8 == 0 {
            page = new_page(app, p).await;
            payer = Payer::new(app);
            payer.open(&page).await;
        }
        statuses.push(payer.submit(&page, &card_fields(card)).await.status);
        // An approved request is done: the next attempt needs a new one.
        if statuses.last() == Some(&StatusCode::SEE_OTHER) {
            page = new_page(app, p).await;
            payer = Payer::new(app);
            payer.open(&page).await;
        }
    }
    statuses
}

async fn challenge_mode_until(app: &TestApp, p: &TestPartner) -> Value {
    let r = app.api(&p.key, Method::GET, "/v1/partner", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["challengeModeUntil"].clone()
}

async fn payment_count(app: &TestApp, p: &TestPartner) -> usize {
    let r = app
        .api(&p.key, Method::GET, "/v1/payments?limit=100", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    ids(&r.json()).len()
}

fn challenge_of(html: &str) -> String {
    extract(html, r#"name="powChallenge" value=""#, "\"").expect("a challenge in the form")
}

/// The form's fields with a solved challenge.
fn solved<'a>(card: &'a str, challenge: &'a str, solution: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = card_fields(card);
    fields.push(("powChallenge", challenge));
    fields.push(("powSolution", solution));
    fields
}

on_both_backends!(
    many_declines_switch_the_pay_pages_to_challenge_mode,
    |app| {
        let app = configured(app);
        let p = app.partner().await;
        admin::create_user(
            app.store.as_ref(),
            &p.partner.id,
            "owner@acme.example",
            "correct horse battery",
            kassa_core::role::Role::Owner,
            &kassa_core::audit::Caller::cli("test", start_time()),
        )
        .await
        .unwrap();

        // 9 payments go through, then 30 declines: not yet more than 30.
        let approved = attempts(&app, &p, "5555555555554444", 9).await;
        assert!(
            approved.iter().all(|s| *s == StatusCode::SEE_OTHER),
            "{approved:?}"
        );
        app.advance(Duration::from_secs(60));
        let declined = attempts(&app, &p, "4000000000009995", 30).await;
        assert!(
            declined.iter().all(|s| *s == StatusCode::PAYMENT_REQUIRED),
            "{declined:?}"
        );
        assert_eq!(challenge_mode_until(&app, &p).await, Value::Null);
        let page = new_page(&app, &p).await;
        let mut payer = Payer::new(&app);
        let normal = payer.open(&page).await;
        assert!(!normal.body.contains("pow.js") && !normal.body.contains("powChallenge"));

        // The 31st decline (31 of 40 attempts): the page that tells of it already asks for the proof.
        let r = payer.submit(&page, &card_fields("4000000000009995")).await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
        assert!(r.body.contains(SCRIPT_TAG), "{}", r.body);
        assert_eq!(
            challenge_mode_until(&app, &p).await,
            "2026-11-21T13:01:00Z",
            "an hour from the decline that switched it on"
        );

        // The dashboard says so.
        let mut b = Browser::new(&app);
        b.sign_in("owner@acme.example", "correct horse battery")
            .await;
        let home = b.get("/dashboard").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(
            home.body
                .contains("Challenge mode is on until Nov 21, 2026, 1:01 PM UTC"),
            "{}",
            home.body
        );

        // A new page: the script, the explanation without JavaScript, and the challenge in the form.
        let page = new_page(&app, &p).await;
        let mut payer = Payer::new(&app);
        let r = payer.open(&page).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains(SCRIPT_TAG), "{}", r.body);
        assert!(r.body.contains("<noscript>"), "{}", r.body);
        assert!(r
            .body
            .contains("This page needs JavaScript right now because of unusual activity"));
        assert_eq!(r.body.matches(r#"name="powChallenge""#).count(), 1);
        assert_eq!(r.body.matches(r#"name="powSolution" value="""#).count(), 1);
        let challenge = challenge_of(&r.body);

        // Without an answer: refused, with why, and nothing recorded.
        let before = payment_count(&app, &p).await;
        let r = payer.submit(&page, &card_fields("5555555555554444")).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert!(
            r.body.contains("This payment needs a security check first"),
            "{}",
            r.body
        );
        assert!(r.body.contains("Nothing was charged"));
        assert_eq!(r.header("retry-after").as_deref(), Some("3600"));
        // A wrong answer, or one made up.
        let wrong = (0..)
            .find(|c| !proof_of_work::solves(&challenge, *c, DIFFICULTY))
            .unwrap()
            .to_string();
        let r = payer
            .submit(&page, &solved("5555555555554444", &challenge, &wrong))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert!(r.body.contains("The security check did not pass"));
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
        let forged = challenge.replacen(&format!("v1.{DIFFICULTY}."), "v1.1.", 1);
        let r = payer
            .submit(&page, &solved("5555555555554444", &forged, "0"))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        // A solved challenge of another payment request.
        let other_page = new_page(&app, &p).await;
        let other = challenge_of(&Payer::new(&app).open(&other_page).await.body);
        let answer = proof_of_work::solve(&other, DIFFICULTY).to_string();
        let r = payer
            .submit(&page, &solved("5555555555554444", &other, &answer))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert!(r.body.contains("The security check has expired"));
        assert_eq!(payment_count(&app, &p).await, before, "nothing recorded");

        // A solved challenge pays once: after a decline with it, the next attempt needs a new one.
        let answer = proof_of_work::solve(&challenge, DIFFICULTY).to_string();
        let r = payer
            .submit(&page, &solved("4000000000009995", &challenge, &answer))
            .await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
        let next = challenge_of(&r.body);
        assert_ne!(next, challenge);
        let r = payer
            .submit(&page, &solved("5555555555554444", &challenge, &answer))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert_eq!(payment_count(&app, &p).await, before + 1);
        let answer = proof_of_work::solve(&next, DIFFICULTY).to_string();
        let r = payer
            .submit(&page, &solved("5555555555554444", &next, &answer))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(r.location().ends_with("/confirmation"));
        assert_eq!(payment_count(&app, &p).await, before + 2);

        // A challenge answered too late.
        let page = new_page(&app, &p).await;
        let mut payer = Payer::new(&app);
        let late = challenge_of(&payer.open(&page).await.body);
        app.advance(Duration::from_secs(16 * 60));
        let answer = proof_of_work::solve(&late, DIFFICULTY).to_string();
        let r = payer
            .submit(&page, &solved("5555555555554444", &late, &answer))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert!(r.body.contains("The security check has expired"));

        // Another instance on the same database sees it too.
        let other = instance(&app);
        let r = app_send(&other, &page).await;
        assert!(r.contains(SCRIPT_TAG), "{r}");

        // An hour after it was switched on it is over: the page is as usual, and pays without a proof.
        app.advance(Duration::from_secs(45 * 60));
        assert_eq!(challenge_mode_until(&app, &p).await, Value::Null);
        let home = b.get("/dashboard").await;
        assert!(!home.body.contains("Challenge mode is on"));
        let mut payer = Payer::new(&app);
        let r = payer.open(&page).await;
        assert!(
            !r.body.contains("pow.js") && !r.body.contains("<noscript>"),
            "{}",
            r.body
        );
        let r = payer.submit(&page, &card_fields("5555555555554444")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
);

/// The body of a GET through another instance's router.
async fn app_send(app: &App, path: &str) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = app
        .router()
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

on_both_backends!(declines_that_are_not_most_attempts_do_not, |app| {
    let app = configured(app);
    let p = app.partner().await;
    // 32 payments and 31 declines within ten minutes: many declines, but not most attempts.
    let approved = attempts(&app, &p, "4111111111111111", 32).await;
    assert!(
        approved.iter().all(|s| *s == StatusCode::SEE_OTHER),
        "{approved:?}"
    );
    let declined = attempts(&app, &p, "4000000000000069", 31).await;
    assert!(
        declined.iter().all(|s| *s == StatusCode::PAYMENT_REQUIRED),
        "{declined:?}"
    );
    assert_eq!(challenge_mode_until(&app, &p).await, Value::Null);
    let page = new_page(&app, &p).await;
    let r = Payer::new(&app).open(&page).await;
    assert!(!r.body.contains("pow.js") && !r.body.contains("powChallenge"));
});

on_both_backends!(the_script_is_first_party_and_allowed_by_the_csp, |app| {
    let r = app.get("/static/pow.js").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    // Kept by the browser and revalidated by its ETag (tests/observability.rs).
    assert_eq!(r.header("cache-control").as_deref(), Some("no-cache"));
    assert!(r.header("etag").is_some());
    assert!(r.body.contains("function compress"));
    assert!(!r.body.contains("eval(") && !r.body.contains("new Function"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
});

//! Every row of the creation-link table (docs/api.md §2), signed links, and partner lookup by host.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use kassa_server::vault::link_signature;

async fn count_requests(app: &TestApp, p: &TestPartner) -> usize {
    let list = app
        .api(&p.key, Method::GET, "/v1/payment-requests?limit=100", None)
        .await
        .json();
    list["data"].as_array().unwrap().len()
}

on_both_backends!(creation_link_table, |app| {
    let p = app.partner().await;
    let base = format!("/p/{}/payment-request", p.partner.slug);

    // referenceId missing or empty → 400 page, nothing created.
    for q in [
        "amount=250.00",
        "amount=250.00&referenceId=",
        "amount=250.00&referenceId=%20",
    ] {
        let r = app.get(&format!("{base}?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.body.contains("reference id"), "{}", r.body);
    }
    // amount missing or invalid → 400 page, nothing created.
    for q in [
        "referenceId=Q1",
        "referenceId=Q1&amount=",
        "referenceId=Q1&amount=abc",
        "referenceId=Q1&amount=-5",
        "referenceId=Q1&amount=1e3",
        "referenceId=Q1&amount=250.001",
        "referenceId=Q1&amount=0",
        "referenceId=Q1&amount=1%2C000.00",
    ] {
        let r = app.get(&format!("{base}?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert!(r.body.contains("amount"), "{q}");
    }
    assert_eq!(count_requests(&app, &p).await, 0);

    // New reference → created, 303 to its page.
    let r = app
        .get(&format!("{base}?amount=250.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let location = r.location();
    assert!(
        location.starts_with(&format!("/p/{}/pay/pr_", p.partner.slug)),
        "{location}"
    );
    let id = location.rsplit('/').next().unwrap();
    let pr = app.get_request(&p, id).await;
    assert_eq!(pr["amount"], "250.00");
    assert_eq!(pr["referenceId"], "QUOTE-123");

    // Same reference and amount → 303 to the same page, nothing created.
    let r = app
        .get(&format!("{base}?referenceId=QUOTE-123&amount=250"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), location);
    assert_eq!(count_requests(&app, &p).await, 1);

    // Same reference, other amount → 409 page, nothing changed.
    let r = app
        .get(&format!("{base}?amount=300.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("QUOTE-123"));
    assert_eq!(app.get_request(&p, id).await["amount"], "250.00");
    assert_eq!(count_requests(&app, &p).await, 1);

    // Also after payment the link leads to the completed page, never a new request.
    let mut payer = Payer::new(&app);
    assert_eq!(
        payer.pay_card(&location, "4242424242424242").await.status,
        StatusCode::SEE_OTHER
    );
    let r = app
        .get(&format!("{base}?amount=250.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.location(), location);
    let page = app.get(&location).await;
    assert!(page
        .body
        .contains("This payment has already been completed"));
    assert_eq!(count_requests(&app, &p).await, 1);

    // A redirect URL rides along; a bad one is refused.
    let r = app
        .get(&format!(
            "{base}?amount=5.00&referenceId=R2&redirectUrl=https%3A%2F%2Facme.example%2Fthanks"
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let pr = app
        .get_request(&p, r.location().rsplit('/').next().unwrap())
        .await;
    assert_eq!(pr["redirectUrl"], "https://acme.example/thanks");
    let r = app
        .get(&format!(
            "{base}?amount=5.00&referenceId=R3&redirectUrl=http%3A%2F%2Fevil.example"
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(&format!("{base}?amount=5.00&amount=6.00&referenceId=R4"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(count_requests(&app, &p).await, 2);

    // Unknown partner → 404 page.
    let r = app
        .get("/p/no-such-partner/payment-request?amount=1.00&referenceId=A")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_backends!(signed_links, |app| {
    let p = app.partner_with(|i| i.require_signed_links = true).await;
    let secret = p.partner.link_secret.expose().clone();
    let base = format!("/p/{}/payment-request", p.partner.slug);

    // Missing or wrong signature → 403, nothing created.
    let r = app
        .get(&format!("{base}?amount=250.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let wrong = link_signature("not-the-secret", "amount=250.00&referenceId=QUOTE-123");
    let r = app
        .get(&format!(
            "{base}?amount=250.00&referenceId=QUOTE-123&signature={wrong}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Signed for another amount → 403.
    let sig = link_signature(&secret, "amount=250.00&referenceId=QUOTE-123");
    let r = app
        .get(&format!(
            "{base}?amount=999.00&referenceId=QUOTE-123&signature={sig}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(count_requests(&app, &p).await, 0);

    // Right signature → created; parameter order in the URL does not matter.
    let r = app
        .get(&format!(
            "{base}?signature={sig}&referenceId=QUOTE-123&amount=250.00"
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The redirect URL is covered by the signature, with values as encoded in the URL.
    let msg = "amount=10.00&referenceId=Q%202&redirectUrl=https%3A%2F%2Facme.example%2Fthanks";
    let sig = link_signature(&secret, msg);
    let r = app.get(&format!("{base}?{msg}&signature={sig}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let pr = app
        .get_request(&p, r.location().rsplit('/').next().unwrap())
        .await;
    assert_eq!(pr["referenceId"], "Q 2");
    let r = app.get(&format!("{base}?amount=10.00&referenceId=Q%202&redirectUrl=https%3A%2F%2Fevil.example&signature={sig}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The link the CLI prints is signed correctly.
    let link = kassa_server::links::creation_link(
        "http://kassa.test",
        &p.partner,
        "12.50",
        "INV 7/2",
        Some("https://acme.example/x?y=1"),
    );
    let r = app
        .get(link.strip_prefix("http://kassa.test").unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{link}: {}", r.body);
    assert_eq!(count_requests(&app, &p).await, 3);

    // A partner that does not require signatures ignores them.
    let open = app.partner().await;
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=1.00&referenceId=A&signature=junk",
            open.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
});

on_both_backends!(partner_found_by_billing_host, |app| {
    let host = format!(
        "pay-{}.acme.example",
        kassa_core::id::random_base62(8).to_lowercase()
    );
    let p = app
        .partner_with(|i| i.billing_host = Some(host.clone()))
        .await;
    let req = Request::get("/payment-request?amount=42.00&referenceId=HOST-1")
        .header("host", &host)
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.location();
    assert!(location.starts_with("/pay/pr_"), "{location}");
    let id = location.rsplit('/').next().unwrap();
    let pr = app.get_request(&p, id).await;
    assert_eq!(pr["url"], format!("https://{host}/pay/{id}"));
    let page = app
        .send(
            Request::get(&location)
                .header("host", &host)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("$42.00"));
    // Another host does not know the request.
    let page = app
        .send(
            Request::get(&location)
                .header("host", "unknown.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Nor does another partner's path.
    let q = app.partner().await;
    let page = app.get(&format!("/p/{}/pay/{id}", q.partner.slug)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
});

on_both_backends!(hosts_and_paths_are_matched_strictly, |app| {
    let host = format!(
        "pay-{}.acme.example",
        kassa_core::id::random_base62(8).to_lowercase()
    );
    let p = app
        .partner_with(|i| i.billing_host = Some(host.clone()))
        .await;
    let q = app.partner().await;
    // The browser may send a default port, other case or a trailing dot.
    for h in [
        format!("{host}:443"),
        host.to_uppercase(),
        format!("{host}."),
    ] {
        let req = Request::get("/payment-request?amount=1.00&referenceId=H-1")
            .header("host", &h)
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(req).await.status, StatusCode::SEE_OTHER, "{h}");
    }
    // A partner's billing host does not serve another partner's /p/{slug} pages.
    let req = Request::get(format!(
        "/p/{}/payment-request?amount=1.00&referenceId=H-2",
        q.partner.slug
    ))
    .header("host", &host)
    .body(Body::empty())
    .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count_requests(&app, &q).await, 0);
    // Unreadable or hostile paths and values are plain 4xx pages.
    for path in [
        "/p/%00/payment-request?amount=1.00&referenceId=A".to_string(),
        "/p/NOT%20A%20SLUG/payment-request?amount=1.00&referenceId=A".to_string(),
        "/static/brand/%00".to_string(),
        format!("/p/{}/pay/%FF", q.partner.slug),
        format!("/p/{}/pay/%00", q.partner.slug),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=1.00&referenceId=%FF%FE",
            q.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("<html"));
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=1.00&referenceId=A%00B",
            q.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(count_requests(&app, &q).await, 0);
    let _ = p;
});

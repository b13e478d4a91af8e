//! The QR code of a payment link (docs/api.md §11): `GET /v1/payment-requests/{id}/qr` with
//! the `read` scope, the API's 404 for another partner's id or one that names nothing, and the
//! same image on the dashboard's payment request page (with the link to copy), by session.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_core::scope::{Scope, Scopes};
use kassa_server::admin;

const PASSWORD: &str = "correct horse battery";

on_both_backends!(the_api_answers_the_link_as_an_svg_qr_code, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "250.00", "QR-1").await;
    let id = pr["id"].as_str().unwrap();
    let path = format!("/v1/payment-requests/{id}/qr");

    let r = app.api(&p.key, Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(r.body.contains("<svg") && r.body.contains("</svg>"));
    assert!(!r.body.contains("<script"));
    // The same link gives the same code; another link another one.
    assert_eq!(app.api(&p.key, Method::GET, &path, None).await.body, r.body);
    let other_pr = app.create_request(&p, "250.00", "QR-2").await;
    let other_code = app
        .api(
            &p.key,
            Method::GET,
            &format!(
                "/v1/payment-requests/{}/qr",
                other_pr["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(other_code.status, StatusCode::OK);
    assert_ne!(other_code.body, r.body);

    // Scope read: a key with it may, a key without it may not.
    let read = app.key_with(&p, [Scope::Read].into_iter().collect()).await;
    assert_eq!(
        app.api(&read, Method::GET, &path, None).await.status,
        StatusCode::OK
    );
    let without: Scopes = Scope::ALL
        .into_iter()
        .filter(|s| *s != Scope::Read)
        .collect();
    let without = app.key_with(&p, without).await;
    let refused = app.api(&without, Method::GET, &path, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"]["code"], "insufficient_scope");
    let anonymous = app.get(&path).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // Another partner's id, and ids that name nothing, are the API's 404.
    let other = app.partner().await;
    let theirs = app.api(&other.key, Method::GET, &path, None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.json()["error"]["code"], "not_found");
    assert_eq!(theirs.json()["error"]["message"], "no such payment request");
    for hostile in [
        "pr_doesnotexist",
        "pr_%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "..%2F..%2Fetc%2Fpasswd",
        "pr_000000000000000000000000%00",
        "pay_000000000000000000000000",
    ] {
        let r = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payment-requests/{hostile}/qr"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{hostile}: {}", r.body);
        assert_eq!(r.json()["error"]["type"], "not_found", "{hostile}");
        assert!(!r.body.contains("<script"), "{hostile}");
    }
});

on_both_backends!(the_dashboard_shows_the_code_and_the_link_to_copy, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "250.00", "QR-3").await;
    let id = pr["id"].as_str().unwrap();
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "qr@acme.example",
        PASSWORD,
        kassa_core::role::Role::Viewer,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    let qr_path = format!("/dashboard/payment-requests/{id}/qr.svg");
    assert_eq!(b.get(&qr_path).await.location(), "/dashboard/login");
    b.sign_in("qr@acme.example", PASSWORD).await;

    let page = b.get(&format!("/dashboard/payment-requests/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        format!("<img src=\"{qr_path}\""),
        "alt=\"QR code of the payment link\"".to_string(),
        format!(
            "id=\"payment-link\" readonly value=\"{}\"",
            pr["url"].as_str().unwrap()
        ),
        "data-copy=\"payment-link\" hidden>Copy link</button>".to_string(),
        "<script src=\"/static/dashboard.js\" defer></script>".to_string(),
    ] {
        assert!(page.body.contains(&text), "{text} missing: {}", page.body);
    }
    let image = b.get(&qr_path).await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(
        image.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
    let api = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/payment-requests/{id}/qr"),
            None,
        )
        .await;
    assert_eq!(image.body, api.body, "the same code as the API's");

    // The copy button's script is first-party JavaScript.
    let script = app.get("/static/dashboard.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.body.contains("navigator.clipboard"));

    // Another partner's user: not found, like an id that names nothing.
    let other = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &other.partner.id,
        "o-qr@other.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut o = Browser::new(&app);
    o.sign_in("o-qr@other.example", PASSWORD).await;
    assert_eq!(o.get(&qr_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        o.get("/dashboard/payment-requests/pr_%3Cx%3E/qr.svg")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});

//! The partner dashboard's sign-in: Argon2id passwords, server-side sessions, CSRF on every form,
//! throttled failures, and each user seeing only their partner's data.

mod common;

use axum::http::StatusCode;
use common::*;
use kassa_server::admin;

const PASSWORD: &str = "correct horse battery";

on_both_backends!(sign_in_and_out, |app| {
    let p = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "Owner@Acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    // Signed out: the dashboard sends you to sign in.
    let r = b.get("/dashboard").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/dashboard/login");
    let r = b.sign_in("owner@acme.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/dashboard");
    let set = r.header("set-cookie").unwrap();
    assert!(set.starts_with("kassa_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    let first_session = b
        .cookies
        .iter()
        .find(|(k, _)| k == "kassa_session")
        .unwrap()
        .1
        .clone();
    let home = b.get("/dashboard").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Acme Services"));
    assert!(home.body.contains("owner@acme.example"));
    // Signing in again makes a new session id.
    b.sign_in("owner@acme.example", PASSWORD).await;
    let second_session = b
        .cookies
        .iter()
        .find(|(k, _)| k == "kassa_session")
        .unwrap()
        .1
        .clone();
    assert_ne!(first_session, second_session);
    // Sign out needs the form's CSRF token, then ends the session for good.
    let home = b.get("/dashboard").await;
    let r = b.post("/dashboard/logout", &[("csrfToken", "nope")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post("/dashboard/logout", &[("csrfToken", &csrf(&home.body))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut replay = Browser::new(&app);
    replay
        .cookies
        .push(("kassa_session".into(), second_session));
    assert_eq!(
        replay.get("/dashboard").await.status,
        StatusCode::SEE_OTHER,
        "a signed-out session is gone"
    );
});

on_both_backends!(wrong_passwords_are_refused_and_throttled, |app| {
    let p = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "owner@acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    let r = b.sign_in("owner@acme.example", "wrong password!").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("do not match"));
    assert!(b.cookies.iter().all(|(k, _)| k != "kassa_session"));
    let r = b.sign_in("nobody@acme.example", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "an unknown email answers the same"
    );
    // A forged form (no CSRF token) is refused before the password is looked at.
    let r = b
        .post(
            "/dashboard/login",
            &[("email", "owner@acme.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for _ in 0..4 {
        b.sign_in("owner@acme.example", "wrong password!").await;
    }
    // Five failures: even the right password waits.
    let r = b.sign_in("owner@acme.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    app.advance(std::time::Duration::from_secs(16 * 60));
    let r = b.sign_in("owner@acme.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Sessions end after their lifetime, and housekeeping forgets them.
    app.advance(std::time::Duration::from_secs(12 * 3600 + 1));
    app.app.housekeeping().await.unwrap();
    assert_eq!(b.get("/dashboard").await.status, StatusCode::SEE_OTHER);
});

on_both_backends!(users_see_only_their_partner, |app| {
    let p = app.partner().await;
    let other = app.partner_with(|p| p.name = "Globex".into()).await;
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "a@acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    admin::create_user(
        app.store.as_ref(),
        &other.partner.id,
        "g@globex.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mine = app.create_request(&p, "12.34", "MINE-1").await;
    let mut payer = Payer::new(&app);
    payer.pay_card(&pay_path(&mine), "4242424242424242").await;
    let mut b = Browser::new(&app);
    b.sign_in("g@globex.example", PASSWORD).await;
    let home = b.get("/dashboard").await;
    assert!(home.body.contains("Globex"));
    assert!(
        !home.body.contains("MINE-1") && !home.body.contains("12.34"),
        "another partner's payments"
    );
    let mut a = Browser::new(&app);
    a.sign_in("a@acme.example", PASSWORD).await;
    let home = a.get("/dashboard").await;
    assert!(home.body.contains("MINE-1"));
    assert!(home.body.contains("$12.34"));
});

#[tokio::test]
async fn users_need_a_valid_email_a_long_password_and_a_free_email() {
    let app = TestApp::sqlite().await;
    let p = app.partner().await;
    let err = admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "not-an-email",
        "short",
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("email") && err.contains("password"), "{err}");
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "x@acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let again = admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "X@acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await;
    assert!(matches!(again, Err(admin::AdminError::Taken("email"))));
    // Only an Argon2id hash is stored.
    let (_, hash) = app
        .store
        .users_by_email("x@acme.example")
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(hash.expose().starts_with("$argon2id$"));
    assert!(!hash.expose().contains(PASSWORD));
}

on_both_backends!(transactions_filter_page_and_export, |app| {
    let p = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "t@acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    // Three paid links, a declined attempt, a bank payment pending, and an API sale; one
    // reference starts like a spreadsheet formula.
    for (reference, amount, number) in [
        ("QUOTE-100", "10.00", "4242424242424242"),
        ("QUOTE-200", "20.00", "4242424242424242"),
        ("=HYPERLINK(\"x\")", "30.00", "4242424242424242"),
        ("DECLINE-1", "40.00", "4000000000000002"),
    ] {
        let pr = app.create_request(&p, amount, reference).await;
        Payer::new(&app).pay_card(&pay_path(&pr), number).await;
    }
    let bank = app.create_request(&p, "50.00", "BANK-1").await;
    Payer::new(&app)
        .pay_ach(&pay_path(&bank), "000123456789")
        .await;
    app.api(&p.key, axum::http::Method::POST, "/v1/payments/sale", Some(serde_json::json!({
        "firstName": "A", "lastName": "B",
        "paymentMethod": {"billingFirstName": "A", "billingLastName": "B",
            "creditCard": {"paymentAccountNumber": "4242424242424242", "expirationDate": "1230"}},
        "invoice": {"invoiceLineItems": [{"name": "x", "value": "60.00", "valueType": "Standard"}]}}))).await;

    let mut b = Browser::new(&app);
    assert_eq!(
        b.get("/dashboard/transactions").await.status,
        StatusCode::SEE_OTHER
    );
    b.sign_in("t@acme.example", PASSWORD).await;
    let all = b.get("/dashboard/transactions").await;
    assert_eq!(all.status, StatusCode::OK);
    for text in [
        "QUOTE-100",
        "QUOTE-200",
        "DECLINE-1",
        "BANK-1",
        "$60.00",
        "Checking account •••• 6789",
    ] {
        assert!(all.body.contains(text), "{text} missing");
    }
    let page = |q: &str| format!("/dashboard/transactions?{q}");
    let quotes = b.get(&page("q=quote")).await.body;
    assert!(
        quotes.contains("QUOTE-100") && quotes.contains("QUOTE-200") && !quotes.contains("BANK-1")
    );
    let failed = b.get(&page("status=failed")).await.body;
    assert!(failed.contains("DECLINE-1") && !failed.contains("QUOTE-100"));
    let bank_only = b.get(&page("method=ach")).await.body;
    assert!(bank_only.contains("BANK-1") && !bank_only.contains("QUOTE-100"));
    let api_only = b.get(&page("source=api")).await.body;
    assert!(api_only.contains("$60.00") && !api_only.contains("QUOTE-100"));
    assert!(b
        .get(&page("from=2026-11-22"))
        .await
        .body
        .contains("No transactions match"));
    assert!(b
        .get(&page("from=2026-11-21&to=2026-11-21"))
        .await
        .body
        .contains("QUOTE-100"));
    let bad = b.get(&page("status=lost&from=yesterday")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Unknown status") && bad.body.contains("From must be a date"));

    // The CSV holds exactly what the filters show, safe to open in a spreadsheet.
    let csv = b.get("/dashboard/transactions.csv?q=quote").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "id,status,amount,currency,reference_id,payer_name,payer_email,method,last4,source,created_at,completed_at"
    );
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(
        lines[1].contains(",completed,20.00,USD,QUOTE-200,Jo Payer,,card,4242,payment_request,"),
        "{}",
        lines[1]
    );
    let all_csv = b.get("/dashboard/transactions.csv").await.body;
    assert_eq!(all_csv.lines().count(), 1 + 6);
    assert!(all_csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{all_csv}");

    // Another partner's user sees none of it.
    let other = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &other.partner.id,
        "o@other.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut o = Browser::new(&app);
    o.sign_in("o@other.example", PASSWORD).await;
    assert!(o
        .get("/dashboard/transactions")
        .await
        .body
        .contains("No transactions match"));
    assert_eq!(
        o.get("/dashboard/transactions.csv")
            .await
            .body
            .lines()
            .count(),
        1
    );
});

on_both_backends!(transactions_are_paged, |app| {
    let p = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "pg@acme.example",
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    for i in 0..52 {
        let pr = app
            .create_request(&p, "1.00", &format!("PAGE-{i:02}"))
            .await;
        Payer::new(&app)
            .pay_card(&pay_path(&pr), "4242424242424242")
            .await;
    }
    let mut b = Browser::new(&app);
    b.sign_in("pg@acme.example", PASSWORD).await;
    let first = b.get("/dashboard/transactions?q=page").await.body;
    assert!(first.contains("PAGE-51") && !first.contains("PAGE-01"));
    let next = extract(
        &first,
        "class=\"button\" href=\"/dashboard/transactions?",
        "\"",
    )
    .expect("a next page link");
    // The link is HTML-escaped in the page.
    let next = next.replace("&#38;", "&").replace("&amp;", "&");
    let second = b.get(&format!("/dashboard/transactions?{next}")).await.body;
    assert!(
        second.contains("PAGE-01") && second.contains("PAGE-00") && !second.contains("PAGE-51")
    );
    assert_eq!(
        b.get("/dashboard/transactions.csv?q=page")
            .await
            .body
            .lines()
            .count(),
        53
    );
});

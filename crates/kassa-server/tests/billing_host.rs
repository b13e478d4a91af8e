//! Billing host verification through DNS (docs/api.md §9): Kassa's real resolver asks a DNS server
//! the test runs on loopback (`dns.resolver`), from pending to verified; a missing or wrong record
//! and a failed lookup change nothing; only a verified host serves the partner's pages; the
//! dashboard's "Verify now" and the operator's override.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::txt_server::TxtServer;
use common::*;
use serde_json::{json, Value};

fn host() -> String {
    format!(
        "pay-{}.acme.example",
        kassa_core::id::random_base62(8).to_lowercase()
    )
}

async fn verify(app: &TestApp, p: &TestPartner) -> Resp {
    app.api(
        &p.key,
        Method::POST,
        "/v1/partner/billing-host/verify",
        None,
    )
    .await
}

async fn partner(app: &TestApp, p: &TestPartner) -> Value {
    let r = app.api(&p.key, Method::GET, "/v1/partner", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

async fn on_host(app: &TestApp, host: &str, uri: &str) -> Resp {
    app.send(
        Request::get(uri)
            .header("host", host)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// The app asking `dns` for TXT records.
async fn with_dns(app: TestApp, dns: &TxtServer) -> TestApp {
    let addr = dns.addr;
    app.reconfigured(|c| c.dns.resolver = Some(addr))
}

on_both_backends!(a_host_is_verified_by_its_txt_record, |app| {
    let dns = TxtServer::start().await;
    let app = with_dns(app, &dns).await;
    let p = app.partner().await;
    let host = host();
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({ "billingHost": host })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let pending = r.json();
    assert_eq!(pending["billingHostStatus"], "pending_verification");
    let name = format!("_kassa.{host}");
    assert_eq!(pending["billingHostVerification"]["type"], "dns_txt");
    assert_eq!(pending["billingHostVerification"]["name"], name.as_str());
    let value = pending["billingHostVerification"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(value.starts_with("kassa-verification="), "{value}");

    // No record yet: 422 naming what was looked up, nothing changed.
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["type"], "invalid_state");
    assert_eq!(e["code"], "billing_host_not_verified");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains(&name) && message.contains(&value),
        "{message}"
    );
    assert!(dns.questions() > 0, "the test's server was asked");
    assert_eq!(partner(&app, &p).await, pending);
    assert_eq!(
        on_host(&app, &host, "/payment-request?amount=5.00&referenceId=V-0")
            .await
            .status,
        StatusCode::NOT_FOUND,
        "a pending host serves nothing"
    );

    // A wrong value (another token, an old claim): 422 saying what was found.
    dns.set(
        &name,
        &["v=spf1 -all", "kassa-verification=someone-elses-token"],
    );
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("kassa-verification=someone-elses-token") && message.contains(&value),
        "{message}"
    );
    assert!(
        !message.contains("v=spf1"),
        "only records of Kassa's form: {message}"
    );
    assert_eq!(partner(&app, &p).await, pending);

    // The record as shown: verified, and the host serves the partner's pages.
    dns.set(&name, &["v=spf1 -all", &value]);
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let verified = r.json();
    assert_eq!(verified["billingHostStatus"], "verified");
    assert_eq!(verified["billingHost"], host.as_str());
    assert_eq!(partner(&app, &p).await, verified);
    let r = on_host(&app, &host, "/payment-request?amount=5.00&referenceId=V-1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let pay = on_host(&app, &host, &r.location()).await;
    assert_eq!(pay.status, StatusCode::OK);
    assert!(pay.body.contains("$5.00"));
    let made = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "6.00", "referenceId": "V-2"})),
        )
        .await
        .json();
    assert!(
        made["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("https://{host}/pay/")),
        "{made}"
    );

    // Verifying again changes nothing (and asks no DNS).
    dns.set(&name, &[]);
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json(), verified);

    // A new host starts over, with a new token; the old host serves nothing any more.
    let other = self::host();
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({ "billingHost": other })),
        )
        .await;
    let moved = r.json();
    assert_eq!(moved["billingHostStatus"], "pending_verification");
    assert_ne!(moved["billingHostVerification"]["value"], value.as_str());
    assert_eq!(
        on_host(&app, &host, "/payment-request?amount=5.00&referenceId=V-3")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        on_host(&app, &other, "/payment-request?amount=5.00&referenceId=V-3")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The old record does not prove the new host.
    dns.set(&format!("_kassa.{other}"), &[&value]);
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(partner(&app, &p).await, moved);
});

on_both_backends!(no_host_and_failed_lookups_change_nothing, |app| {
    let dns = TxtServer::start().await;
    let app = with_dns(app, &dns).await;
    let p = app.partner().await;
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "no_billing_host");

    let host = host();
    let pending = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({ "billingHost": host })),
        )
        .await
        .json();
    let value = pending["billingHostVerification"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    dns.set(&format!("_kassa.{host}"), &[&value]);
    // The server stops answering: the lookup times out, and that is never "verified".
    dns.go_silent();
    let started = std::time::Instant::now();
    let r = verify(&app, &p).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "dns_lookup_failed");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(&format!("_kassa.{host}")),
        "{e}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "a short timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(partner(&app, &p).await, pending);
});

on_both_backends!(the_dashboard_shows_the_record_and_verifies, |app| {
    let dns = TxtServer::start().await;
    let app = with_dns(app, &dns).await;
    let p = app.partner().await;
    let host = host();
    let pending = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({ "billingHost": host })),
        )
        .await
        .json();
    let value = pending["billingHostVerification"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    kassa_server::admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "owner@acme.example",
        "correct horse battery",
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    let r = b
        .sign_in("owner@acme.example", "correct horse battery")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/dashboard/settings").await;
    assert!(page.body.contains("Pending verification"), "{}", page.body);
    assert!(page.body.contains(&format!("_kassa.{host}")));
    assert!(page.body.contains(&value));
    assert!(page.body.contains("Verify now"));
    let token = csrf(&page.body);

    // Without the record: the page says what is missing, nothing changes.
    let r = b
        .post(
            "/dashboard/settings/billing-host/verify",
            &[("csrfToken", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
    assert!(r.body.contains(&format!("_kassa.{host}")), "{}", r.body);
    assert_eq!(partner(&app, &p).await, pending);
    // A form without its CSRF token is refused and verifies nothing.
    dns.set(&format!("_kassa.{host}"), &[&value]);
    let r = b.post("/dashboard/settings/billing-host/verify", &[]).await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(partner(&app, &p).await, pending);

    let r = b
        .post(
            "/dashboard/settings/billing-host/verify",
            &[("csrfToken", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(&r.location()).await;
    assert!(page.body.contains("Billing host verified"), "{}", page.body);
    assert!(page.body.contains("id=\"billing-host-status\">Verified"));
    assert!(!page.body.contains("Verify now"));
    assert_eq!(partner(&app, &p).await["billingHostStatus"], "verified");
});

on_both_backends!(the_operator_override_verifies_without_dns, |app| {
    let host = host();
    let p = app
        .partner_with(|i| i.billing_host = Some(host.clone()))
        .await;
    assert_eq!(
        partner(&app, &p).await["billingHostStatus"],
        "pending_verification",
        "a host given when the partner is made is pending too"
    );
    let verified = app.verify_host(&p).await;
    assert!(verified.verified_billing_host().is_some());
    assert_eq!(partner(&app, &p).await["billingHostStatus"], "verified");
    assert_eq!(
        on_host(&app, &host, "/payment-request?amount=5.00&referenceId=O-1")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // A partner without a host, or an unknown one, is refused.
    let q = app.partner().await;
    let none = kassa_server::admin::verify_billing_host(
        app.store.as_ref(),
        q.partner.slug.as_str(),
        &operator(),
    )
    .await
    .unwrap_err();
    assert!(none.to_string().contains("no billing host"), "{none}");
    let unknown = kassa_server::admin::verify_billing_host(
        app.store.as_ref(),
        "no-such-partner",
        &operator(),
    )
    .await
    .unwrap_err();
    assert!(unknown.to_string().contains("no partner"), "{unknown}");
});

on_both_backends!(a_billing_host_has_no_kassa_landing_page, |app| {
    let host = host();
    let p = app
        .partner_with(|i| i.billing_host = Some(host.clone()))
        .await;
    app.verify_host(&p).await;
    // The partner's address is the partner's: a payer opening it is not shown Kassa or the way
    // to the operator's dashboard.
    let r = on_host(&app, &host, "/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(!r.body.contains("Kassa server"), "{}", r.body);
    assert!(!r.body.contains("/dashboard"), "{}", r.body);
    // Kassa's own host still shows it.
    let r = on_host(&app, "127.0.0.1:8080", "/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("This is a Kassa server"), "{}", r.body);
});

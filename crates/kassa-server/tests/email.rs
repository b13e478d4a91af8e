//! Email (docs/api.md §11) against a real SMTP server on loopback, on both backends: receipts,
//! the pending notice for bank debits, partner notifications, resending a receipt and emailing a
//! link, retries when the server is down, a refusal for good, the limits, and that no body ever
//! carries more of a card than its brand and last 4.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::smtp::SmtpServer;
use common::*;
use serde_json::{json, Value};

const CARD: &str = "4242424242424242";
const PAYER: &str = "jo@payer.example";
const OPS: &str = "ops@acme.example";

/// The application sending through `smtp`.
fn with_smtp(app: TestApp, smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    app.reconfigured(move |c| {
        c.smtp.url = Some(kassa_core::secret::Secret::new(url));
        c.smtp.from = Some("Kassa <no-reply@kassa.test>".into());
    })
}

async fn request_for(
    app: &TestApp,
    p: &TestPartner,
    reference: &str,
    email: Option<&str>,
) -> Value {
    let mut body = json!({"amount": "125.50", "referenceId": reference});
    if let Some(e) = email {
        body["payerEmail"] = json!(e);
    }
    let r = app
        .api(&p.key, Method::POST, "/v1/payment-requests", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

async fn set_notification_email(app: &TestApp, p: &TestPartner) {
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(
                json!({"notificationEmail": OPS, "supportEmail": "help@acme.example",
                "supportPhone": "+1 415 555 0100", "termsUrl": "https://acme.example/terms",
                "timezone": "America/New_York"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Pays the request by card on its page.
async fn pay_by_card(app: &TestApp, request: &Value) {
    let mut payer = Payer::new(app);
    let r = payer.pay_card(&pay_path(request), CARD).await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
}

/// The payment made on the request.
async fn payment_of(app: &TestApp, p: &TestPartner, request: &Value) -> Value {
    let pr = app.get_request(p, request["id"].as_str().unwrap()).await;
    let id = pr["paymentId"]
        .as_str()
        .expect("the request was paid")
        .to_string();
    app.get_payment(p, &id).await
}

/// Runs jobs until none is due (the event fan-out, then the sends).
async fn drain(app: &TestApp) {
    for _ in 0..5 {
        if app.run_jobs().await == 0 {
            break;
        }
    }
}

fn assert_no_card_number(text: &str) {
    assert!(!text.contains(CARD), "the card number is in an email");
    assert!(
        !text.contains("424242424242"),
        "more than the last 4 in an email"
    );
    assert!(!text.contains("739"), "the CVC is in an email");
}

on_both_backends!(a_paid_link_sends_the_receipt_and_tells_the_partner, |app| {
    let smtp = SmtpServer::start().await;
    let app = with_smtp(app, &smtp);
    let p = app.partner().await;
    set_notification_email(&app, &p).await;
    let request = request_for(&app, &p, "INV-100", Some(PAYER)).await;
    pay_by_card(&app, &request).await;
    let payment = payment_of(&app, &p, &request).await;
    assert_eq!(payment["status"], "completed");
    assert_eq!(payment["payerEmail"], PAYER);
    assert_eq!(payment["payerName"], "Jo Payer");
    drain(&app).await;

    let receipts = smtp.mails_to(PAYER);
    assert_eq!(receipts.len(), 1, "one receipt: {:?}", smtp.mails());
    let receipt = &receipts[0];
    assert_eq!(
        receipt.header("Subject").unwrap(),
        "Receipt from Acme Services: $125.50 (INV-100)"
    );
    assert!(receipt
        .header("From")
        .unwrap()
        .contains("no-reply@kassa.test"));
    assert_eq!(receipt.header("Reply-To").unwrap(), "help@acme.example");
    let text = receipt.text();
    for expected in [
        "$125.50",
        "Acme Services",
        "INV-100",
        "Visa •••• 4242",
        "Receipt number",
        "EST",
        "+1 415 555 0100",
        "https://acme.example/terms",
        "Test payment",
        "text/html",
        "text/plain",
    ] {
        assert!(
            text.contains(expected),
            "the receipt lacks {expected:?}:\n{text}"
        );
    }
    assert_no_card_number(&text);

    let notices = smtp.mails_to(OPS);
    assert_eq!(notices.len(), 1, "{:?}", smtp.mails());
    let notice = notices[0].text();
    assert!(
        notice.contains("Payment received: $125.50 (INV-100)"),
        "{notice}"
    );
    assert!(
        notice.contains(PAYER) && notice.contains("Jo Payer"),
        "{notice}"
    );
    assert!(
        notice.contains("http://kassa.test/dashboard/transactions/"),
        "{notice}"
    );
    assert_no_card_number(&notice);

    // Sent once: the fan-out and the jobs running again send nothing more.
    app.advance(Duration::from_secs(3600));
    drain(&app).await;
    assert_eq!(smtp.mails().len(), 2);
});

on_both_backends!(a_bank_debit_is_pending_then_receipted_or_returned, |app| {
    let smtp = SmtpServer::start().await;
    let app = with_smtp(app, &smtp);
    let p = app.partner().await;
    set_notification_email(&app, &p).await;

    let cleared = request_for(&app, &p, "ACH-1", Some(PAYER)).await;
    let mut payer = Payer::new(&app);
    payer.pay_ach(&pay_path(&cleared), "000123456789").await;
    drain(&app).await;
    let mails = smtp.mails_to(PAYER);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0]
        .header("Subject")
        .unwrap()
        .starts_with("Payment pending: $125.50 to Acme Services"));
    assert!(mails[0].text().contains("Checking account •••• 6789"));
    assert!(
        !mails[0].text().contains("000123456789"),
        "the account number is in an email"
    );

    let payment = payment_of(&app, &p, &cleared).await;
    let id = payment["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{id}/settle"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    drain(&app).await;
    let mails = smtp.mails_to(PAYER);
    assert_eq!(mails.len(), 2, "then the receipt");
    assert!(mails[1]
        .header("Subject")
        .unwrap()
        .starts_with("Receipt from Acme Services"));

    let returned = request_for(&app, &p, "ACH-2", Some("other@payer.example")).await;
    let mut payer = Payer::new(&app);
    payer.pay_ach(&pay_path(&returned), "000123456789").await;
    let pr = app.get_request(&p, returned["id"].as_str().unwrap()).await;
    let id = pr["paymentId"].as_str().unwrap().to_string();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{id}/return"),
            Some(json!({"code": "R01"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    drain(&app).await;
    let notices: Vec<_> = smtp
        .mails_to(OPS)
        .into_iter()
        .filter(|m| {
            m.header("Subject")
                .unwrap()
                .starts_with("Bank debit returned")
        })
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", smtp.mails());
    assert!(notices[0].text().contains("R01"), "{}", notices[0].text());
});

on_both_backends!(a_try_while_the_server_is_down_is_retried, |app| {
    let mut smtp = SmtpServer::start().await;
    let addr = smtp.addr();
    let app = with_smtp(app, &smtp);
    let p = app.partner().await;
    let request = request_for(&app, &p, "DOWN-1", Some(PAYER)).await;
    smtp.stop();
    pay_by_card(&app, &request).await;
    drain(&app).await;
    let payment = payment_of(&app, &p, &request).await;
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/payments/{}", payment["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // The try failed and is due again in 30 seconds; nothing before that.
    drain(&app).await;
    let smtp = SmtpServer::start_on(addr).await;
    drain(&app).await;
    assert!(smtp.mails().is_empty(), "not tried again before its time");
    app.advance(Duration::from_secs(31));
    drain(&app).await;
    assert_eq!(smtp.mails_to(PAYER).len(), 1, "sent on the next try");
});

on_both_backends!(a_refusal_for_good_is_not_retried, |app| {
    let smtp = SmtpServer::start().await;
    smtp.refuse_recipients();
    let app = with_smtp(app, &smtp);
    let p = app.partner().await;
    let request = request_for(&app, &p, "REFUSED-1", Some(PAYER)).await;
    pay_by_card(&app, &request).await;
    drain(&app).await;
    let payment = payment_of(&app, &p, &request).await;
    // The partner sees it failed; asking again queues a new try.
    let id = payment["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payments/{id}/receipt"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.json()["status"], "queued");
    drain(&app).await;
    app.advance(Duration::from_secs(7200));
    drain(&app).await;
    assert!(smtp.mails().is_empty());
});

on_both_backends!(receipts_and_links_on_request, |app| {
    let smtp = SmtpServer::start().await;
    let app = with_smtp(app, &smtp);
    let p = app.partner().await;
    let other = app.partner().await;

    // A link, to the request's payer email or another.
    let request = request_for(&app, &p, "LINK-1", Some(PAYER)).await;
    let id = request["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/send"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let email = r.json();
    assert_eq!(email["object"], "email");
    assert_eq!(email["kind"], "payment_link");
    assert_eq!(email["to"], PAYER);
    assert_eq!(email["status"], "queued");
    assert!(email["id"].as_str().unwrap().starts_with("em_"));
    drain(&app).await;
    let links = smtp.mails_to(PAYER);
    assert_eq!(links.len(), 1);
    let text = links[0].text();
    assert!(
        text.contains(&format!("http://kassa.test/p/{}/pay/{id}", p.partner.slug)),
        "{text}"
    );
    assert_eq!(
        links[0].header("Subject").unwrap(),
        "Acme Services requests $125.50 (LINK-1)"
    );

    // Bad input changes nothing.
    let no_email = request_for(&app, &p, "LINK-2", None).await;
    let no_email_id = no_email["id"].as_str().unwrap();
    for (path, body, status, code) in [
        (
            format!("/v1/payment-requests/{no_email_id}/send"),
            None,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            format!("/v1/payment-requests/{id}/send"),
            Some(json!({"email": "nope"})),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            format!("/v1/payment-requests/{id}/send"),
            Some(json!({"to": PAYER})),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "/v1/payment-requests/pr_0123456789ABCDEFGHIJabcd/send".to_string(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let r = app.api(&p.key, Method::POST, &path, body.clone()).await;
        assert_eq!(r.status, status, "{path} {body:?}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{}", r.body);
    }
    // Another partner's request is not found.
    let r = app
        .api(
            &other.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/send"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // A receipt only once paid; to another address when asked.
    pay_by_card(&app, &request).await;
    let payment = payment_of(&app, &p, &request).await;
    let pay_id = payment["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/send"),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a paid request's link is not sent: {}",
        r.body
    );
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payments/{pay_id}/receipt"),
            Some(json!({"email": "books@payer.example"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    drain(&app).await;
    assert_eq!(smtp.mails_to("books@payer.example").len(), 1);

    // At most 5 an hour about one payment (the automatic receipt does not count).
    for _ in 0..4 {
        let r = app
            .api(
                &p.key,
                Method::POST,
                &format!("/v1/payments/{pay_id}/receipt"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payments/{pay_id}/receipt"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);

    // Each asked-for email is in the audit log.
    let admin = app.key_with(&p, kassa_core::scope::Scopes::all()).await;
    let r = app
        .api(
            &admin,
            Method::GET,
            "/v1/audit-events?action=email.requested",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 6, "{}", r.body);
});

on_both_backends!(without_smtp_nothing_is_queued, |app| {
    let p = app.partner().await;
    let request = request_for(&app, &p, "NOSMTP-1", Some(PAYER)).await;
    let id = request["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/send"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "email_not_configured");
    pay_by_card(&app, &request).await;
    drain(&app).await;
    let payment = payment_of(&app, &p, &request).await;
    let pay_id = payment["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payments/{pay_id}/receipt"),
            None,
        )
        .await;
    assert_eq!(
        r.json()["error"]["code"],
        "email_not_configured",
        "{}",
        r.body
    );
});

async fn signed_in<'a>(app: &'a TestApp, p: &TestPartner) -> Browser<'a> {
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
    let mut b = Browser::new(app);
    let r = b
        .sign_in("owner@acme.example", "correct horse battery")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    b
}

on_both_backends!(
    the_dashboard_sends_links_and_receipts_and_shows_them,
    |app| {
        let smtp = SmtpServer::start().await;
        let app = with_smtp(app, &smtp);
        let p = app.partner().await;
        let mut b = signed_in(&app, &p).await;
        let request = request_for(&app, &p, "DASH-1", Some(PAYER)).await;
        let id = request["id"].as_str().unwrap();
        let page = b.get(&format!("/dashboard/payment-requests/{id}")).await;
        assert!(page.body.contains("Email link"), "{}", page.body);
        assert!(!page.body.contains("id=\"email-off\""));

        // A form without its CSRF token sends nothing.
        let r = b
            .post(&format!("/dashboard/payment-requests/{id}/send"), &[])
            .await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        drain(&app).await;
        assert!(smtp.mails().is_empty());

        let token = csrf(&page.body);
        let r = b
            .post(
                &format!("/dashboard/payment-requests/{id}/send"),
                &[("csrfToken", &token)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = b.get(&r.location()).await;
        assert!(
            page.body
                .contains(&format!("The link is on its way to {PAYER}.")),
            "{}",
            page.body
        );
        assert!(page.body.contains("Payment link"), "{}", page.body);
        drain(&app).await;
        assert_eq!(smtp.mails_to(PAYER).len(), 1);
        let page = b.get(&format!("/dashboard/payment-requests/{id}")).await;
        assert!(page.body.contains(">Sent<"), "{}", page.body);

        // Paid: the receipt is on the payment's timeline, and can be sent again.
        pay_by_card(&app, &request).await;
        drain(&app).await;
        let payment = payment_of(&app, &p, &request).await;
        let pay_id = payment["id"].as_str().unwrap();
        let page = b.get(&format!("/dashboard/transactions/{pay_id}")).await;
        assert!(
            page.body.contains(&format!("Receipt to {PAYER} · Sent")),
            "{}",
            page.body
        );
        assert!(page.body.contains("Resend receipt"));
        let r = b
            .post(
                &format!("/dashboard/transactions/{pay_id}/receipt"),
                &[("csrfToken", &csrf(&page.body))],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = b.get(&r.location()).await;
        assert!(
            page.body
                .contains(&format!("The receipt is on its way to {PAYER}.")),
            "{}",
            page.body
        );
        drain(&app).await;
        assert_eq!(
            smtp.mails_to(PAYER).len(),
            3,
            "link, receipt, receipt again"
        );
    }
);

on_both_backends!(without_smtp_the_dashboard_says_email_is_off, |app| {
    let p = app.partner().await;
    let mut b = signed_in(&app, &p).await;
    let home = b.get("/dashboard").await;
    assert!(home.body.contains("id=\"email-off\""), "{}", home.body);
    let request = request_for(&app, &p, "OFF-1", Some(PAYER)).await;
    let page = b
        .get(&format!(
            "/dashboard/payment-requests/{}",
            request["id"].as_str().unwrap()
        ))
        .await;
    assert!(page.body.contains("id=\"email-off\""));
    assert!(!page.body.contains("Email link"));
});

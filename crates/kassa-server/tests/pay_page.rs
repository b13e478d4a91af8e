//! The pay page's one form (docs/api.md §2 and §11): the "Pay by" chooser, the optional receipt
//! email, and the error summary that keeps the payer's entries — but never the card number,
//! CVC or account number — after every kind of refusal. The receipt's number and time.

mod common;

use axum::http::StatusCode;
use common::*;
use kassa_core::limit::Rate;

/// The entries a payer typed, with numbers that must never come back in a page.
const NUMBER: &str = "4000000000000002";
const ACCOUNT: &str = "000123456789";

fn card_entries(number: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("method", "card"),
        ("cardholderName", "Jo Kept"),
        ("cardNumber", number),
        ("expiry", "11/31"),
        ("cvc", "987"),
        ("postalCode", "K1A0B1"),
        ("email", "jo.kept@example.com"),
    ]
}

/// The page shows the card entries again, with the summary, and none of the numbers.
fn assert_card_entries_kept(html: &str) {
    assert!(
        html.contains(r#"id="error-summary" role="alert" tabindex="-1""#),
        "{html}"
    );
    assert!(!html.contains(r#"tabindex="-1" aria-labelledby="error-summary-title" hidden"#));
    assert!(html.contains("There is a problem"));
    assert!(html.contains(r#"value="Jo Kept""#));
    assert!(html.contains(r#"value="11/31""#));
    assert!(html.contains(r#"value="K1A0B1""#));
    assert!(html.contains(r#"value="jo.kept@example.com""#));
    assert!(html.contains(r#"id="method-card" type="radio" name="method" value="card" checked"#));
    for secret in [
        NUMBER,
        "4000 0000 0000 0002",
        "0002\"",
        "value=\"987\"",
        ">987<",
    ] {
        assert!(!html.contains(secret), "{secret} is in the page");
    }
}

on_both_backends!(one_form_with_a_pay_by_chooser_and_a_receipt_email, |app| {
    let p = app.partner().await;
    let r = app
        .api(
            &p.key,
            axum::http::Method::POST,
            "/v1/payment-requests",
            Some(serde_json::json!({"amount": "40.00", "referenceId": "CH-1", "payerEmail": "payer@example.com"})),
        )
        .await;
    let page = pay_path(&r.json());
    let mut payer = Payer::new(&app);
    let html = payer.open(&page).await.body;
    assert_eq!(html.matches("<form").count(), 1, "one form");
    assert!(html.contains(&format!(r#"action="{page}#error-summary""#)));
    assert!(html.contains("<legend>Pay by</legend>"));
    assert!(html.contains(r#"id="method-card" type="radio" name="method" value="card" checked"#));
    assert!(html.contains(r#"id="method-ach" type="radio" name="method" value="ach">"#));
    assert!(html.contains(r#"<label for="email">Email for your receipt (optional)</label>"#));
    assert!(html.contains(r#"name="email" type="email" autocomplete="email""#));
    // Prefilled from the request's payerEmail; no summary shown yet.
    assert!(html.contains(r#"value="payer@example.com""#));
    assert!(html.contains(r#"aria-labelledby="error-summary-title" hidden"#));
    assert_eq!(
        html.matches("Pay $40.00").count(),
        2,
        "title and the one button"
    );
});

on_both_backends!(field_errors_keep_the_entries_and_link_the_fields, |app| {
    let p = app.partner().await;
    let page = pay_path(&app.create_request(&p, "12.00", "FE-1").await);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    // A bad email charges nothing; every entry but the numbers comes back.
    let mut fields = card_entries("4242424242424242");
    fields.retain(|(k, _)| *k != "email");
    fields.push(("email", "not-an-email"));
    let r = payer.submit(&page, &fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body
            .contains(r##"<a href="#email">Must be a valid email address.</a>"##),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"aria-describedby="email-error""#));
    assert!(r.body.contains(r#"value="not-an-email""#));
    assert!(!r.body.contains("4242424242424242") && !r.body.contains("value=\"987\""));
    let pr = app
        .get_request(&p, &page[page.rfind('/').unwrap() + 1..])
        .await;
    assert_eq!(pr["attemptCount"], 0, "nothing was tried");

    // Missing fields are named in words, in the form's order, each linking to its field.
    let r = payer.submit(&page, &[("method", "card")]).await;
    let order: Vec<usize> = [
        "#cardholderName",
        "#cardNumber",
        "#expiry",
        "#cvc",
        "#postalCode",
    ]
    .iter()
    .map(|id| {
        r.body
            .find(&format!("href=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(r.body.contains("Enter the card number."));
    assert!(r.body.contains("<title>Error: Pay $12.00"));
});

on_both_backends!(a_bank_form_with_errors_stays_on_the_bank_account, |app| {
    let p = app.partner().await;
    let page = pay_path(&app.create_request(&p, "12.00", "ACH-E").await);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let r = payer
        .submit(
            &page,
            &[
                ("method", "ach"),
                ("accountHolderName", "Jo Bank"),
                ("routingNumber", "110000000"),
                ("accountNumber", ACCOUNT),
                ("accountType", "savings"),
                ("email", "jo@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let html = &r.body;
    assert!(html.contains(r#"id="method-ach" type="radio" name="method" value="ach" checked"#));
    assert!(html.contains(r#"value="Jo Bank""#) && html.contains(r#"value="110000000""#));
    assert!(html.contains(r#"value="savings" checked"#));
    assert!(html.contains(r##"href="#achAuthorization""##));
    assert!(
        !html.contains(ACCOUNT),
        "the account number never comes back"
    );
    // Accepted and sent with a bad email: the box stays ticked.
    let r = payer
        .submit(
            &page,
            &[
                ("method", "ach"),
                ("accountHolderName", "Jo Bank"),
                ("routingNumber", "110000000"),
                ("accountNumber", ACCOUNT),
                ("accountType", "checking"),
                ("achAuthorization", "accepted"),
                ("email", "bad"),
            ],
        )
        .await;
    assert!(r
        .body
        .contains(r#"value="accepted" required aria-describedby="achAuthorization-text" checked"#));
    assert!(!r.body.contains(ACCOUNT));
});

on_both_backends!(a_decline_keeps_the_entries_but_never_the_numbers, |app| {
    let p = app.partner().await;
    let page = pay_path(&app.create_request(&p, "12.00", "DEC-1").await);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let r = payer.submit(&page, &card_entries(NUMBER)).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    assert_card_entries_kept(&r.body);
    assert!(r.body.contains("Your card was declined."));
});

on_both_backends!(an_expired_form_keeps_the_entries, |app| {
    let p = app.partner().await;
    let page = pay_path(&app.create_request(&p, "12.00", "CSRF-1").await);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    payer.token = Some("forged".into());
    let r = payer.submit(&page, &card_entries(NUMBER)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_card_entries_kept(&r.body);
    assert!(r
        .body
        .contains("This form has expired. Nothing was charged."));
    // The form shown again carries a token that works.
    let token = csrf(&r.body);
    payer.token = Some(token);
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Without the cookie at all, a new one comes with the form.
    let page = pay_path(&app.create_request(&p, "12.00", "CSRF-2").await);
    let stranger = Payer::new(&app);
    let r = stranger.submit(&page, &card_entries(NUMBER)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.header("set-cookie").is_some());
    assert_card_entries_kept(&r.body);
});

on_both_backends!(a_decline_limit_keeps_the_entries, |app| {
    let app = app.reconfigured(|c| {
        c.limits.declines_per_ip = Some(Rate::new(1, std::time::Duration::from_secs(3600)));
    });
    let p = app.partner().await;
    let page = pay_path(&app.create_request(&p, "12.00", "LIM-1").await);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let first = payer.submit(&page, &card_entries(NUMBER)).await;
    assert_eq!(first.status, StatusCode::PAYMENT_REQUIRED);
    let r = payer.submit(&page, &card_entries(NUMBER)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
    assert_card_entries_kept(&r.body);
    assert!(r.body.contains("Too many payments were declined"));
});

on_both_backends!(a_refused_security_check_keeps_the_entries, |app| {
    let p = app.partner().await;
    let until = kassa_core::clock::to_micros(start_time() + time::Duration::hours(1));
    app.raw_sql(&format!(
        "UPDATE partners SET challenge_mode_until = {until} WHERE id = '{}'",
        p.partner.id
    ))
    .await
    .unwrap();
    let page = pay_path(&app.create_request(&p, "12.00", "POW-1").await);
    let mut payer = Payer::new(&app);
    let html = payer.open(&page).await.body;
    assert!(html.contains("/static/pow.js") && html.contains("/static/pay.js"));
    let r = payer.submit(&page, &card_entries(NUMBER)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_card_entries_kept(&r.body);
    assert!(r
        .body
        .contains("This payment needs a security check first."));
    assert!(
        r.body.contains(r#"name="powChallenge""#),
        "a fresh challenge comes with it"
    );
});

on_both_backends!(the_receipt_shows_its_number_partner_and_time, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "75.50", "RCPT-1").await;
    let mut payer = Payer::new(&app);
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    let receipt = app.get(&r.location()).await;
    assert_eq!(receipt.status, StatusCode::OK);
    let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    let payment_id = kassa_core::id::PaymentId::parse(done["paymentId"].as_str().unwrap()).unwrap();
    let number = kassa_core::receipt::receipt_number(&payment_id);
    assert!(
        receipt
            .body
            .contains(&format!(r#"<dd id="receipt-number">{number}</dd>"#)),
        "{}",
        receipt.body
    );
    assert!(receipt
        .body
        .contains("<dt>Paid to</dt><dd>Acme Services</dd>"));
    assert!(receipt.body.contains("$75.50") && receipt.body.contains("RCPT-1"));
    assert!(receipt.body.contains("Visa •••• 4242"));
    // The frozen clock's time, in the partner's timezone (UTC unless it set one).
    assert!(
        receipt
            .body
            .contains(r#"<dd id="receipt-date">Nov 21, 2026, 12:00 PM UTC</dd>"#),
        "{}",
        receipt.body
    );
});

on_both_backends!(
    the_numbers_never_reach_the_page_after_an_ach_decline,
    |app| {
        let p = app.partner().await;
        let page = pay_path(&app.create_request(&p, "12.00", "ACH-D").await);
        let mut payer = Payer::new(&app);
        payer.open(&page).await;
        // A routing number that fails its checksum: a field error on the bank form.
        let r = payer.submit(&page, &ach_fields("110000001", ACCOUNT)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains(r#"value="110000001""#));
        assert!(!r.body.contains(ACCOUNT));
    }
);

on_both_backends!(contact_links_timezone_and_the_receipt_email, |app| {
    let p = app.partner().await;
    let r = app
        .api(
            &p.key,
            axum::http::Method::PATCH,
            "/v1/partner",
            Some(serde_json::json!({
                "supportEmail": "help@acme.example",
                "supportPhone": "+1 (415) 555-0100",
                "termsUrl": "https://acme.example/terms",
                "privacyUrl": "https://acme.example/privacy",
                "timezone": "America/New_York"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let pr = app.create_request(&p, "20.00", "TZ-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    let html = payer.open(&page).await.body;
    // Only what is set, each a link that gives away nothing.
    for (href, label) in [
        ("mailto:help@acme.example", "help@acme.example"),
        ("tel:+14155550100", "+1 (415) 555-0100"),
        ("https://acme.example/terms", "Terms"),
        ("https://acme.example/privacy", "Privacy"),
    ] {
        assert!(
            html.contains(&format!(
                r#"<a href="{href}" rel="noopener noreferrer">{label}</a>"#
            )),
            "{href}: {html}"
        );
    }
    assert!(!html.contains(">Support</a>"), "no support page was set");

    // The email typed on the form reaches the payment.
    let mut fields = card_fields("4242424242424242");
    fields.push(("email", "receipt@example.com"));
    let r = payer.submit(&page, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    let payment = app
        .get_payment(&p, done["paymentId"].as_str().unwrap())
        .await;
    assert_eq!(payment["payerEmail"], "receipt@example.com");
    assert_eq!(payment["payerName"], "Jo Payer");

    // The receipt's time is the partner's: 12:00 UTC is 7:00 in New York in November.
    let receipt = app.get(&r.location()).await.body;
    assert!(
        receipt.contains(r#"<dd id="receipt-date">Nov 21, 2026, 7:00 AM EST</dd>"#),
        "{receipt}"
    );
    assert!(
        receipt.contains("mailto:help@acme.example"),
        "the receipt's footer too"
    );
});

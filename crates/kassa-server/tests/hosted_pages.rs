//! The pay page, its states and the payment flows of the sandbox (docs/api.md §2 and §6).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_processor::SandboxProcessor;
use serde_json::json;

on_both_backends!(pay_page_shows_branding_and_forms, |app| {
    let p = app
        .partner_with(|i| {
            i.name = "Bright & Co".into();
            i.brand_color = Some("#AA3300".into());
            i.logo_url = Some("https://cdn.example/logo.png".into());
        })
        .await;
    let pr = app.create_request(&p, "1250.00", "QUOTE-<9>").await;
    let mut payer = Payer::new(&app);
    let page = payer.open(&pay_path(&pr)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.body;
    assert!(
        html.contains("Bright &#38; Co") || html.contains("Bright &amp; Co"),
        "partner name, escaped"
    );
    // A logo URL set before logos were uploaded is never hot-linked: the name shows instead.
    assert!(!html.contains("cdn.example"));
    assert!(html.contains("class=\"brand-name\""));
    assert!(html.contains(&format!("/static/brand/{}", p.partner.slug)));
    assert!(html.contains("$1,250.00"));
    assert!(
        html.contains("QUOTE-&lt;9&gt;") || html.contains("QUOTE-&#60;9&#62;"),
        "reference, escaped"
    );
    assert!(!html.contains("QUOTE-<9>"));
    for token in ["cc-name", "cc-number", "cc-exp", "cc-csc", "postal-code"] {
        assert!(
            html.contains(&format!("autocomplete=\"{token}\"")),
            "{token}"
        );
    }
    for name in [
        "cardholderName",
        "cardNumber",
        "expiry",
        "cvc",
        "postalCode",
        "accountHolderName",
        "routingNumber",
        "accountNumber",
        "accountType",
    ] {
        assert!(html.contains(&format!("name=\"{name}\"")), "{name}");
    }
    assert!(
        html.contains("name=\"method\" value=\"card\"")
            && html.contains("name=\"method\" value=\"ach\"")
    );
    assert!(html.contains("name=\"csrfToken\""));
    // The one script is first-party and deferred; the page works without it.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script src=\"/static/pay.js\" defer></script>"));
    assert!(html.contains("name=\"viewport\""));
    assert!(payer.cookie.is_some());

    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(page.header("referrer-policy").is_some());
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));

    let css = app.get(&format!("/static/brand/{}", p.partner.slug)).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains("#aa3300"));
    assert_eq!(app.get("/static/kassa.css").await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!(
            "/p/{}/pay/pr_000000000000000000000000",
            p.partner.slug
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/p/{}/pay/garbage", p.partner.slug))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});

on_both_backends!(card_payment_with_redirect_shows_return_button, |app| {
    let p = app.partner().await;
    let r = app
        .api(&p.key, Method::POST, "/v1/payment-requests", Some(json!({"amount": "250.00", "referenceId": "RET-1", "redirectUrl": "https://acme.example/thanks?q=1"})))
        .await;
    let pr = r.json();
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    let r = payer.pay_card(&page, "4242 4242 4242 4242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{page}/confirmation"));
    let receipt = app.get(&r.location()).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert!(receipt.body.contains("$250.00"));
    assert!(receipt.body.contains("RET-1"));
    assert!(receipt.body.contains("Visa •••• 4242"));
    assert!(receipt
        .body
        .contains("href=\"https://acme.example/thanks?q=1\""));
    assert!(receipt.body.contains("Return to Acme Services"));

    let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["attemptCount"], 1);
    assert!(done["completedAt"].is_string());
    let payment = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/payments/{}", done["paymentId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(payment["status"], "completed");
    assert_eq!(payment["source"], "payment_request");
    assert_eq!(payment["amount"], "250.00");
    assert_eq!(payment["capturedAmount"], "250.00");
    assert_eq!(payment["referenceId"], "RET-1");
    assert_eq!(
        payment["paymentMethod"],
        json!({"type": "card", "brand": "visa", "funding": "credit", "last4": "4242", "expMonth": 12, "expYear": 2030})
    );

    // Events were written with the change.
    let events = app
        .store
        .list_events(&p.partner.id, None, &Default::default())
        .await
        .unwrap();
    let kassa_store::Page::Items { data, .. } = events else {
        panic!()
    };
    let types: Vec<_> = data.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "payment_request.completed",
            "payment.completed",
            "payment_request.created"
        ]
    );
});

on_both_backends!(confirmation_without_redirect_has_no_button, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "10.00", "NORET-1").await;
    let mut payer = Payer::new(&app);
    let r = payer.pay_card(&pay_path(&pr), "5555555555554444").await;
    let receipt = app.get(&r.location()).await;
    assert!(receipt.body.contains("Mastercard •••• 4444"));
    assert!(!receipt.body.contains("Return to"));
    // The receipt of an unpaid request sends the payer to the form.
    let fresh = app.create_request(&p, "10.00", "NORET-2").await;
    let r = app.get(&format!("{}/confirmation", pay_path(&fresh))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), pay_path(&fresh));
});

on_both_backends!(every_magic_card, |app| {
    let p = app.partner().await;
    let approved = [
        ("4242424242424242", "visa", "credit"),
        ("5555555555554444", "mastercard", "credit"),
        ("4000056655665556", "visa", "debit"),
        ("378282246310005", "amex", "credit"),
        ("6011111111111117", "discover", "credit"),
        ("2223003122003222", "mastercard", "credit"),
    ];
    for (i, (number, brand, funding)) in approved.into_iter().enumerate() {
        let pr = app.create_request(&p, "3.00", &format!("OK-{i}")).await;
        let mut payer = Payer::new(&app);
        let r = payer.pay_card(&pay_path(&pr), number).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{number}: {}", r.body);
        let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "completed", "{number}");
        let payment = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payments/{}", done["paymentId"].as_str().unwrap()),
                None,
            )
            .await
            .json();
        assert_eq!(payment["paymentMethod"]["brand"], brand, "{number}");
        assert_eq!(payment["paymentMethod"]["funding"], funding, "{number}");
    }
    let declined = [
        ("4000000000000002", "card_declined", "declined"),
        (
            "4000000000009995",
            "insufficient_funds",
            "insufficient funds",
        ),
        ("4000000000000069", "expired_card", "expired"),
        ("4000000000000127", "incorrect_cvc", "security code"),
        ("4000000000000119", "processing_error", "could not process"),
    ];
    for (i, (number, code, words)) in declined.into_iter().enumerate() {
        let pr = app.create_request(&p, "3.00", &format!("NO-{i}")).await;
        let mut payer = Payer::new(&app);
        let r = payer.pay_card(&pay_path(&pr), number).await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{number}");
        assert!(r.body.contains(words), "{number}: {}", r.body);
        assert!(
            r.body.contains("name=\"cardNumber\""),
            "the form is shown again"
        );
        let after = app.get_request(&p, pr["id"].as_str().unwrap()).await;
        assert_eq!(after["status"], "open", "{number}");
        assert_eq!(after["paymentId"], json!(null));
        let events = app
            .store
            .list_events(&p.partner.id, None, &Default::default())
            .await
            .unwrap();
        let kassa_store::Page::Items { data, .. } = events else {
            panic!()
        };
        let failed = data
            .iter()
            .find(|e| e.event_type == "payment.failed")
            .expect("payment.failed event");
        assert_eq!(failed.data["failureCode"], code, "{number}");
    }
});

on_both_backends!(declined_then_retried_on_the_same_link, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "75.00", "RETRY-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    let r = payer.pay_card(&page, "4000000000000002").await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    // The retry keeps the name and ZIP, never the card number or CVC.
    assert!(r.body.contains("value=\"Jo Payer\"") && r.body.contains("value=\"94107\""));
    assert!(!r.body.contains("4000000000000002") && !r.body.contains("value=\"739\""));
    let r = payer.pay_card(&page, "4000000000009995").await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["attemptCount"], 3);
    // Paid once: any further try gets the completed page with 409.
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("This payment has already been completed"));
    assert_eq!(
        app.get_request(&p, pr["id"].as_str().unwrap()).await["attemptCount"],
        3
    );
});

on_both_backends!(invalid_fields_reshow_the_form, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "8.00", "BAD-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let r = payer
        .submit(
            &page,
            &[
                ("method", "card"),
                ("cardholderName", ""),
                ("cardNumber", "4242424242424241"),
                ("expiry", "13/30"),
                ("cvc", "1"),
                ("postalCode", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for id in [
        "cardholderName-error",
        "cardNumber-error",
        "expiry-error",
        "cvc-error",
        "postalCode-error",
    ] {
        assert!(r.body.contains(id), "{id}");
    }
    assert!(
        !r.body.contains("4242424242424241"),
        "the card number is never echoed back"
    );
    // Expired cards, non-ASCII digits and an Amex with a 3-digit CVC.
    let r = payer
        .submit(
            &page,
            &[
                ("method", "card"),
                ("cardholderName", "Jo"),
                ("cardNumber", "4242424242424242"),
                ("expiry", "10/26"),
                ("cvc", "123"),
                ("postalCode", "94107"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("expired"), "{}", r.body);
    let r = payer
        .submit(
            &page,
            &[
                ("method", "card"),
                ("cardholderName", "Jo"),
                ("cardNumber", "４２４２４２４２４２４２４２４２"),
                ("expiry", "12/30"),
                ("cvc", "123"),
                ("postalCode", "94107"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = payer
        .submit(
            &page,
            &[
                ("method", "card"),
                ("cardholderName", "Jo"),
                ("cardNumber", "378282246310005"),
                ("expiry", "12/30"),
                ("cvc", "123"),
                ("postalCode", "94107"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("cvc-error"));
    // Bank fields.
    let r = payer.submit(&page, &ach_fields("110000001", "12")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("routingNumber-error") && r.body.contains("accountNumber-error"));
    assert!(
        r.body.contains("value=\"110000001\""),
        "non-secret values are kept"
    );
    let r = payer
        .submit(
            &page,
            &[
                ("method", "ach"),
                ("accountHolderName", "Jo"),
                ("routingNumber", "110000000"),
                ("accountNumber", "000123456789"),
                ("accountType", "brokerage"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("accountType-error"));
    let r = payer.submit(&page, &[("method", "bitcoin")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing was attempted.
    let after = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(after["attemptCount"], 0);
    assert_eq!(after["status"], "open");
});

on_both_backends!(forms_need_the_csrf_token, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "8.00", "CSRF-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let good_token = payer.token.clone();
    payer.token = Some("0".repeat(64));
    let r = payer.submit(&page, &card_fields("4242424242424242")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A token without its cookie (another site posting the form) is refused too.
    let mut stranger = Payer::new(&app);
    stranger.token = good_token;
    let r = stranger
        .submit(&page, &card_fields("4242424242424242"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A token for another request does not work.
    let other = app.create_request(&p, "8.00", "CSRF-2").await;
    let mut payer2 = Payer::new(&app);
    payer2.open(&pay_path(&other)).await;
    let r = payer2.submit(&page, &card_fields("4242424242424242")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_request(&p, pr["id"].as_str().unwrap()).await["attemptCount"],
        0
    );
});

on_both_backends!(ach_pending_then_cleared_by_the_job, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "500.00", "ACH-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    let r = payer.pay_ach(&page, "000123456789").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt = app.get(&r.location()).await;
    assert!(receipt.body.contains("processing"), "{}", receipt.body);
    assert!(receipt.body.contains("Checking account •••• 6789"));
    let id = pr["id"].as_str().unwrap();
    let processing = app.get_request(&p, id).await;
    assert_eq!(processing["status"], "processing");
    let payment_id = processing["paymentId"].as_str().unwrap().to_string();
    let payment = app.get_payment(&p, &payment_id).await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(
        payment["paymentMethod"],
        json!({"type": "ach", "accountType": "checking", "routingNumber": "110000000", "last4": "6789"})
    );
    // The page says it is processing and takes no second payment.
    let shown = app.get(&page).await;
    assert!(shown.body.contains("Your bank payment is processing"));
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // Nothing happens before the settlement delay; after it, the job clears the debit.
    assert_eq!(app.run_jobs().await, 0);
    app.advance(Duration::from_secs(5 * 60));
    assert_eq!(app.run_jobs().await, 1);
    let done = app.get_request(&p, id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["paymentId"], payment_id.as_str());
    let payment = app.get_payment(&p, &payment_id).await;
    assert_eq!(payment["status"], "completed");
    assert_eq!(payment["capturedAmount"], "500.00");
    assert!(app
        .get(&page)
        .await
        .body
        .contains("This payment has already been completed"));
});

on_both_backends!(ach_returned_then_paid_again, |app| {
    let p = app.partner().await;
    for (account, code) in [
        ("000111111116", "R03"),
        ("000111111113", "R02"),
        ("000222222227", "R01"),
    ] {
        let pr = app
            .create_request(&p, "60.00", &format!("RET-{code}"))
            .await;
        let id = pr["id"].as_str().unwrap();
        let page = pay_path(&pr);
        let mut payer = Payer::new(&app);
        assert_eq!(
            payer.pay_ach(&page, account).await.status,
            StatusCode::SEE_OTHER
        );
        let first_payment = app.get_request(&p, id).await["paymentId"]
            .as_str()
            .unwrap()
            .to_string();
        app.advance(Duration::from_secs(301));
        app.run_jobs().await;
        let reopened = app.get_request(&p, id).await;
        assert_eq!(reopened["status"], "open", "{account}");
        assert_eq!(reopened["paymentId"], json!(null));
        let payment = app.get_payment(&p, &first_payment).await;
        assert_eq!(payment["status"], "failed");
        assert_eq!(payment["failureCode"], code);
        // The same link takes a new payment.
        let r = payer.pay_card(&page, "4242424242424242").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{account}: {}", r.body);
        let done = app.get_request(&p, id).await;
        assert_eq!(done["status"], "completed");
        assert_eq!(done["attemptCount"], 2);
        assert_ne!(done["paymentId"], first_payment.as_str());
    }
});

on_both_backends!(sandbox_endpoints_settle_and_return, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "40.00", "SBX-1").await;
    let mut payer = Payer::new(&app);
    payer.pay_ach(&pay_path(&pr), "000123456789").await;
    let id = pr["id"].as_str().unwrap();
    let payment_id = app.get_request(&p, id).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();

    // Another partner cannot touch it.
    let q = app.partner().await;
    let r = app
        .api(
            &q.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{payment_id}/settle"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{payment_id}/return"),
            Some(json!({"code": "X1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{payment_id}/return"),
            Some(json!({"code": "R10"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["failureCode"], "R10");
    assert_eq!(app.get_request(&p, id).await["status"], "open");
    // Returned already: the scheduled job finds nothing to do, and settling is refused.
    app.advance(Duration::from_secs(600));
    app.run_jobs().await;
    assert_eq!(app.get_request(&p, id).await["status"], "open");
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{payment_id}/settle"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Pay again by bank and settle at once.
    let r = payer.pay_ach(&pay_path(&pr), "000123456789").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = app.get_request(&p, id).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{second}/settle"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "completed");
    assert_eq!(app.get_request(&p, id).await["status"], "completed");
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{second}/settle"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A card payment is not an ACH debit.
    let card = app.create_request(&p, "1.00", "SBX-2").await;
    let mut payer = Payer::new(&app);
    payer.pay_card(&pay_path(&card), "4242424242424242").await;
    let card_payment = app.get_request(&p, card["id"].as_str().unwrap()).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{card_payment}/settle"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
});

on_both_backends!(canceled_page_takes_no_payment, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "5.00", "CXL-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/payment-requests/{}/cancel", pr["id"].as_str().unwrap()),
        None,
    )
    .await;
    let shown = app.get(&page).await;
    assert!(shown.body.contains("This payment request was canceled"));
    assert!(!shown.body.contains("name=\"cardNumber\""));
    let r = payer.submit(&page, &card_fields("4242424242424242")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        app.get_request(&p, pr["id"].as_str().unwrap()).await["attemptCount"],
        0
    );
});

/// Twenty payers press Pay at the same moment: exactly one payment completes. (Each pays from
/// an address of its own, and the per-card limit is off: attempts in flight count as declines
/// until they are approved, so twenty at once with one card would meet it first.)
async fn race(app: TestApp) {
    let app = app.reconfigured(|c| c.limits.declines_per_card = None);
    let p = app.partner().await;
    let pr = app.create_request(&p, "99.00", "RACE-1").await;
    let page = pay_path(&pr);
    let app = Arc::new(app);
    let mut payers = Vec::new();
    for _ in 0..20 {
        let mut payer = Payer::new(&app);
        payer.open(&page).await;
        payers.push((payer.cookie.clone().unwrap(), payer.token.clone().unwrap()));
    }
    let mut tasks = Vec::new();
    for (n, (cookie, token)) in payers.into_iter().enumerate() {
        let app = app.clone();
        let page = page.clone();
        tasks.push(tokio::spawn(async move {
            let mut payer = Payer::from(&app, &format!("198.51.100.{}", n + 1));
            payer.cookie = Some(cookie);
            payer.token = Some(token);
            payer
                .submit(&page, &card_fields("4242424242424242"))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let ok = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    let conflict = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!(ok, 1, "{}: {statuses:?}", app.backend);
    assert_eq!(conflict, 19, "{}: {statuses:?}", app.backend);
    let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["attemptCount"], 1);
    let events = app
        .store
        .list_events(
            &p.partner.id,
            None,
            &kassa_store::PageRequest {
                limit: 100,
                starting_after: None,
            },
        )
        .await
        .unwrap();
    let kassa_store::Page::Items { data, .. } = events else {
        panic!()
    };
    assert_eq!(
        data.iter()
            .filter(|e| e.event_type == "payment.completed")
            .count(),
        1
    );
}

on_both_backends!(
    twenty_simultaneous_payments_complete_once,
    processor = SandboxProcessor::with_latency(Duration::from_millis(50)),
    |app| {
        race(app).await;
    }
);

#[tokio::test]
async fn database_file_holds_no_card_number_or_cvc() {
    let app = TestApp::sqlite().await;
    let p = app.partner().await;
    let pr = app.create_request(&p, "12.00", "PCI-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let number = "4000056655665556";
    let cvc = "8317";
    let r = payer
        .submit(
            &page,
            &[
                ("method", "card"),
                ("cardholderName", "Jo"),
                ("cardNumber", number),
                ("expiry", "12/30"),
                ("cvc", cvc),
                ("postalCode", "94107"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let pr2 = app.create_request(&p, "12.00", "PCI-2").await;
    let mut payer = Payer::new(&app);
    let account = "000123456789";
    payer.pay_ach(&pay_path(&pr2), account).await;
    let db = app.db_path.clone().unwrap();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 10_000, "read the database files");
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(number), "card number found in the database");
    assert!(
        !contains(&format!("cvc={cvc}")) && !contains(&format!("\"{cvc}\"")),
        "CVC found in the database"
    );
    assert!(!contains(cvc), "CVC digits found in the database");
    assert!(!contains(account), "account number found in the database");
    assert!(contains("5556"), "last 4 are kept");
}

/// While the processor is deciding, the page says a payment is in progress and takes no other.
async fn attempt_in_flight(app: TestApp) {
    let p = app.partner().await;
    let pr = app.create_request(&p, "15.00", "FLIGHT-1").await;
    let page = pay_path(&pr);
    let app = Arc::new(app);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let (cookie, token) = (payer.cookie.clone(), payer.token.clone());
    let slow = {
        let app = app.clone();
        let page = page.clone();
        tokio::spawn(async move {
            let mut payer = Payer::new(&app);
            payer.cookie = cookie;
            payer.token = token;
            payer
                .submit(&page, &card_fields("4242424242424242"))
                .await
                .status
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let shown = app.get(&page).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body.contains("A payment is being processed"),
        "{}: {}",
        app.backend,
        shown.body
    );
    assert!(!shown.body.contains("name=\"cardNumber\""));
    let second = payer.submit(&page, &card_fields("5555555555554444")).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{}/cancel", pr["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "payment_in_progress");
    assert_eq!(slow.await.unwrap(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_request(&p, pr["id"].as_str().unwrap()).await["status"],
        "completed"
    );
}

on_both_backends!(
    page_during_an_attempt_in_flight,
    processor = SandboxProcessor::with_latency(Duration::from_millis(600)),
    |app| {
        attempt_in_flight(app).await;
    }
);

on_both_backends!(failed_attempts_per_link_at_a_configured_limit, |app| {
    let app = app.reconfigured(|c| {
        c.limits.failed_attempts_per_link = kassa_core::limit::Rate::parse("3/1h").unwrap();
    });
    let p = app.partner().await;
    let pr = app.create_request(&p, "2.00", "CARDTEST-3").await;
    let page = pay_path(&pr);
    let cards = ["4000000000000002", "4000000000009995", "4000000000000069"];
    for (n, card) in cards.iter().enumerate() {
        let mut payer = Payer::from(&app, &format!("198.51.100.{}", n + 1));
        assert_eq!(
            payer.pay_card(&page, card).await.status,
            StatusCode::PAYMENT_REQUIRED
        );
    }
    let mut payer = Payer::from(&app, "198.51.100.9");
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("Too many failed attempts"), "{}", r.body);
    assert_eq!(r.header("retry-after").as_deref(), Some("3600"));
    // An hour later the link takes payments again.
    app.advance(Duration::from_secs(3601));
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
});

on_both_backends!(wrong_methods_get_clear_errors, |app| {
    let p = app.partner().await;
    let r = app
        .api(&p.key, Method::DELETE, "/v1/payment-requests", None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["error"]["code"], "method_not_allowed");
    let r = app
        .send(
            axum::http::Request::delete(format!(
                "/p/{}/pay/pr_000000000000000000000000",
                p.partner.slug
            ))
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.body.contains("<html"), "{}", r.body);
    let r = app.get("/nowhere").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("<html"));
});

on_both_backends!(failed_attempts_per_link_are_bounded, |app| {
    // One card, one payer: the per-card and per-IP decline limits would stop them first.
    let app = app.reconfigured(|c| {
        c.limits.declines_per_card = None;
        c.limits.declines_per_ip = None;
    });
    let p = app.partner().await;
    let pr = app.create_request(&p, "2.00", "CARDTEST-1").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    for _ in 0..kassa_core::payment_request::MAX_FAILED_ATTEMPTS {
        assert_eq!(
            payer.pay_card(&page, "4000000000000002").await.status,
            StatusCode::PAYMENT_REQUIRED
        );
    }
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Too many failed attempts"), "{}", r.body);
    let after = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "open");
    assert_eq!(
        after["attemptCount"],
        kassa_core::payment_request::MAX_FAILED_ATTEMPTS
    );
    // An hour later the payer may try again, and pay.
    app.advance(Duration::from_secs(3601));
    let r = payer.pay_card(&page, "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.get_request(&p, pr["id"].as_str().unwrap()).await["status"],
        "completed"
    );
});

/// A payer who gives up mid-payment (the connection drops, so axum drops the handler) does not
/// cut the attempt: it still completes and is recorded.
async fn disconnect_mid_payment(app: TestApp) {
    let p = app.partner().await;
    let pr = app.create_request(&p, "33.00", "DISCONNECT-1").await;
    let page = pay_path(&pr);
    let app = Arc::new(app);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let submit = {
        let app = app.clone();
        let page = page.clone();
        let (cookie, token) = (payer.cookie.clone(), payer.token.clone());
        async move {
            let mut payer = Payer::new(&app);
            payer.cookie = cookie;
            payer.token = token;
            payer.submit(&page, &card_fields("4242424242424242")).await
        }
    };
    // The client goes away while the processor is deciding.
    assert!(tokio::time::timeout(Duration::from_millis(150), submit)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_millis(800)).await;
    let done = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{}", app.backend);
    assert!(app
        .get(&page)
        .await
        .body
        .contains("This payment has already been completed"));
}

on_both_backends!(
    a_disconnect_mid_payment_still_records_it,
    processor = SandboxProcessor::with_latency(Duration::from_millis(400)),
    |app| {
        disconnect_mid_payment(app).await;
    }
);

on_both_backends!(abandoned_attempts_are_recovered_from_the_processor, |app| {
    use kassa_core::clock::Clock;
    use kassa_core::id::{PaymentId, PaymentMethodId, PaymentRequestId, VaultEntryId};
    use kassa_processor::{ChargeRequest, Instrument};
    use kassa_store::{MethodDetails, NewAttempt, NewPaymentMethod, NewVaultEntry};
    let p = app.partner().await;
    let attempt = || NewAttempt {
        payment_id: PaymentId::generate(),
        method: NewPaymentMethod {
            id: PaymentMethodId::generate(),
            holder_name: Some("Jo".into()),
            owner: Default::default(),
            last4: "4242".into(),
            fingerprint: "fp".into(),
            details: MethodDetails::Card {
                brand: kassa_core::card::CardBrand::Visa,
                exp_month: 12,
                exp_year: 2030,
                postal_code: None,
            },
            vault: NewVaultEntry {
                id: VaultEntryId::generate(),
                nonce: vec![0; 12],
                ciphertext: vec![1, 2, 3],
            },
        },
        failed_limit: kassa_core::payment_request::FAILED_ATTEMPT_LIMIT,
        ach_authorization: None,
        payer_email: None,
    };
    // Two attempts whose process "died": one after the processor approved, one before it was asked.
    let charged = app.create_request(&p, "10.00", "ABANDON-1").await;
    let never = app.create_request(&p, "10.00", "ABANDON-2").await;
    let a = attempt();
    let b = attempt();
    let now = app.clock.now();
    for (pr, at) in [(&charged, &a), (&never, &b)] {
        let id = PaymentRequestId::parse(pr["id"].as_str().unwrap()).unwrap();
        let begun = app
            .store
            .begin_attempt(&p.partner.id, &id, at, now)
            .await
            .unwrap();
        assert!(matches!(begun, kassa_store::BeginOutcome::Started { .. }));
    }
    let card = kassa_core::card::CardNumber::parse("4242424242424242").unwrap();
    app.processor
        .charge(ChargeRequest {
            payment_id: &a.payment_id,
            amount: kassa_core::money::Money::new(1000, kassa_core::money::Currency::Usd),
            instrument: Instrument::Card {
                number: &card,
                expiry: kassa_core::card::Expiry {
                    month: 12,
                    year: 2030,
                },
                cvc: None,
                postal_code: None,
            },
            holder_name: None,
            mandate: None,
        })
        .await
        .unwrap();
    // Too early: left alone (the request may still be deciding).
    app.app.housekeeping().await.unwrap();
    assert_eq!(
        app.get_request(&p, charged["id"].as_str().unwrap()).await["status"],
        "open"
    );
    let page = app.get(&pay_path(&charged)).await;
    assert!(page.body.contains("A payment is being processed"));
    app.advance(Duration::from_secs(6 * 60));
    app.app.housekeeping().await.unwrap();
    // The processor's approval is recorded; the attempt it never saw fails and frees its link.
    let done = app.get_request(&p, charged["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["paymentId"], a.payment_id.as_str());
    let freed = app.get_request(&p, never["id"].as_str().unwrap()).await;
    assert_eq!(freed["status"], "open");
    let failed = app.get_payment(&p, b.payment_id.as_str()).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failureCode"], "processing_error");
    let mut payer = Payer::new(&app);
    assert_eq!(
        payer
            .pay_card(&pay_path(&never), "4242424242424242")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
});

on_both_backends!(control_characters_in_the_form_are_refused, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "4.00", "FORM-NUL").await;
    let page = pay_path(&pr);
    let mut payer = Payer::new(&app);
    payer.open(&page).await;
    let r = payer
        .submit(
            &page,
            &[
                ("method", "card"),
                ("cardholderName", "Jo\u{0}"),
                ("cardNumber", "4242424242424242"),
                ("expiry", "12/30"),
                ("cvc", "123"),
                ("postalCode", "941\u{0}07"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("postalCode-error") && r.body.contains("cardholderName-error"));
    assert_eq!(
        app.get_request(&p, pr["id"].as_str().unwrap()).await["attemptCount"],
        0
    );
});

// The bare address says what the server is and links to the dashboard's sign-in and the API's
// document, in the house style — not the payer's "page not found".
on_both_backends!(the_root_is_a_plain_landing_page, |app| {
    let r = app.get("/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("This is a Kassa server"), "{}", r.body);
    assert!(r.body.contains("href=\"/dashboard/login\""), "{}", r.body);
    assert!(r.body.contains("href=\"/v1/openapi.json\""), "{}", r.body);
    assert!(r.body.contains("/static/kassa.css"), "{}", r.body);
    assert!(
        !r.body.contains("payment page does not exist"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("Secure payment"), "{}", r.body);
    // Only `/` itself: anything else unknown is still not found.
    assert_eq!(app.get("/nothing-here").await.status, StatusCode::NOT_FOUND);
});

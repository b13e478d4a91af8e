//! End to end through Kassa's own API with a partner on Stripe (docs/api.md §10): the real
//! connector talks to a stateful in-process Stripe stand-in (`common::stripe_standin`), so these
//! tests check what reaches "Stripe", what Kassa records from each kind of answer (approvals,
//! declines, 5xx, timeouts, garbage), recovery across a restart, and Stripe's signed webhooks —
//! on both storage backends.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::stripe_standin::{event, Fault, StripeStandin, SECRET_KEY, WEBHOOK_SECRET};
use common::*;
use kassa_core::clock::Clock;
use kassa_core::processor::Connector;
use kassa_server::processors::Credentials;
use serde_json::{json, Value};

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030"}})
}

fn body(number: &str, amount: &str) -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace", "paymentMethod": card(number),
           "invoice": {"invoiceLineItems": [{"name": "x", "value": amount, "valueType": "Standard"}]}})
}

/// A partner on Stripe at a fresh stand-in.
async fn on_stripe(app: &TestApp) -> (TestPartner, StripeStandin) {
    let stripe = StripeStandin::start().await;
    let p = app.partner().await;
    app.use_processor(
        &p,
        Connector::Stripe,
        &stripe.uri(),
        Credentials {
            secret_key: Some(SECRET_KEY.into()),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            ..Default::default()
        },
    )
    .await;
    (p, stripe)
}

async fn post(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Resp {
    app.api(&p.key, Method::POST, path, Some(body)).await
}

async fn created(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Value {
    let r = post(app, p, path, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {}", app.backend, r.body);
    r.json()
}

async fn balance(app: &TestApp, p: &TestPartner) -> (String, String) {
    let b = app
        .api(&p.key, Method::GET, "/v1/balance", None)
        .await
        .json();
    (
        b["available"].as_str().unwrap().to_string(),
        b["pending"].as_str().unwrap().to_string(),
    )
}

async fn events(app: &TestApp, p: &TestPartner, kind: &str) -> Vec<Value> {
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/events?type={kind}&limit=100"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["data"].as_array().unwrap().clone()
}

async fn hook(app: &TestApp, slug: &str, body: &str, signature: &str) -> Resp {
    app.send(
        Request::post(format!("/hooks/stripe/{slug}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Stripe-Signature", signature)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().unix_timestamp()
}

fn reference(payment: &Value) -> String {
    assert_eq!(payment["processor"]["connector"], "stripe", "{payment}");
    payment["processor"]["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no reference: {payment}"))
        .to_string()
}

on_both_backends!(a_card_sale_is_approved_at_stripe, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "12.34"),
    )
    .await;
    assert_eq!(paid["status"], "completed", "{paid}");
    let pi = reference(&paid);
    assert!(pi.starts_with("pi_"), "{pi}");
    let at_stripe = stripe.intent(&pi);
    assert_eq!(at_stripe["status"], "succeeded");
    assert_eq!(at_stripe["amount"], 1234);
    assert_eq!(at_stripe["metadata"]["kassa_id"], paid["id"]);
    assert_eq!(
        app.get_payment(&p, paid["id"].as_str().unwrap()).await["processor"],
        paid["processor"]
    );
    assert_eq!(stripe.intents_for(paid["id"].as_str().unwrap()).len(), 1);
    let (available, pending) = balance(&app, &p).await;
    let total = kassa_core::money::parse_amount(&available).unwrap()
        + kassa_core::money::parse_amount(&pending).unwrap();
    assert_eq!(total, 1234);
    assert_eq!(events(&app, &p, "payment.completed").await.len(), 1);
});

on_both_backends!(a_decline_fails_with_the_mapped_code, |app| {
    let (p, stripe) = on_stripe(&app).await;
    for (number, code) in [
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000002", "card_declined"),
        ("4000000000000069", "expired_card"),
    ] {
        let paid = created(&app, &p, "/v1/payments/sale", body(number, "5.00")).await;
        assert_eq!(paid["status"], "failed", "{number}: {paid}");
        assert_eq!(paid["failureCode"], code, "{number}");
        // The declined PaymentIntent is recorded as the reference.
        let pi = reference(&paid);
        assert_eq!(stripe.intent(&pi)["status"], "requires_payment_method");
    }
    assert_eq!(balance(&app, &p).await, ("0.00".into(), "0.00".into()));
    assert_eq!(events(&app, &p, "payment.failed").await.len(), 3);
    assert!(events(&app, &p, "payment.completed").await.is_empty());
});

on_both_backends!(a_5xx_then_success_charges_and_posts_once, |app| {
    let (p, stripe) = on_stripe(&app).await;
    stripe.disrupt("POST", "/v1/payment_intents", Fault::ServerError);
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "20.00"),
    )
    .await;
    assert_eq!(paid["status"], "completed", "{paid}");
    let id = paid["id"].as_str().unwrap();
    // Sent twice with the same key, decided once.
    assert_eq!(stripe.count("POST", "/v1/payment_intents").await, 2);
    assert_eq!(stripe.intents_for(id).len(), 1);
    assert_eq!(
        reference(&paid),
        stripe.intents_for(id)[0]["id"].as_str().unwrap()
    );
    let b = app.store.balances(&p.partner.id).await.unwrap();
    assert_eq!(b.available + b.pending, 2000, "{b:?}");
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
    assert_eq!(events(&app, &p, "payment.completed").await.len(), 1);
});

on_both_backends!(
    a_timeout_stays_pending_and_the_same_key_does_not_charge_again,
    |app| {
        // The processor gets half the recovery window: 1 s.
        let app = app.reconfigured(|c| c.recovery.attempt_timeout = Duration::from_secs(2));
        let (p, stripe) = on_stripe(&app).await;
        stripe.disrupt(
            "POST",
            "/v1/payment_intents",
            Fault::Late(Duration::from_secs(3)),
        );
        let headers = [("Idempotency-Key", "sale-timeout-1")];
        let first = app
            .api_with(
                &p.key,
                Method::POST,
                "/v1/payments/sale",
                Some(body("4242424242424242", "7.00")),
                &headers,
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let first = first.json();
        assert_eq!(first["status"], "pending", "{first}");
        let id = first["id"].as_str().unwrap().to_string();
        // The client retries with its key: the same payment, nothing sent again.
        let again = app
            .api_with(
                &p.key,
                Method::POST,
                "/v1/payments/sale",
                Some(body("4242424242424242", "7.00")),
                &headers,
            )
            .await;
        assert_eq!(again.json()["id"], id.as_str(), "{}", again.body);
        assert_eq!(stripe.count("POST", "/v1/payment_intents").await, 1);
        assert_eq!(balance(&app, &p).await, ("0.00".into(), "0.00".into()));
        // Recovery, once the window has passed, asks Stripe and records what it decided, once.
        app.advance(Duration::from_secs(3));
        app.app.housekeeping().await.unwrap();
        let payment = app.get_payment(&p, &id).await;
        assert_eq!(payment["status"], "completed", "{payment}");
        assert_eq!(
            reference(&payment),
            stripe.intents_for(&id)[0]["id"].as_str().unwrap()
        );
        app.advance(Duration::from_secs(3));
        app.app.housekeeping().await.unwrap();
        assert_eq!(stripe.intents_for(&id).len(), 1);
        assert_eq!(events(&app, &p, "payment.completed").await.len(), 1);
        let b = app.store.balances(&p.partner.id).await.unwrap();
        assert_eq!(b.available + b.pending, 700, "{b:?}");
    }
);

on_both_backends!(
    an_unreadable_answer_is_pending_until_recovery_after_a_restart,
    |app| {
        let (p, stripe) = on_stripe(&app).await;
        // Every attempt of the call gets garbage.
        for _ in 0..3 {
            stripe.disrupt("POST", "/v1/payment_intents", Fault::Garbage);
        }
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            body("4242424242424242", "9.99"),
        )
        .await;
        assert_eq!(paid["status"], "pending", "{paid}");
        assert_eq!(paid["failureCode"], Value::Null);
        let id = paid["id"].as_str().unwrap().to_string();
        assert_eq!(stripe.intents_for(&id).len(), 1, "Stripe decided it once");
        // Too early: recovery leaves it alone.
        app.app.housekeeping().await.unwrap();
        assert_eq!(app.get_payment(&p, &id).await["status"], "pending");
        // A new process on the same database and the same Stripe.
        let app = app.restarted();
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        let payment = app.get_payment(&p, &id).await;
        assert_eq!(payment["status"], "completed", "{payment}");
        assert_eq!(
            reference(&payment),
            stripe.intents_for(&id)[0]["id"].as_str().unwrap()
        );
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        assert_eq!(stripe.intents_for(&id).len(), 1);
        assert_eq!(events(&app, &p, "payment.completed").await.len(), 1);
        let b = app.store.balances(&p.partner.id).await.unwrap();
        assert_eq!(b.available + b.pending, 999, "{b:?}");
        assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
    }
);

on_both_backends!(recovery_records_a_decline_found_at_stripe, |app| {
    let (p, stripe) = on_stripe(&app).await;
    for _ in 0..3 {
        stripe.disrupt("POST", "/v1/payment_intents", Fault::Garbage);
    }
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4000000000009995", "3.00"),
    )
    .await;
    assert_eq!(paid["status"], "pending");
    let id = paid["id"].as_str().unwrap().to_string();
    app.advance(Duration::from_secs(301));
    app.app.housekeeping().await.unwrap();
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    assert_eq!(payment["failureCode"], "insufficient_funds");
    assert_eq!(balance(&app, &p).await, ("0.00".into(), "0.00".into()));
});

on_both_backends!(a_partial_capture_captures_that_much_at_stripe, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let auth = created(
        &app,
        &p,
        "/v1/payments/authorization",
        body("4242424242424242", "100.00"),
    )
    .await;
    assert_eq!(auth["status"], "authorized", "{auth}");
    let auth_id = auth["id"].as_str().unwrap();
    let held = stripe.intents_for(auth_id);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["status"], "requires_capture");
    assert_eq!(held[0]["capture_method"], "manual");
    let captured = created(
        &app,
        &p,
        &format!("/v1/payments/capture/{auth_id}"),
        json!({"amount": "40.00"}),
    )
    .await;
    assert_eq!(captured["status"], "completed", "{captured}");
    assert_eq!(captured["amount"], "40.00");
    let pi = held[0]["id"].as_str().unwrap();
    assert_eq!(reference(&captured), pi);
    let at_stripe = stripe.intent(pi);
    assert_eq!(at_stripe["status"], "succeeded");
    assert_eq!(at_stripe["amount_received"], 4000);
    assert_eq!(at_stripe["metadata"]["kassa_capture_id"], captured["id"]);
    // Once only.
    let again = post(
        &app,
        &p,
        &format!("/v1/payments/capture/{auth_id}"),
        json!({}),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert_eq!(
        stripe
            .count("POST", &format!("/v1/payment_intents/{pi}/capture"))
            .await,
        1
    );
    let b = app.store.balances(&p.partner.id).await.unwrap();
    assert_eq!(b.available + b.pending, 4000, "{b:?}");
});

on_both_backends!(a_reverse_cancels_the_payment_intent, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let auth = created(
        &app,
        &p,
        "/v1/payments/authorization",
        body("4242424242424242", "30.00"),
    )
    .await;
    let auth_id = auth["id"].as_str().unwrap();
    let pi = stripe.intents_for(auth_id)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/authorization/{auth_id}/reverse"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "reversed");
    app.run_jobs().await;
    assert_eq!(stripe.intent(&pi)["status"], "canceled");
    // Reversed is final: no capture reaches Stripe.
    let capture = post(
        &app,
        &p,
        &format!("/v1/payments/capture/{auth_id}"),
        json!({}),
    )
    .await;
    assert_eq!(
        capture.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        capture.body
    );
    assert_eq!(
        stripe
            .count("POST", &format!("/v1/payment_intents/{pi}/capture"))
            .await,
        0
    );
    assert_eq!(balance(&app, &p).await, ("0.00".into(), "0.00".into()));
});

on_both_backends!(refunds_reach_stripe_and_too_much_is_refused, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "50.00"),
    )
    .await;
    let id = paid["id"].as_str().unwrap();
    let pi = reference(&paid);
    let refund = created(
        &app,
        &p,
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": "20.00"}),
    )
    .await;
    assert_eq!(refund["status"], "succeeded", "{refund}");
    let at_stripe = stripe.refunds();
    assert_eq!(at_stripe.len(), 1);
    assert_eq!(at_stripe[0]["payment_intent"], pi.as_str());
    assert_eq!(at_stripe[0]["amount"], 2000);
    assert_eq!(at_stripe[0]["metadata"]["kassa_id"], refund["id"]);
    // More than is left: Kassa refuses before asking.
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": "30.01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "refund_exceeds_available");
    assert_eq!(stripe.count("POST", "/v1/refunds").await, 1);
    assert_eq!(
        app.get_payment(&p, id).await["status"],
        "partially_refunded"
    );
    assert_eq!(app.get_payment(&p, id).await["refundedAmount"], "20.00");
    // Stripe refuses what Kassa would allow (refunded there behind Kassa's back): failed.
    stripe
        .state
        .lock()
        .unwrap()
        .refunds
        .push(json!({"id": "re_elsewhere", "object": "refund",
        "amount": 3000, "payment_intent": pi, "status": "succeeded", "metadata": {}}));
    let refused = created(&app, &p, &format!("/v1/payments/{id}/refunds"), json!({})).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let payment = app.get_payment(&p, id).await;
    assert_eq!(payment["refundedAmount"], "20.00", "{payment}");
    let b = app.store.balances(&p.partner.id).await.unwrap();
    assert_eq!(b.available + b.pending, 3000, "{b:?}");
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
});

/// Pays a payment request by bank debit on the pay page; the payment's id.
async fn ach_on_the_pay_page(app: &TestApp, p: &TestPartner, amount: &str) -> String {
    let pr = app.create_request(p, amount, "ACH-1").await;
    let mut payer = Payer::new(app);
    let r = payer.pay_ach(&pay_path(&pr), "000123456789").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.get_request(p, pr["id"].as_str().unwrap()).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string()
}

on_both_backends!(a_bank_debit_clears_by_webhook_like_the_sandbox, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let id = ach_on_the_pay_page(&app, &p, "80.00").await;
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(payment["status"], "pending", "{payment}");
    let pi = reference(&payment);
    let at_stripe = stripe.intent(&pi);
    assert_eq!(at_stripe["status"], "processing");
    assert_eq!(
        at_stripe["payment_method_types"],
        json!(["us_bank_account"])
    );
    assert_eq!(balance(&app, &p).await, ("0.00".into(), "80.00".into()));

    // The same debit on the sandbox, cleared there.
    let sandbox = app.partner().await;
    let sandbox_id = ach_on_the_pay_page(&app, &sandbox, "80.00").await;
    let r = app
        .api(
            &sandbox.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{sandbox_id}/settle"),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    app.run_jobs().await;

    let succeeded = stripe.set_intent(&pi, |pi| {
        pi["status"] = json!("succeeded");
        pi["amount_received"] = pi["amount"].clone();
    });
    let (body, signature) = event(
        "evt_ach_ok",
        "payment_intent.succeeded",
        succeeded,
        now(&app),
    );
    let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["duplicate"], false);
    app.run_jobs().await;
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(payment["status"], "completed", "{payment}");
    assert_eq!(balance(&app, &p).await, balance(&app, &sandbox).await);
    assert_eq!(
        app.get_payment(&sandbox, &sandbox_id).await["status"],
        payment["status"]
    );
    assert_eq!(
        events(&app, &p, "payment.completed").await.len(),
        events(&app, &sandbox, "payment.completed").await.len()
    );
    // The same event again is acknowledged and applied once.
    let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["duplicate"], true);
    app.run_jobs().await;
    assert_eq!(balance(&app, &p).await, balance(&app, &sandbox).await);
    assert_eq!(events(&app, &p, "payment.completed").await.len(), 1);
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
});

on_both_backends!(a_failed_bank_debit_is_returned_with_an_r_code, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let id = ach_on_the_pay_page(&app, &p, "25.00").await;
    let pi = reference(&app.get_payment(&p, &id).await);
    let failed = stripe.set_intent(&pi, |pi| {
        pi["status"] = json!("requires_payment_method");
        pi["last_payment_error"] = json!({"type": "invalid_request_error", "code": "bank_account_closed",
            "payment_method": {"id": "pm_x", "type": "us_bank_account"}});
    });
    let (body, signature) = event(
        "evt_ach_fail",
        "payment_intent.payment_failed",
        failed,
        now(&app),
    );
    let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.run_jobs().await;
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    assert_eq!(payment["failureCode"], "R02", "{payment}");
    assert_eq!(balance(&app, &p).await, ("0.00".into(), "0.00".into()));
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
});

on_both_backends!(a_badly_signed_webhook_is_400_and_changes_nothing, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let id = ach_on_the_pay_page(&app, &p, "15.00").await;
    let pi = reference(&app.get_payment(&p, &id).await);
    let succeeded = stripe.set_intent(&pi, |pi| pi["status"] = json!("succeeded"));
    let (body, signature) = event(
        "evt_forged",
        "payment_intent.succeeded",
        succeeded,
        now(&app),
    );
    let slug = p.partner.slug.as_str();
    let wrong_secret =
        kassa_processor::stripe::sign_webhook("whsec_other", now(&app), body.as_bytes());
    let tampered = body.replace("15", "16");
    // Signed properly, but ten minutes old (a replay): refused too.
    let stale =
        kassa_processor::stripe::sign_webhook(WEBHOOK_SECRET, now(&app) - 600, body.as_bytes());
    for (body, signature) in [
        (body.as_str(), wrong_secret.as_str()),
        (tampered.as_str(), signature.as_str()),
        (body.as_str(), stale.as_str()),
        (body.as_str(), "t=1,v1=00"),
        (body.as_str(), ""),
    ] {
        let r = hook(&app, slug, body, signature).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{signature}: {}", r.body);
    }
    app.run_jobs().await;
    assert_eq!(app.get_payment(&p, &id).await["status"], "pending");
    assert_eq!(balance(&app, &p).await, ("0.00".into(), "15.00".into()));
    // The event was not noted: once signed properly it applies.
    let r = hook(&app, slug, &body, &signature).await;
    assert_eq!(r.json()["duplicate"], false, "{}", r.body);
    app.run_jobs().await;
    assert_eq!(app.get_payment(&p, &id).await["status"], "completed");
});

on_both_backends!(unknown_events_are_acknowledged_and_ignored, |app| {
    let (p, _stripe) = on_stripe(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "10.00"),
    )
    .await;
    let before = app.get_payment(&p, paid["id"].as_str().unwrap()).await;
    let (body, signature) = event(
        "evt_plan",
        "plan.created",
        json!({"id": "plan_1", "object": "plan"}),
        now(&app),
    );
    let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["received"], true);
    assert_eq!(
        app.get_payment(&p, paid["id"].as_str().unwrap()).await,
        before
    );
});

on_both_backends!(a_webhook_for_a_partner_without_stripe_is_404, |app| {
    let sandbox = app.partner().await;
    let (body, signature) = event("evt_1", "plan.created", json!({"id": "plan_1"}), now(&app));
    let r = hook(&app, sandbox.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = hook(&app, "no-such-partner", &body, &signature).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
});

on_both_backends!(a_hosted_page_card_payment_goes_through_stripe, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let pr = app.create_request(&p, "33.00", "CARD-1").await;
    let mut payer = Payer::new(&app);
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let request = app.get_request(&p, pr["id"].as_str().unwrap()).await;
    assert_eq!(request["status"], "completed", "{request}");
    let payment = app
        .get_payment(&p, request["paymentId"].as_str().unwrap())
        .await;
    assert_eq!(payment["status"], "completed");
    let pi = reference(&payment);
    assert_eq!(stripe.intent(&pi)["amount"], 3300);
    assert_eq!(stripe.intent(&pi)["status"], "succeeded");
});

on_both_backends!(a_refund_whose_answer_is_lost_is_recovered_once, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "40.00"),
    )
    .await;
    let id = paid["id"].as_str().unwrap();
    for _ in 0..3 {
        stripe.disrupt("POST", "/v1/refunds", Fault::ServerError);
    }
    let refund = created(
        &app,
        &p,
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": "15.00"}),
    )
    .await;
    assert_eq!(refund["status"], "pending", "{refund}");
    let refund_id = refund["id"].as_str().unwrap().to_string();
    // Stripe made it once, whatever Kassa heard.
    assert_eq!(stripe.refunds().len(), 1);
    let app = app.restarted();
    app.advance(Duration::from_secs(301));
    app.app.housekeeping().await.unwrap();
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/refunds/{refund_id}"),
            None,
        )
        .await;
    assert_eq!(r.json()["status"], "succeeded", "{}", r.body);
    app.advance(Duration::from_secs(301));
    app.app.housekeeping().await.unwrap();
    assert_eq!(stripe.refunds().len(), 1, "recovery never refunds again");
    assert_eq!(app.get_payment(&p, id).await["refundedAmount"], "15.00");
    let b = app.store.balances(&p.partner.id).await.unwrap();
    assert_eq!(b.available + b.pending, 2500, "{b:?}");
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
});

on_both_backends!(
    a_capture_whose_answer_is_lost_is_recovered_from_the_hold,
    |app| {
        let (p, stripe) = on_stripe(&app).await;
        let auth = created(
            &app,
            &p,
            "/v1/payments/authorization",
            body("4242424242424242", "60.00"),
        )
        .await;
        let auth_id = auth["id"].as_str().unwrap();
        let pi = stripe.intents_for(auth_id)[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let capture_path = format!("/v1/payment_intents/{pi}/capture");
        for _ in 0..3 {
            stripe.disrupt("POST", &capture_path, Fault::ServerError);
        }
        let captured = created(
            &app,
            &p,
            &format!("/v1/payments/capture/{auth_id}"),
            json!({"amount": "25.00"}),
        )
        .await;
        assert_eq!(captured["status"], "pending", "{captured}");
        assert_eq!(stripe.intent(&pi)["amount_received"], 2500);
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        let payment = app.get_payment(&p, captured["id"].as_str().unwrap()).await;
        assert_eq!(payment["status"], "completed", "{payment}");
        assert_eq!(reference(&payment), pi);
        assert_eq!(
            stripe.count("POST", &capture_path).await,
            3,
            "sent once, retried with its key"
        );
        let b = app.store.balances(&p.partner.id).await.unwrap();
        assert_eq!(b.available + b.pending, 2500, "{b:?}");
    }
);

on_both_backends!(
    an_authorization_whose_answer_is_lost_is_found_by_search,
    |app| {
        let (p, stripe) = on_stripe(&app).await;
        for _ in 0..3 {
            stripe.disrupt("POST", "/v1/payment_intents", Fault::Garbage);
        }
        let auth = created(
            &app,
            &p,
            "/v1/payments/authorization",
            body("4242424242424242", "22.00"),
        )
        .await;
        assert_eq!(auth["status"], "pending", "{auth}");
        let auth_id = auth["id"].as_str().unwrap();
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        let r = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payments/authorization/{auth_id}"),
                None,
            )
            .await;
        let found = r.json();
        assert_eq!(found["status"], "authorized", "{}", r.body);
        assert_eq!(
            found["processor"]["reference"],
            stripe.intents_for(auth_id)[0]["id"]
        );
        let captured = created(
            &app,
            &p,
            &format!("/v1/payments/capture/{auth_id}"),
            json!({}),
        )
        .await;
        assert_eq!(captured["status"], "completed", "{captured}");
    }
);

on_both_backends!(a_webhook_settles_a_card_payment_left_pending, |app| {
    let (p, stripe) = on_stripe(&app).await;
    for _ in 0..3 {
        stripe.disrupt("POST", "/v1/payment_intents", Fault::Garbage);
    }
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "19.00"),
    )
    .await;
    assert_eq!(paid["status"], "pending");
    let id = paid["id"].as_str().unwrap().to_string();
    let pi = stripe.intents_for(&id)[0].clone();
    let (body, signature) = event(
        "evt_card_ok",
        "payment_intent.succeeded",
        pi.clone(),
        now(&app),
    );
    let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(payment["status"], "completed", "{payment}");
    assert_eq!(reference(&payment), pi["id"].as_str().unwrap());
    // Recovery finds nothing left to do.
    app.advance(Duration::from_secs(301));
    app.app.housekeeping().await.unwrap();
    assert_eq!(events(&app, &p, "payment.completed").await.len(), 1);
    let b = app.store.balances(&p.partner.id).await.unwrap();
    assert_eq!(b.available + b.pending, 1900, "{b:?}");
});

on_both_backends!(a_webhook_cannot_touch_another_partners_payment, |app| {
    let (victim, victim_stripe) = on_stripe(&app).await;
    let (attacker, _attacker_stripe) = on_stripe(&app).await;
    for _ in 0..3 {
        victim_stripe.disrupt("POST", "/v1/payment_intents", Fault::Garbage);
    }
    let paid = created(
        &app,
        &victim,
        "/v1/payments/sale",
        body("4242424242424242", "8.00"),
    )
    .await;
    let id = paid["id"].as_str().unwrap().to_string();
    let pi = victim_stripe.intents_for(&id)[0].clone();
    // Signed with the attacker's own (shared test) secret, naming the victim's payment.
    let (body, signature) = event("evt_cross", "payment_intent.succeeded", pi, now(&app));
    let r = hook(&app, attacker.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.get_payment(&victim, &id).await["status"], "pending");
    assert_eq!(balance(&app, &victim).await, ("0.00".into(), "0.00".into()));
    assert_eq!(
        balance(&app, &attacker).await,
        ("0.00".into(), "0.00".into())
    );
});

on_both_backends!(a_partner_that_leaves_stripe_still_refunds_there, |app| {
    let (p, stripe) = on_stripe(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "35.00"),
    )
    .await;
    let id = paid["id"].as_str().unwrap();
    app.use_processor(
        &p,
        Connector::Sandbox,
        "http://unused.invalid",
        Credentials::default(),
    )
    .await;
    let later = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "5.00"),
    )
    .await;
    assert_eq!(later["processor"]["connector"], "sandbox", "{later}");
    let refund = created(&app, &p, &format!("/v1/payments/{id}/refunds"), json!({})).await;
    assert_eq!(refund["status"], "succeeded", "{refund}");
    let at_stripe = stripe.refunds();
    assert_eq!(at_stripe.len(), 1);
    assert_eq!(at_stripe[0]["amount"], 3500);
    assert_eq!(at_stripe[0]["payment_intent"], reference(&paid).as_str());
});

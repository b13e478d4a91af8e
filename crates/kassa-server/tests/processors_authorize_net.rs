//! End to end through Kassa's own API with a partner on Authorize.net (docs/api.md §10): the
//! real connector talks to a stateful in-process stand-in of Authorize.net's JSON API
//! (`common::anet_standin`, answers with a byte-order mark), so these tests check what Kassa
//! records from approvals, declines, reviews and 5xx (never resent: Authorize.net has no
//! idempotency key), recovery through the reporting calls, refunds of settled transactions and
//! the signed notifications — on both storage backends.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::anet_standin::{
    notification, sign, AnetStandin, Fault, SIGNATURE_KEY, TRANSACTION_KEY,
};
use common::*;
use kassa_core::processor::Connector;
use kassa_processor::authorize_net::short_id;
use kassa_server::processors::Credentials;
use serde_json::{json, Value};

const AUTH_CAPTURE: &str = "createTransactionRequest/authCaptureTransaction";

fn body(number: &str, amount: &str) -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace",
           "paymentMethod": {"billingFirstName": "Ada", "billingLastName": "Lovelace",
                             "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030"}},
           "invoice": {"invoiceLineItems": [{"name": "x", "value": amount, "valueType": "Standard"}]}})
}

async fn on_anet(app: &TestApp) -> (TestPartner, AnetStandin) {
    let anet = AnetStandin::start().await;
    let p = app.partner().await;
    app.use_processor(
        &p,
        Connector::AuthorizeNet,
        &anet.uri(),
        Credentials {
            transaction_key: Some(TRANSACTION_KEY.into()),
            signature_key: Some(SIGNATURE_KEY.into()),
            ..Default::default()
        },
    )
    .await;
    (p, anet)
}

async fn post(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Resp {
    app.api(&p.key, Method::POST, path, Some(body)).await
}

async fn created(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Value {
    let r = post(app, p, path, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {}", app.backend, r.body);
    r.json()
}

async fn hook(app: &TestApp, slug: &str, body: &str, signature: &str) -> Resp {
    app.send(
        Request::post(format!("/hooks/authorize-net/{slug}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-ANET-Signature", signature)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

fn reference(payment: &Value) -> String {
    assert_eq!(
        payment["processor"]["connector"], "authorize_net",
        "{payment}"
    );
    payment["processor"]["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no reference: {payment}"))
        .to_string()
}

async fn money(app: &TestApp, p: &TestPartner) -> i64 {
    let b = app.store.balances(&p.partner.id).await.unwrap();
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
    b.available + b.pending
}

on_both_backends!(an_approved_sale_carries_the_transaction_id, |app| {
    let (p, anet) = on_anet(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "25.00"),
    )
    .await;
    assert_eq!(paid["status"], "completed", "{paid}");
    let id = paid["id"].as_str().unwrap();
    let trans = reference(&paid);
    let tx = anet.tx(&trans);
    assert_eq!(tx.description, id);
    assert_eq!(tx.invoice, short_id(id));
    assert_eq!(tx.settle_amount, 2500);
    assert_eq!(anet.count(AUTH_CAPTURE).await, 1);
    assert_eq!(money(&app, &p).await, 2500);
});

on_both_backends!(a_decline_fails_the_payment, |app| {
    let (p, anet) = on_anet(&app).await;
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4000000000000002", "25.00"),
    )
    .await;
    assert_eq!(paid["status"], "failed", "{paid}");
    assert_eq!(paid["failureCode"], "card_declined");
    assert_eq!(anet.tx(&reference(&paid)).status, "declined");
    assert_eq!(money(&app, &p).await, 0);
});

on_both_backends!(
    held_for_review_is_pending_until_the_fraud_approval_notification,
    |app| {
        let (p, anet) = on_anet(&app).await;
        anet.disrupt(Fault::HeldForReview);
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            body("4242424242424242", "40.00"),
        )
        .await;
        assert_eq!(paid["status"], "pending", "{paid}");
        let id = paid["id"].as_str().unwrap().to_string();
        let trans = anet.txs_for(&id)[0].trans_id.clone();
        assert_eq!(money(&app, &p).await, 0);
        // A forged approval changes nothing.
        let (body, good) = notification(
            "n-fraud-1",
            "net.authorize.payment.fraud.approved",
            1,
            &trans,
        );
        let slug = p.partner.slug.as_str();
        for bad in [
            sign("wrong-key", &body),
            "sha512=00".to_string(),
            String::new(),
            good.replace("sha512=", "sha256="),
        ] {
            let r = hook(&app, slug, &body, &bad).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        }
        assert_eq!(app.get_payment(&p, &id).await["status"], "pending");
        // The reviewer approves; Authorize.net notifies and the connector reads the transaction.
        anet.set_status(&trans, "capturedPendingSettlement");
        let before = anet.count("getTransactionDetailsRequest").await;
        let r = hook(&app, slug, &body, &good).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["duplicate"], false);
        assert!(anet.count("getTransactionDetailsRequest").await > before);
        let payment = app.get_payment(&p, &id).await;
        assert_eq!(payment["status"], "completed", "{payment}");
        assert_eq!(reference(&payment), trans);
        assert_eq!(money(&app, &p).await, 4000);
        // Delivered again: applied once.
        let r = hook(&app, slug, &body, &good).await;
        assert_eq!(r.json()["duplicate"], true, "{}", r.body);
        assert_eq!(money(&app, &p).await, 4000);
        // Nothing was ever sent twice.
        assert_eq!(anet.count(AUTH_CAPTURE).await, 1);
    }
);

on_both_backends!(
    a_server_error_is_pending_never_resent_and_recovered_by_reporting,
    |app| {
        let (p, anet) = on_anet(&app).await;
        anet.disrupt(Fault::ServerError);
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            body("4242424242424242", "18.00"),
        )
        .await;
        assert_eq!(paid["status"], "pending", "{paid}");
        let id = paid["id"].as_str().unwrap().to_string();
        assert_eq!(anet.count(AUTH_CAPTURE).await, 1, "never resent");
        assert_eq!(money(&app, &p).await, 0);
        // A restart, then recovery after the window: found in the unsettled list by invoice number.
        let app = app.restarted();
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        let payment = app.get_payment(&p, &id).await;
        assert_eq!(payment["status"], "completed", "{payment}");
        assert_eq!(reference(&payment), anet.txs_for(&id)[0].trans_id);
        assert!(anet.count("getUnsettledTransactionListRequest").await >= 1);
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        assert_eq!(anet.count(AUTH_CAPTURE).await, 1, "recovery never charges");
        assert_eq!(money(&app, &p).await, 1800);
    }
);

on_both_backends!(recovery_finds_a_settled_transaction_in_a_batch, |app| {
    let (p, anet) = on_anet(&app).await;
    anet.disrupt(Fault::ServerError);
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "11.00"),
    )
    .await;
    let id = paid["id"].as_str().unwrap().to_string();
    let trans = anet.txs_for(&id)[0].trans_id.clone();
    anet.set_status(&trans, "settledSuccessfully");
    app.advance(Duration::from_secs(301));
    app.app.housekeeping().await.unwrap();
    assert_eq!(app.get_payment(&p, &id).await["status"], "completed");
    assert!(anet.count("getTransactionListRequest").await >= 1);
    assert_eq!(money(&app, &p).await, 1100);
});

on_both_backends!(
    a_transaction_authorize_net_never_made_fails_in_recovery,
    |app| {
        let (p, anet) = on_anet(&app).await;
        anet.disrupt(Fault::ServerError);
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            body("4242424242424242", "6.00"),
        )
        .await;
        let id = paid["id"].as_str().unwrap().to_string();
        // Lost at Authorize.net after all.
        anet.state.lock().unwrap().transactions.clear();
        app.advance(Duration::from_secs(301));
        app.app.housekeeping().await.unwrap();
        let payment = app.get_payment(&p, &id).await;
        assert_eq!(payment["status"], "failed", "{payment}");
        assert_eq!(money(&app, &p).await, 0);
        assert_eq!(anet.count(AUTH_CAPTURE).await, 1);
    }
);

on_both_backends!(
    a_settled_transaction_is_refunded_and_an_unsettled_partial_is_not,
    |app| {
        let (p, anet) = on_anet(&app).await;
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            body("4242424242424242", "50.00"),
        )
        .await;
        let id = paid["id"].as_str().unwrap();
        let trans = reference(&paid);
        // Before settlement a partial refund cannot be made: failed, nothing refunded.
        let early = created(
            &app,
            &p,
            &format!("/v1/payments/{id}/refunds"),
            json!({"amount": "10.00"}),
        )
        .await;
        assert_eq!(early["status"], "failed", "{early}");
        // The partner is told why, in the processor's words.
        let why = early["failureMessage"].as_str().unwrap();
        assert!(
            why.starts_with("The processor refused the refund: ") && why.contains("settle"),
            "{early}"
        );
        assert_eq!(app.get_payment(&p, id).await["refundedAmount"], "0.00");
        assert_eq!(money(&app, &p).await, 5000);
        // Settled: refunded against the transaction.
        anet.set_status(&trans, "settledSuccessfully");
        let refund = created(
            &app,
            &p,
            &format!("/v1/payments/{id}/refunds"),
            json!({"amount": "20.00"}),
        )
        .await;
        assert_eq!(refund["status"], "succeeded", "{refund}");
        let refunds: Vec<_> = anet.txs_for(refund["id"].as_str().unwrap());
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0].ref_trans_id.as_deref(), Some(trans.as_str()));
        assert_eq!(refunds[0].settle_amount, 2000);
        assert_eq!(
            app.get_payment(&p, id).await["status"],
            "partially_refunded"
        );
        // More than is left: refused by Kassa before asking.
        let r = post(
            &app,
            &p,
            &format!("/v1/payments/{id}/refunds"),
            json!({"amount": "30.01"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(
            anet.count("createTransactionRequest/refundTransaction")
                .await,
            2
        );
        assert_eq!(money(&app, &p).await, 3000);
    }
);

on_both_backends!(a_partial_capture_and_a_reverse_reach_authorize_net, |app| {
    let (p, anet) = on_anet(&app).await;
    let auth = created(
        &app,
        &p,
        "/v1/payments/authorization",
        body("4242424242424242", "90.00"),
    )
    .await;
    assert_eq!(auth["status"], "authorized", "{auth}");
    let auth_id = auth["id"].as_str().unwrap();
    let hold = anet.txs_for(auth_id)[0].clone();
    assert_eq!(hold.status, "authorizedPendingCapture");
    let captured = created(
        &app,
        &p,
        &format!("/v1/payments/capture/{auth_id}"),
        json!({"amount": "35.00"}),
    )
    .await;
    assert_eq!(captured["status"], "completed", "{captured}");
    assert_eq!(anet.tx(&hold.trans_id).settle_amount, 3500);
    assert_eq!(anet.tx(&hold.trans_id).status, "capturedPendingSettlement");
    assert_eq!(money(&app, &p).await, 3500);

    let other = created(
        &app,
        &p,
        "/v1/payments/authorization",
        body("4242424242424242", "12.00"),
    )
    .await;
    let other_id = other["id"].as_str().unwrap();
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/authorization/{other_id}/reverse"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.run_jobs().await;
    assert_eq!(anet.txs_for(other_id)[0].status, "voided");
    assert_eq!(money(&app, &p).await, 3500);
});

on_both_backends!(
    a_notification_for_a_partner_without_authorize_net_is_404,
    |app| {
        let sandbox = app.partner().await;
        let (body, signature) = notification(
            "n-1",
            "net.authorize.payment.authcapture.created",
            1,
            "60001",
        );
        let r = hook(&app, sandbox.partner.slug.as_str(), &body, &signature).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
);

on_both_backends!(
    notifications_kassa_does_not_act_on_are_acknowledged,
    |app| {
        let (p, anet) = on_anet(&app).await;
        let (body, signature) = notification("n-2", "net.authorize.customer.created", 1, "1");
        let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["received"], true);
        assert_eq!(anet.count("getTransactionDetailsRequest").await, 0);
    }
);

on_both_backends!(held_for_review_then_declined_fails_the_payment, |app| {
    let (p, anet) = on_anet(&app).await;
    anet.disrupt(Fault::HeldForReview);
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        body("4242424242424242", "40.00"),
    )
    .await;
    assert_eq!(paid["status"], "pending", "{paid}");
    let id = paid["id"].as_str().unwrap().to_string();
    let trans = anet.txs_for(&id)[0].trans_id.clone();
    // Recovery while it is still under review leaves it pending.
    app.advance(Duration::from_secs(301));
    app.app.housekeeping().await.unwrap();
    assert_eq!(app.get_payment(&p, &id).await["status"], "pending");
    anet.set_status(&trans, "declined");
    let (body, signature) = notification(
        "n-fraud-2",
        "net.authorize.payment.fraud.declined",
        2,
        &trans,
    );
    let r = hook(&app, p.partner.slug.as_str(), &body, &signature).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    assert_eq!(payment["failureCode"], "card_declined");
    assert_eq!(money(&app, &p).await, 0);
});

on_both_backends!(
    a_notification_cannot_touch_another_partners_payment,
    |app| {
        let (victim, victim_anet) = on_anet(&app).await;
        let (attacker, attacker_anet) = on_anet(&app).await;
        victim_anet.disrupt(Fault::HeldForReview);
        let paid = created(
            &app,
            &victim,
            "/v1/payments/sale",
            body("4242424242424242", "9.00"),
        )
        .await;
        let id = paid["id"].as_str().unwrap().to_string();
        let victims = victim_anet.txs_for(&id)[0].clone();
        // The attacker's Authorize.net shows a transaction describing the victim's payment.
        attacker_anet
            .state
            .lock()
            .unwrap()
            .transactions
            .push(common::anet_standin::Tx {
                status: "capturedPendingSettlement".into(),
                ..victims.clone()
            });
        let (body, signature) = notification(
            "n-cross",
            "net.authorize.payment.fraud.approved",
            1,
            &victims.trans_id,
        );
        let r = hook(&app, attacker.partner.slug.as_str(), &body, &signature).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(app.get_payment(&victim, &id).await["status"], "pending");
        assert_eq!(money(&app, &victim).await, 0);
        assert_eq!(money(&app, &attacker).await, 0);
    }
);

on_both_backends!(
    a_refund_whose_answer_is_lost_is_recovered_by_reporting,
    |app| {
        let (p, anet) = on_anet(&app).await;
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            body("4242424242424242", "30.00"),
        )
        .await;
        let id = paid["id"].as_str().unwrap();
        anet.set_status(&reference(&paid), "settledSuccessfully");
        anet.disrupt(Fault::ServerError);
        let refund = created(
            &app,
            &p,
            &format!("/v1/payments/{id}/refunds"),
            json!({"amount": "12.00"}),
        )
        .await;
        assert_eq!(refund["status"], "pending", "{refund}");
        let refund_id = refund["id"].as_str().unwrap().to_string();
        assert_eq!(
            anet.txs_for(&refund_id).len(),
            1,
            "made once at Authorize.net"
        );
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
        assert_eq!(
            anet.count("createTransactionRequest/refundTransaction")
                .await,
            1,
            "never resent"
        );
        assert_eq!(app.get_payment(&p, id).await["refundedAmount"], "12.00");
        assert_eq!(money(&app, &p).await, 1800);
    }
);

// Authorize.net says what became of an eCheck only when asked: housekeeping asks about each
// pending debit an hour after it was submitted, then every 6 hours (`money/debits.rs`).
on_both_backends!(
    an_echeck_clears_or_returns_once_authorize_net_settles_it,
    |app| {
        let (p, anet) = on_anet(&app).await;
        let paid = created(&app, &p, "/v1/payments/sale", json!({"firstName": "Ada", "lastName": "Lovelace",
        "paymentMethod": {"billingFirstName": "Ada", "billingLastName": "Lovelace",
                          "ach": {"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Checking"}},
        "invoice": {"invoiceLineItems": [{"name": "x", "value": "60.00", "valueType": "Standard"}]}})).await;
        assert_eq!(paid["status"], "pending", "{paid}");
        let id = paid["id"].as_str().unwrap().to_string();
        let trans = reference(&paid);
        assert!(anet.tx(&trans).echeck);
        // Authorize.net says a debit cleared only when asked (`debit_status`); its notification
        // for an eCheck changes nothing by design. Once the transaction settles, Kassa's sweeps
        // must learn it.
        anet.set_status(&trans, "settledSuccessfully");
        for _ in 0..3 {
            app.advance(Duration::from_secs(3600));
            app.app.housekeeping().await.unwrap();
            app.run_jobs().await;
        }
        let payment = app.get_payment(&p, &id).await;
        assert_eq!(payment["status"], "completed", "{payment}");
        // One that comes back is failed with a return code, and its request reopened.
        let returned = created(&app, &p, "/v1/payments/sale", json!({"firstName": "Ada", "lastName": "Lovelace",
        "paymentMethod": {"billingFirstName": "Ada", "billingLastName": "Lovelace",
                          "ach": {"routingNumber": "110000000", "accountNumber": "000111111116", "accountType": "Checking"}},
        "invoice": {"invoiceLineItems": [{"name": "y", "value": "61.00", "valueType": "Standard"}]}})).await;
        let returned_id = returned["id"].as_str().unwrap().to_string();
        // Not asked about before it is due: an hour after it was submitted.
        app.app.housekeeping().await.unwrap();
        assert_eq!(app.get_payment(&p, &returned_id).await["status"], "pending");
        anet.set_status(&reference(&returned), "returnedItem");
        app.advance(Duration::from_secs(3601));
        app.app.housekeeping().await.unwrap();
        let payment = app.get_payment(&p, &returned_id).await;
        assert_eq!(payment["status"], "failed", "{payment}");
        assert!(
            payment["failureCode"].as_str().unwrap_or("").contains('R'),
            "{payment}"
        );
    }
);

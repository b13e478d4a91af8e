//! Money movement (docs/api.md §4): refunds, fees, the ledger, balance and payouts — through the real
//! app, on both backends, plus a property test over random sequences of money events.

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_server::admin;
use serde_json::{json, Value};

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030"}})
}

fn ach(account: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "ach": {"routingNumber": "110000000", "accountNumber": account, "accountType": "Checking"}})
}

async fn sale(app: &TestApp, p: &TestPartner, method: Value, amount: &str) -> Value {
    let r = app
        .api(&p.key, Method::POST, "/v1/payments/sale", Some(json!({
            "firstName": "A", "lastName": "B", "paymentMethod": method,
            "invoice": {"invoiceLineItems": [{"name": "x", "value": amount, "valueType": "Standard"}]}})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

async fn refund(app: &TestApp, p: &TestPartner, payment: &str, body: Value) -> Resp {
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/payments/{payment}/refunds"),
        Some(body),
    )
    .await
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

async fn payouts_now(app: &TestApp, p: &TestPartner) -> Vec<Value> {
    let made = admin::run_payouts(
        app.store.as_ref(),
        Some(&p.partner.id),
        app_now(app),
        app_now(app),
    )
    .await
    .unwrap();
    made.into_iter()
        .map(|po| serde_json::to_value(po).unwrap())
        .collect()
}

fn app_now(app: &TestApp) -> time::OffsetDateTime {
    use kassa_core::clock::Clock;
    app.clock.now()
}

fn code(r: &Resp) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

on_both_backends!(refunds_full_partial_and_refused, |app| {
    let p = app.partner().await;
    let paid = sale(&app, &p, card("4242424242424242"), "100.00").await;
    let id = paid["id"].as_str().unwrap();
    let r = refund(
        &app,
        &p,
        id,
        json!({"amount": "30.00", "reason": "Damaged"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = r.json();
    assert!(first["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(first["object"], "refund");
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["amount"], "30.00");
    assert_eq!(first["reason"], "Damaged");
    assert_eq!(first["payoutId"], Value::Null);
    let p1 = app.get_payment(&p, id).await;
    assert_eq!(p1["status"], "partially_refunded");
    assert_eq!(p1["refundedAmount"], "30.00");
    let r = refund(&app, &p, id, json!({"amount": "70.01"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&r), "refund_exceeds_available");
    // The rest, with no amount.
    let rest = refund(&app, &p, id, json!({})).await.json();
    assert_eq!(rest["amount"], "70.00");
    assert_eq!(app.get_payment(&p, id).await["status"], "refunded");
    let r = refund(&app, &p, id, json!({"amount": "0.01"})).await;
    assert_eq!(code(&r), "refund_exceeds_available");
    // Bad input changes nothing.
    let other = sale(&app, &p, card("4242424242424242"), "10.00").await;
    let oid = other["id"].as_str().unwrap();
    let r = refund(&app, &p, oid, json!({"amount": "-1", "reason": "x\u{0}"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["errors"].as_array().unwrap().len(), 2);
    assert_eq!(app.get_payment(&p, oid).await["refundedAmount"], "0.00");
    // A declined payment has nothing to refund; unknown and foreign payments are not found.
    let declined = sale(&app, &p, card("4000000000000002"), "10.00").await;
    let r = refund(&app, &p, declined["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(code(&r), "payment_not_settled");
    assert_eq!(
        refund(&app, &p, "pay_nope", json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    let stranger = app.partner().await;
    assert_eq!(
        refund(&app, &stranger, id, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    // Reading them back.
    let list = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/refunds?paymentId={id}"),
            None,
        )
        .await
        .json();
    assert_eq!(
        ids(&list),
        [rest["id"].as_str().unwrap(), first["id"].as_str().unwrap()]
    );
    let one = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/refunds/{}", first["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(one.json(), first);
    assert_eq!(
        app.api(
            &stranger.key,
            Method::GET,
            &format!("/v1/refunds/{}", first["id"].as_str().unwrap()),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
});

on_both_backends!(an_ach_payment_is_refundable_only_once_cleared, |app| {
    let p = app.partner().await;
    let debit = sale(&app, &p, ach("000123456789"), "40.00").await;
    let id = debit["id"].as_str().unwrap();
    assert_eq!(
        balance(&app, &p).await,
        ("0.00".to_string(), "40.00".to_string())
    );
    let r = refund(&app, &p, id, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(code(&r), "payment_not_settled");
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/sandbox/payments/{id}/settle"),
        None,
    )
    .await;
    assert_eq!(
        balance(&app, &p).await,
        ("40.00".to_string(), "0.00".to_string())
    );
    let r = refund(&app, &p, id, json!({"amount": "15.00"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        balance(&app, &p).await,
        ("25.00".to_string(), "0.00".to_string())
    );
    // A returned debit takes back what was pending.
    let returned = sale(&app, &p, ach("000222222227"), "5.00").await;
    assert_eq!(balance(&app, &p).await.1, "5.00");
    app.api(
        &p.key,
        Method::POST,
        &format!(
            "/v1/sandbox/payments/{}/return",
            returned["id"].as_str().unwrap()
        ),
        Some(json!({"code": "R01"})),
    )
    .await;
    assert_eq!(
        balance(&app, &p).await,
        ("25.00".to_string(), "0.00".to_string())
    );
});

on_both_backends!(
    a_refund_is_deducted_from_the_following_batch_and_negatives_carry,
    |app| {
        let p = app.partner().await;
        let a = sale(&app, &p, card("4242424242424242"), "100.00").await;
        let first = payouts_now(&app, &p).await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0]["status"], "paid");
        assert_eq!(first[0]["amount"], "100.00");
        assert_eq!(
            first[0]["items"],
            json!([{"type": "payment", "sourceId": a["id"], "amount": "100.00"}])
        );
        assert_eq!(balance(&app, &p).await.0, "0.00");
        // Nothing new: no payout.
        assert!(payouts_now(&app, &p).await.is_empty());

        // A refund after the payout comes out of the next batch, with the new payment.
        app.advance(std::time::Duration::from_secs(3600));
        let r = refund(
            &app,
            &p,
            a["id"].as_str().unwrap(),
            json!({"amount": "30.00"}),
        )
        .await
        .json();
        let b = sale(&app, &p, card("4242424242424242"), "50.00").await;
        let second = payouts_now(&app, &p).await;
        assert_eq!(second[0]["amount"], "20.00");
        assert_eq!(
            second[0]["items"],
            json!([
                {"type": "refund", "sourceId": r["id"], "amount": "-30.00"},
                {"type": "payment", "sourceId": b["id"], "amount": "50.00"},
            ])
        );
        let r_after = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/refunds/{}", r["id"].as_str().unwrap()),
                None,
            )
            .await
            .json();
        assert_eq!(r_after["payoutId"], second[0]["id"]);

        // A refund larger than what came in: the batch is negative, no money moves, it carries.
        app.advance(std::time::Duration::from_secs(3600));
        let big = refund(
            &app,
            &p,
            b["id"].as_str().unwrap(),
            json!({"amount": "50.00"}),
        )
        .await
        .json();
        sale(&app, &p, card("4242424242424242"), "10.00").await;
        let third = payouts_now(&app, &p).await;
        assert_eq!(third[0]["status"], "carried_forward");
        assert_eq!(third[0]["amount"], "-40.00");
        assert_eq!(balance(&app, &p).await.0, "-40.00");
        let big_after = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/refunds/{}", big["id"].as_str().unwrap()),
                None,
            )
            .await
            .json();
        assert_eq!(
            big_after["payoutId"], third[0]["id"],
            "in the first batch cut after it"
        );
        app.advance(std::time::Duration::from_secs(3600));
        let d = sale(&app, &p, card("4242424242424242"), "100.00").await;
        let fourth = payouts_now(&app, &p).await;
        assert_eq!(fourth[0]["status"], "paid");
        assert_eq!(fourth[0]["amount"], "60.00");
        assert_eq!(
            fourth[0]["items"],
            json!([
                {"type": "payment", "sourceId": d["id"], "amount": "100.00"},
                {"type": "carried_balance", "sourceId": third[0]["id"], "amount": "-40.00"},
            ])
        );
        assert_eq!(balance(&app, &p).await.0, "0.00");
        let list = app
            .api(&p.key, Method::GET, "/v1/payouts", None)
            .await
            .json();
        assert_eq!(ids(&list).len(), 4);
        let one = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payouts/{}", fourth[0]["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(one.json(), fourth[0]);
        let stranger = app.partner().await;
        assert_eq!(
            app.api(
                &stranger.key,
                Method::GET,
                &format!("/v1/payouts/{}", fourth[0]["id"].as_str().unwrap()),
                None
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
    }
);

on_both_backends!(fees_are_posted_per_payment_and_paid_out_net, |app| {
    let p = app.partner().await;
    admin::set_fees(
        app.store.as_ref(),
        &p.partner.id,
        admin::FeeChange {
            card_percent: Some("2.9".into()),
            card_fixed: Some("0.30".into()),
            ach_percent: Some("0.8".into()),
            ach_cap: Some("5.00".into()),
        },
        &operator(),
    )
    .await
    .unwrap();
    let a = sale(&app, &p, card("4242424242424242"), "100.00").await;
    let b = sale(&app, &p, ach("000123456789"), "1000.00").await;
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/sandbox/payments/{}/settle", b["id"].as_str().unwrap()),
        None,
    )
    .await;
    // 100.00 − 3.20 + 1000.00 − 5.00 (0.8% = 8.00, capped)
    assert_eq!(balance(&app, &p).await.0, "1091.80");
    let po = payouts_now(&app, &p).await;
    assert_eq!(po[0]["amount"], "1091.80");
    assert_eq!(
        po[0]["items"],
        json!([
            {"type": "payment", "sourceId": a["id"], "amount": "100.00"},
            {"type": "fee", "sourceId": a["id"], "amount": "-3.20"},
            {"type": "payment", "sourceId": b["id"], "amount": "1000.00"},
            {"type": "fee", "sourceId": b["id"], "amount": "-5.00"},
        ])
    );
});

on_both_backends!(fifty_simultaneous_refunds_never_exceed_the_capture, |app| {
    let p = app.partner().await;
    let paid = sale(&app, &p, card("4242424242424242"), "100.00").await;
    let id = paid["id"].as_str().unwrap().to_string();
    let router = app.router.clone();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let router = router.clone();
            let (key, id) = (p.key.clone(), id.clone());
            tokio::spawn(async move {
                use tower::ServiceExt;
                let amount = if i % 2 == 0 { "7.00" } else { "3.00" };
                let req = axum::http::Request::post(format!("/v1/payments/{id}/refunds"))
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        json!({"amount": amount}).to_string(),
                    ))
                    .unwrap();
                router.oneshot(req).await.unwrap().status()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status}"
        );
        if status == StatusCode::CREATED {
            created += 1;
        }
    }
    assert!(created > 0);
    let refunds = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/refunds?paymentId={id}&limit=100"),
            None,
        )
        .await
        .json();
    let total: i64 = refunds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| kassa_core::money::parse_amount(r["amount"].as_str().unwrap()).unwrap())
        .sum();
    assert!(total <= 10_000, "refunded {total} of 10000");
    assert_eq!(refunds["data"].as_array().unwrap().len(), created);
    let payment = app.get_payment(&p, &id).await;
    assert_eq!(
        kassa_core::money::parse_amount(payment["refundedAmount"].as_str().unwrap()).unwrap(),
        total
    );
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
});

// ------------------------------------------------------------------ the property test

#[derive(Debug, Clone)]
enum Op {
    CardSale(i64),
    AchSale(i64, bool),
    Settle(usize),
    Refund(usize, Option<i64>),
    Fees(i64, i64, i64, Option<i64>),
    Payout,
    Later,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (1i64..50_000).prop_map(Op::CardSale),
        2 => ((1i64..50_000), any::<bool>()).prop_map(|(a, r)| Op::AchSale(a, r)),
        2 => (0usize..10).prop_map(Op::Settle),
        3 => ((0usize..10), proptest::option::of(1i64..30_000)).prop_map(|(i, a)| Op::Refund(i, a)),
        1 => ((0i64..50_000), (0i64..100), (0i64..20_000), proptest::option::of(0i64..1_000)).prop_map(|(c, f, a, cap)| Op::Fees(c, f, a, cap)),
        2 => Just(Op::Payout),
        1 => Just(Op::Later),
    ]
}

fn minor(v: &Value) -> i64 {
    kassa_core::money::parse_amount(v.as_str().unwrap().trim_start_matches('-')).unwrap()
        * if v.as_str().unwrap().starts_with('-') {
            -1
        } else {
            1
        }
}

/// After every step: every posting set sums to zero; available + pending + paid out = captured −
/// refunded − fees; no item is in two payouts; a refund lands in the first payout cut after it.
async fn run_sequence(ops: Vec<Op>, behind: Behind) {
    run_sequence_on(TestApp::sqlite().await, ops.clone(), behind).await;
    if let Some(app) = TestApp::postgres().await {
        run_sequence_on(app, ops, behind).await;
    }
}

/// Which processor the partner's payments go through in the property test.
#[derive(Debug, Clone, Copy)]
enum Behind {
    Sandbox,
    /// The Stripe connector against `common::stripe_standin`; bank debits clear or come back
    /// by signed webhook.
    Stripe,
    /// The Authorize.net connector against `common::anet_standin`; settling marks the
    /// transaction settled there (its refunds need that).
    AuthorizeNet,
}

/// The stand-in a partner's processor talks to, kept alive for the sequence.
enum Standin {
    None,
    Stripe(common::stripe_standin::StripeStandin),
    Anet(common::anet_standin::AnetStandin),
}

async fn standin_for(app: &TestApp, p: &TestPartner, behind: Behind) -> Standin {
    use kassa_core::processor::Connector;
    use kassa_server::processors::Credentials;
    match behind {
        Behind::Sandbox => Standin::None,
        Behind::Stripe => {
            let s = common::stripe_standin::StripeStandin::start().await;
            app.use_processor(
                p,
                Connector::Stripe,
                &s.uri(),
                Credentials {
                    secret_key: Some(common::stripe_standin::SECRET_KEY.into()),
                    webhook_secret: Some(common::stripe_standin::WEBHOOK_SECRET.into()),
                    ..Default::default()
                },
            )
            .await;
            Standin::Stripe(s)
        }
        Behind::AuthorizeNet => {
            let a = common::anet_standin::AnetStandin::start().await;
            app.use_processor(
                p,
                Connector::AuthorizeNet,
                &a.uri(),
                Credentials {
                    transaction_key: Some(common::anet_standin::TRANSACTION_KEY.into()),
                    signature_key: Some(common::anet_standin::SIGNATURE_KEY.into()),
                    ..Default::default()
                },
            )
            .await;
            Standin::Anet(a)
        }
    }
}

/// Settles payment `id` the way its processor would: the sandbox's own endpoints, a Stripe
/// webhook for a pending bank debit, or settlement at Authorize.net.
async fn settle(app: &TestApp, p: &TestPartner, standin: &Standin, id: &str) {
    let pay = app.get_payment(p, id).await;
    let returned = pay["paymentMethod"]["last4"] == "2227";
    let reference = pay["processor"]["reference"].as_str().map(str::to_string);
    match standin {
        Standin::None => {
            if pay["status"] == "pending" {
                let (path, body) = if returned {
                    (
                        format!("/v1/sandbox/payments/{id}/return"),
                        Some(json!({"code": "R01"})),
                    )
                } else {
                    (format!("/v1/sandbox/payments/{id}/settle"), None)
                };
                app.api(&p.key, Method::POST, &path, body).await;
            }
        }
        Standin::Stripe(s) => {
            let (Some(pi), true) = (reference, pay["status"] == "pending") else {
                return;
            };
            let (kind, object) = if returned {
                let object = s.set_intent(&pi, |pi| {
                    pi["status"] = json!("requires_payment_method");
                    pi["last_payment_error"] = json!({"code": "no_account",
                        "payment_method": {"id": "pm_x", "type": "us_bank_account"}});
                });
                ("payment_intent.payment_failed", object)
            } else {
                let object = s.set_intent(&pi, |pi| {
                    pi["status"] = json!("succeeded");
                    pi["amount_received"] = pi["amount"].clone();
                });
                ("payment_intent.succeeded", object)
            };
            let (body, signature) = common::stripe_standin::event(
                &format!("evt_{id}"),
                kind,
                object,
                app_now(app).unix_timestamp(),
            );
            let r = app
                .send(
                    axum::http::Request::post(format!("/hooks/stripe/{}", p.partner.slug.as_str()))
                        .header("Stripe-Signature", signature)
                        .body(axum::body::Body::from(body))
                        .unwrap(),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        Standin::Anet(a) => {
            if let Some(trans) = reference {
                if a.tx(&trans).status == "capturedPendingSettlement" {
                    a.set_status(&trans, "settledSuccessfully");
                }
            }
        }
    }
}

async fn run_sequence_on(app: TestApp, ops: Vec<Op>, behind: Behind) {
    let p = app.partner().await;
    let standin = standin_for(&app, &p, behind).await;
    let mut payments: Vec<String> = Vec::new();
    let mut unpaid_refunds: BTreeSet<String> = BTreeSet::new();
    let mut seen_items: BTreeSet<(String, String)> = BTreeSet::new();
    for op in ops {
        match op {
            Op::CardSale(a) => {
                let paid = sale(
                    &app,
                    &p,
                    card("4242424242424242"),
                    &kassa_core::money::format_minor(a),
                )
                .await;
                payments.push(paid["id"].as_str().unwrap().to_string());
            }
            Op::AchSale(a, returned) => {
                let account = if returned {
                    "000222222227"
                } else {
                    "000123456789"
                };
                let paid = sale(&app, &p, ach(account), &kassa_core::money::format_minor(a)).await;
                payments.push(paid["id"].as_str().unwrap().to_string());
            }
            Op::Settle(i) => {
                if let Some(id) = payments.get(i) {
                    settle(&app, &p, &standin, id).await;
                }
            }
            Op::Refund(i, amount) => {
                if let Some(id) = payments.get(i) {
                    let body = match amount {
                        Some(a) => json!({"amount": kassa_core::money::format_minor(a)}),
                        None => json!({}),
                    };
                    let r = refund(&app, &p, id, body).await;
                    if r.status == StatusCode::CREATED {
                        match (r.json()["status"].as_str(), behind) {
                            (Some("succeeded"), _) => {
                                unpaid_refunds.insert(r.json()["id"].as_str().unwrap().to_string());
                            }
                            // Authorize.net refunds part of a payment only once it settled.
                            (Some("failed"), Behind::AuthorizeNet) => {}
                            (other, _) => panic!("refund {other:?} behind {behind:?}: {}", r.body),
                        }
                    } else {
                        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
                    }
                }
            }
            Op::Fees(card_e4, fixed, ach_e4, cap) => {
                let fees = kassa_core::fee::FeeSchedule {
                    card_percent: kassa_core::percent::Percent::from_e4(card_e4),
                    card_fixed: fixed,
                    ach_percent: kassa_core::percent::Percent::from_e4(ach_e4),
                    ach_cap: cap,
                };
                app.store
                    .set_fees(&p.partner.id, &fees, &operator())
                    .await
                    .unwrap();
            }
            Op::Payout => {
                for po in payouts_now(&app, &p).await {
                    let mut in_this = BTreeSet::new();
                    for item in po["items"].as_array().unwrap() {
                        let key = (
                            item["type"].as_str().unwrap().to_string(),
                            item["sourceId"].as_str().unwrap().to_string(),
                        );
                        assert!(seen_items.insert(key.clone()), "{key:?} in two payouts");
                        if key.0 == "refund" {
                            in_this.insert(key.1);
                        }
                    }
                    // Every refund made before this cut lands in it, and only those.
                    assert_eq!(
                        in_this, unpaid_refunds,
                        "refunds of the first payout cut after them"
                    );
                    unpaid_refunds.clear();
                }
            }
            Op::Later => app.advance(std::time::Duration::from_secs(3600)),
        }
        // The books balance after every step.
        assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
        let b = app.store.balances(&p.partner.id).await.unwrap();
        let list = app
            .api(&p.key, Method::GET, "/v1/payments?limit=100", None)
            .await
            .json();
        let mut captured = 0;
        let mut refunded = 0;
        for pay in list["data"].as_array().unwrap() {
            match pay["status"].as_str().unwrap() {
                "completed" | "partially_refunded" | "refunded" | "pending" => {
                    captured += minor(&pay["amount"])
                }
                _ => {}
            }
            refunded += minor(&pay["refundedAmount"]);
        }
        assert_eq!(
            b.available + b.pending + b.paid_out,
            captured - refunded - b.fees,
            "{b:?}"
        );
        assert!(b.paid_out >= 0 && b.fees >= 0 && b.pending >= 0);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
    #[test]
    fn the_books_always_balance(ops in proptest::collection::vec(op(), 1..30)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_sequence(ops, Behind::Sandbox));
    }
}

// The same books with the partner on a real connector behind its stand-in: fewer cases, as
// each step is a few HTTP calls.
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 6, ..Default::default() })]
    #[test]
    fn the_books_always_balance_on_stripe(ops in proptest::collection::vec(op(), 1..20)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_sequence(ops, Behind::Stripe));
    }

    #[test]
    fn the_books_always_balance_on_authorize_net(ops in proptest::collection::vec(op(), 1..20)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_sequence(ops, Behind::AuthorizeNet));
    }
}

on_both_backends!(the_daily_batch_is_a_durable_job_at_the_cutoff, |app| {
    let p = app.partner().await;
    // Housekeeping (any instance, any number of times) schedules the next cut-off once.
    app.app.housekeeping().await.unwrap();
    app.app.housekeeping().await.unwrap();
    let before = sale(&app, &p, card("4242424242424242"), "25.00").await;
    assert_eq!(app.run_jobs().await, 0, "nothing is due before midnight");
    // 2026-11-22 00:00 UTC is the default cut-off; its batch runs five minutes later, and a
    // payment after the cut-off waits for the next batch.
    app.advance(std::time::Duration::from_secs(12 * 3600 + 1));
    sale(&app, &p, card("4242424242424242"), "1.00").await;
    assert_eq!(
        app.run_jobs().await,
        0,
        "not yet: the grace after the cut-off"
    );
    app.advance(std::time::Duration::from_secs(5 * 60));
    let after = sale(&app, &p, card("4242424242424242"), "5.00").await;
    assert_eq!(app.run_jobs().await, 1);
    let list = app
        .api(&p.key, Method::GET, "/v1/payouts", None)
        .await
        .json();
    assert_eq!(ids(&list).len(), 1);
    let po = &list["data"][0];
    assert_eq!(po["status"], "paid");
    assert_eq!(po["amount"], "25.00");
    assert_eq!(po["cutoffAt"], "2026-11-22T00:00:00Z");
    assert_eq!(po["items"][0]["sourceId"], before["id"]);
    // The next day's batch was scheduled by the one that ran, and takes the later payment.
    app.app.housekeeping().await.unwrap();
    app.advance(std::time::Duration::from_secs(24 * 3600));
    assert_eq!(app.run_jobs().await, 1);
    let list = app
        .api(&p.key, Method::GET, "/v1/payouts", None)
        .await
        .json();
    assert_eq!(ids(&list).len(), 2);
    assert_eq!(list["data"][0]["amount"], "6.00");
    assert_eq!(list["data"][0]["items"][1]["sourceId"], after["id"]);
    assert_eq!(list["data"][0]["cutoffAt"], "2026-11-23T00:00:00Z");
});

/// The database itself refuses to rewrite the ledger or over-refund a payment (SQLite here; the
/// PostgreSQL migration installs the same guards as trigger functions).
#[tokio::test]
async fn the_database_keeps_the_ledger_append_only() {
    use sqlx::Connection;
    let app = TestApp::sqlite().await;
    let p = app.partner().await;
    sale(&app, &p, card("4242424242424242"), "10.00").await;
    let path = app.db_path.clone().unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_entries",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let err = sqlx::query("UPDATE payments SET refunded_amount = captured_amount + 1")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exceed"), "{err}");
}

on_both_backends!(a_refund_left_pending_by_a_crash_is_sent_again_once, |app| {
    let p = app.partner().await;
    let paid = sale(&app, &p, card("4242424242424242"), "30.00").await;
    let payment = kassa_core::id::PaymentId::parse(paid["id"].as_str().unwrap()).unwrap();
    // The process died after reserving the refund, before the processor was asked.
    let new = kassa_store::NewRefund {
        id: kassa_core::id::RefundId::generate(),
        amount: Some(kassa_core::money::Money::new(
            1_000,
            kassa_core::money::Currency::Usd,
        )),
        reason: None,
        idempotency_key: None,
    };
    let begun = app
        .store
        .begin_refund(
            &p.partner.id,
            &payment,
            &new,
            &kassa_core::audit::Caller::cli("test", app_now(&app)),
        )
        .await
        .unwrap();
    assert!(matches!(begun, kassa_store::RefundBegin::Started { .. }));
    let path = format!("/v1/refunds/{}", new.id);
    assert_eq!(
        app.api(&p.key, Method::GET, &path, None).await.json()["status"],
        "pending"
    );
    // Reserved: no more than the rest can be refunded meanwhile.
    assert_eq!(
        code(
            &refund(
                &app,
                &p,
                paid["id"].as_str().unwrap(),
                json!({"amount": "20.01"})
            )
            .await
        ),
        "refund_exceeds_available"
    );
    assert_eq!(
        balance(&app, &p).await.0,
        "30.00",
        "not posted before it succeeds"
    );
    app.advance(std::time::Duration::from_secs(6 * 60));
    app.app.housekeeping().await.unwrap();
    let done = app.api(&p.key, Method::GET, &path, None).await.json();
    assert_eq!(done["status"], "succeeded");
    assert_eq!(balance(&app, &p).await.0, "20.00");
    app.app.housekeeping().await.unwrap();
    assert_eq!(balance(&app, &p).await.0, "20.00", "recovered once");
    assert_eq!(app.store.unbalanced_ledger_sets().await.unwrap(), 0);
});

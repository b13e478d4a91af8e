//! The events API (docs/api.md §5): every change of the contract's list is an event, written with the
//! change, listed newest first, filtered by type, and another partner's events are never shown.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

async fn events(app: &TestApp, p: &TestPartner, query: &str) -> Value {
    let r = app
        .api(&p.key, Method::GET, &format!("/v1/events{query}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn types(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn card_sale(number: &str, amount: &str) -> Value {
    json!({"firstName": "A", "lastName": "B",
        "paymentMethod": {"billingFirstName": "A", "billingLastName": "B",
            "creditCard": {"paymentAccountNumber": number, "expirationDate": "1230"}},
        "invoice": {"invoiceLineItems": [{"name": "x", "value": amount, "valueType": "Standard"}]}})
}

on_both_backends!(every_change_of_the_contract_is_an_event, |app| {
    let p = app.partner().await;
    // Payment requests: created, canceled, completed (by card), pending then completed (bank).
    let canceled = app.create_request(&p, "5.00", "EV-CANCEL").await;
    app.api(
        &p.key,
        Method::POST,
        &format!(
            "/v1/payment-requests/{}/cancel",
            canceled["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    let card = app.create_request(&p, "10.00", "EV-CARD").await;
    let mut payer = Payer::new(&app);
    payer.pay_card(&pay_path(&card), "4000000000000002").await;
    payer.pay_card(&pay_path(&card), "4242424242424242").await;
    let bank = app.create_request(&p, "20.00", "EV-BANK").await;
    Payer::new(&app)
        .pay_ach(&pay_path(&bank), "000123456789")
        .await;
    let bank_payment = app.get_request(&p, bank["id"].as_str().unwrap()).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/sandbox/payments/{bank_payment}/settle"),
        None,
    )
    .await;
    // API: an authorization reversed, a sale refunded, a payout.
    let auth = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payments/authorization",
            Some(card_sale("4242424242424242", "7.00")),
        )
        .await
        .json();
    app.api(
        &p.key,
        Method::POST,
        &format!(
            "/v1/payments/authorization/{}/reverse",
            auth["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    let sale = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payments/sale",
            Some(card_sale("4242424242424242", "30.00")),
        )
        .await
        .json();
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/payments/{}/refunds", sale["id"].as_str().unwrap()),
        Some(json!({"amount": "3.00"})),
    )
    .await;
    kassa_server::admin::run_payouts(
        app.store.as_ref(),
        Some(&p.partner.id),
        start_time(),
        start_time(),
    )
    .await
    .unwrap();

    let all = events(&app, &p, "?limit=100").await;
    let seen = types(&all);
    for t in kassa_core::event::EVENT_TYPES {
        assert!(seen.iter().any(|s| s == t), "no {t} event in {seen:?}");
    }
    // Newest first: the payout is the last change.
    assert_eq!(seen[0], "payout.paid");
    let first = &all["data"][0];
    assert_eq!(first["object"], "event");
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    assert!(first["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(first["data"]["id"].as_str().unwrap().starts_with("po_"));

    // The declined attempt and the refund carry their objects as the API shows them.
    let failed = events(&app, &p, "?type=payment.failed").await;
    assert_eq!(types(&failed), ["payment.failed"]);
    assert_eq!(failed["data"][0]["data"]["failureCode"], "card_declined");
    let refunds = events(&app, &p, "?type=refund.created").await;
    assert_eq!(refunds["data"][0]["data"]["amount"], "3.00");
    let completed = events(&app, &p, "?type=payment_request.completed").await;
    assert_eq!(types(&completed).len(), 2, "card and bank requests");

    // One event by id; paging by startingAfter.
    let id = first["id"].as_str().unwrap();
    let one = app
        .api(&p.key, Method::GET, &format!("/v1/events/{id}"), None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(&one.json(), first);
    let page1 = events(&app, &p, "?limit=2").await;
    assert_eq!(page1["hasMore"], true);
    let after = page1["data"][1]["id"].as_str().unwrap();
    let page2 = events(&app, &p, &format!("?limit=2&startingAfter={after}")).await;
    assert_eq!(page2["data"][0]["id"], all["data"][2]["id"]);

    // Bad input and other partners.
    let bad = app
        .api(&p.key, Method::GET, "/v1/events?type=payment.*", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["errors"][0]["field"], "type");
    let unknown = app
        .api(&p.key, Method::GET, "/v1/events?colour=red", None)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let other = app.partner().await;
    assert!(types(&events(&app, &other, "").await).is_empty());
    assert_eq!(
        app.api(&other.key, Method::GET, &format!("/v1/events/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(
            &other.key,
            Method::GET,
            &format!("/v1/events?startingAfter={id}"),
            None
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(&format!("/v1/events/{id}")).await.status,
        StatusCode::UNAUTHORIZED
    );
});

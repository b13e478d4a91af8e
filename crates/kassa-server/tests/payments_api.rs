//! The one-time payment API (docs/api.md §3): sales, authorizations and captures, customers, stored
//! payment methods, invoice math and tax, listing — on both backends.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030", "securityCode": "123"}})
}

fn invoice(total: &str) -> Value {
    json!({"invoiceLineItems": [{"name": "Consulting", "value": total, "valueType": "Standard"}]})
}

async fn post(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Resp {
    app.api(&p.key, Method::POST, path, Some(body)).await
}

async fn created(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Value {
    let r = post(app, p, path, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
    r.json()
}

async fn get(app: &TestApp, p: &TestPartner, path: &str) -> Resp {
    app.api(&p.key, Method::GET, path, None).await
}

fn error_code(r: &Resp) -> String {
    r.json()["error"]["code"].as_str().unwrap().to_string()
}

on_both_backends!(
    a_card_sale_completes_and_its_card_can_be_charged_again,
    |app| {
        let p = app.partner().await;
        let paid = created(&app, &p, "/v1/payments/sale", json!({
        "firstName": "Ada", "lastName": "Lovelace", "merchantCustomerRefId": "C-1",
        "paymentMethod": card("4242424242424242"),
        "invoice": {"merchantInvoiceRefId": "A-1", "invoiceLineItems": [
            {"name": "Consulting", "description": "Two hours", "value": "121.00", "valueType": "Standard"}]}
    })).await;
        assert!(paid["id"].as_str().unwrap().starts_with("pay_"));
        assert_eq!(paid["object"], "payment");
        assert_eq!(paid["status"], "completed");
        assert_eq!(paid["source"], "api");
        assert_eq!(paid["amount"], "121.00");
        assert_eq!(paid["capturedAmount"], "121.00");
        assert_eq!(paid["refundedAmount"], "0.00");
        assert_eq!(
            paid["paymentMethod"],
            json!({"type": "card", "brand": "visa", "funding": "credit",
                                             "last4": "4242", "expMonth": 12, "expYear": 2030})
        );
        assert_eq!(paid["invoice"]["merchantInvoiceRefId"], "A-1");
        assert_eq!(paid["invoice"]["subtotal"], "121.00");
        assert_eq!(paid["invoice"]["taxAmount"], "0.00");
        assert_eq!(paid["invoice"]["total"], "121.00");
        assert!(paid["invoice"]["id"].as_str().unwrap().starts_with("inv_"));
        assert!(paid["completedAt"].is_string());
        assert!(
            !paid.to_string().contains("4242424242424242"),
            "no full card number in a response"
        );

        let customer = paid["customerId"].as_str().unwrap();
        let c = get(&app, &p, &format!("/v1/customers/{customer}"))
            .await
            .json();
        assert_eq!(c["firstName"], "Ada");
        assert_eq!(c["merchantCustomerRefId"], "C-1");

        // The card was vaulted: charge it again by paymentMethodId, for the same customer.
        let pm = paid["paymentMethodId"].as_str().unwrap();
        let stored = get(&app, &p, &format!("/v1/payment-methods/{pm}"))
            .await
            .json();
        assert_eq!(stored["object"], "payment_method");
        assert_eq!(stored["type"], "card");
        assert_eq!(stored["last4"], "4242");
        assert_eq!(stored["customerId"], customer);
        let again = created(
            &app,
            &p,
            "/v1/payments/sale",
            json!({
        "customerId": customer, "paymentMethodId": pm, "invoice": invoice("10.00")}),
        )
        .await;
        assert_eq!(again["status"], "completed");
        assert_eq!(again["amount"], "10.00");
        assert_eq!(again["paymentMethodId"], pm);

        // Another customer may not use it.
        let other = created(
            &app,
            &p,
            "/v1/customers",
            json!({"firstName": "Grace", "lastName": "Hopper"}),
        )
        .await;
        let r = post(
            &app,
            &p,
            "/v1/payments/sale",
            json!({
        "customerId": other["id"], "paymentMethodId": pm, "invoice": invoice("10.00")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"]["errors"][0]["code"], "customer_mismatch");

        // Deleted: gone, and no longer chargeable.
        let r = app
            .api(
                &p.key,
                Method::DELETE,
                &format!("/v1/payment-methods/{pm}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["deleted"], true);
        assert_eq!(
            get(&app, &p, &format!("/v1/payment-methods/{pm}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let r = app
            .api(
                &p.key,
                Method::DELETE,
                &format!("/v1/payment-methods/{pm}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = post(
            &app,
            &p,
            "/v1/payments/sale",
            json!({
        "customerId": customer, "paymentMethodId": pm, "invoice": invoice("10.00")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"]["errors"][0]["code"], "not_found");
        // The payments made with it keep their masked details.
        assert_eq!(
            app.get_payment(&p, paid["id"].as_str().unwrap()).await["paymentMethod"]["last4"],
            "4242"
        );
    }
);

on_both_backends!(declines_are_failed_payments_not_errors, |app| {
    let p = app.partner().await;
    for (number, code) in [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000000119", "processing_error"),
    ] {
        let paid = created(&app, &p, "/v1/payments/sale", json!({
            "firstName": "A", "lastName": "B", "paymentMethod": card(number), "invoice": invoice("5.00")})).await;
        assert_eq!(paid["status"], "failed", "{number}");
        assert_eq!(paid["failureCode"], code);
        assert!(paid["failureMessage"].is_string());
        assert_eq!(paid["capturedAmount"], "0.00");
    }
    let debit = created(&app, &p, "/v1/payments/sale", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4000056655665556"), "invoice": invoice("5.00")})).await;
    assert_eq!(debit["paymentMethod"]["funding"], "debit");
});

on_both_backends!(an_ach_sale_is_pending_until_it_clears_or_returns, |app| {
    let p = app.partner().await;
    let ach = |account: &str| {
        json!({"billingFirstName": "A", "billingLastName": "B",
        "ach": {"routingNumber": "110000000", "accountNumber": account, "accountType": "Savings"}})
    };
    let pending = created(&app, &p, "/v1/payments/sale", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": ach("000123456789"), "invoice": invoice("50.00")})).await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(
        pending["paymentMethod"],
        json!({"type": "ach", "accountType": "savings",
                                                "routingNumber": "110000000", "last4": "6789"})
    );
    let returned = created(&app, &p, "/v1/payments/sale", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": ach("000222222227"), "invoice": invoice("50.00")})).await;
    app.advance(std::time::Duration::from_secs(301));
    app.run_jobs().await;
    let cleared = app.get_payment(&p, pending["id"].as_str().unwrap()).await;
    assert_eq!(cleared["status"], "completed");
    assert_eq!(cleared["capturedAmount"], "50.00");
    let failed = app.get_payment(&p, returned["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failureCode"], "R01");
});

on_both_backends!(the_worked_examples_and_tax, |app| {
    let p = app.partner().await;
    let sale = |lines: Value| {
        json!({"firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"),
                                      "invoice": {"invoiceLineItems": lines}})
    };
    for (second, total) in [
        (
            json!({"name": "d", "value": "0.19", "valueType": "Discount"}),
            "0.90",
        ),
        (
            json!({"name": "d", "value": "19", "valueType": "DiscountPercentage"}),
            "0.88",
        ),
        (
            json!({"name": "o", "value": "0.19", "valueType": "PriceOverride"}),
            "0.19",
        ),
    ] {
        let lines = json!([{"name": "x", "value": "1.09", "valueType": "Standard"}, second]);
        let paid = created(&app, &p, "/v1/payments/sale", sale(lines.clone())).await;
        assert_eq!(paid["amount"], total);
        assert_eq!(paid["invoice"]["total"], total);
        let preview = post(
            &app,
            &p,
            "/v1/invoices/preview",
            json!({"invoice": {"invoiceLineItems": lines}}),
        )
        .await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        assert_eq!(preview.json()["total"], total);
        assert!(
            preview.json().get("id").is_none(),
            "a preview is not an invoice of record"
        );
    }

    // Tax per code, configured per partner; an entityUseCode exempts.
    kassa_server::admin::set_tax_rate(
        app.store.as_ref(),
        &p.partner.id,
        "P0000000",
        "8.25",
        &operator(),
    )
    .await
    .unwrap();
    let taxed = json!([{"name": "x", "value": "100.00", "valueType": "Standard", "taxCode": "P0000000"},
                       {"name": "y", "value": "20.00", "valueType": "Standard"}]);
    let paid = created(&app, &p, "/v1/payments/sale", sale(taxed.clone())).await;
    assert_eq!(paid["invoice"]["subtotal"], "120.00");
    assert_eq!(paid["invoice"]["taxAmount"], "8.25");
    assert_eq!(paid["amount"], "128.25");
    let mut exempt = sale(taxed.clone());
    exempt["entityUseCode"] = json!("E");
    let paid = created(&app, &p, "/v1/payments/sale", exempt).await;
    assert_eq!(paid["invoice"]["taxAmount"], "0.00");
    assert_eq!(paid["amount"], "120.00");
    let mut exempt = sale(taxed.clone());
    exempt["invoice"]["entityUseCode"] = json!("E");
    assert_eq!(
        created(&app, &p, "/v1/payments/sale", exempt).await["amount"],
        "120.00"
    );
    // Another partner has no rates.
    let other = app.partner().await;
    assert_eq!(
        created(&app, &other, "/v1/payments/sale", sale(taxed)).await["amount"],
        "120.00"
    );
});

on_both_backends!(authorize_then_capture_part_once, |app| {
    let p = app.partner().await;
    let auth = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("100.00")})).await;
    let id = auth["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("auth_"));
    assert_eq!(auth["object"], "authorization");
    assert_eq!(auth["status"], "authorized");
    assert_eq!(auth["amount"], "100.00");
    assert_eq!(auth["capturedAmount"], "0.00");
    assert!(auth["expiresAt"].is_string());

    let r = post(
        &app,
        &p,
        &format!("/v1/payments/capture/{id}"),
        json!({"amount": "100.01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_code(&r), "capture_exceeds_authorized");

    let captured = created(
        &app,
        &p,
        &format!("/v1/payments/capture/{id}"),
        json!({"amount": "40.00"}),
    )
    .await;
    assert_eq!(captured["status"], "completed");
    assert_eq!(captured["amount"], "40.00");
    assert_eq!(captured["authorizationId"], id);
    assert_eq!(captured["invoice"]["total"], "100.00");
    let auth = get(&app, &p, &format!("/v1/payments/authorization/{id}"))
        .await
        .json();
    assert_eq!(auth["status"], "captured");
    assert_eq!(auth["capturedAmount"], "40.00");
    assert_eq!(auth["paymentId"], captured["id"]);

    let r = post(
        &app,
        &p,
        &format!("/v1/payments/capture/{id}"),
        json!({"amount": "10.00"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&r), "already_captured");
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/authorization/{id}/reverse"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&r), "already_captured");
});

on_both_backends!(reverse_then_capture_is_refused, |app| {
    let p = app.partner().await;
    let auth = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("30.00")})).await;
    let id = auth["id"].as_str().unwrap();
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/authorization/{id}/reverse"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "reversed");
    let r = post(&app, &p, &format!("/v1/payments/capture/{id}"), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&r), "not_open");
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/authorization/{id}/reverse"),
        json!({}),
    )
    .await;
    assert_eq!(error_code(&r), "not_open");
    // Unknown and other partners' authorizations are not found.
    let r = post(&app, &p, "/v1/payments/capture/auth_nope", json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other = app.partner().await;
    let r = post(
        &app,
        &other,
        &format!("/v1/payments/authorization/{id}/reverse"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_backends!(authorizations_decline_expire_and_refuse_ach, |app| {
    let p = app.partner().await;
    let declined = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4000000000000002"), "invoice": invoice("30.00")})).await;
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failureCode"], "card_declined");
    let r = post(
        &app,
        &p,
        &format!("/v1/payments/capture/{}", declined["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert_eq!(error_code(&r), "not_open");

    let r = post(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "invoice": invoice("30.00"),
        "paymentMethod": {"billingFirstName": "A", "billingLastName": "B",
            "ach": {"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Checking"}}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&r), "validation_failed");
    assert_eq!(r.json()["error"]["errors"][0]["field"], "paymentMethod.ach");

    let auth = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("30.00")})).await;
    let id = auth["id"].as_str().unwrap();
    app.advance(std::time::Duration::from_secs(7 * 24 * 3600));
    assert_eq!(
        get(&app, &p, &format!("/v1/payments/authorization/{id}"))
            .await
            .json()["status"],
        "expired"
    );
    let r = post(&app, &p, &format!("/v1/payments/capture/{id}"), json!({})).await;
    assert_eq!(error_code(&r), "not_open");
});

on_both_backends!(a_sale_can_capture_an_authorization, |app| {
    let p = app.partner().await;
    let auth = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("80.00")})).await;
    let customer = auth["customerId"].clone();
    let too_much = post(&app, &p, "/v1/payments/sale", json!({
        "customerId": customer, "paymentMethodAuthorizationId": auth["id"], "invoice": invoice("80.01")})).await;
    assert_eq!(
        too_much.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_much.body
    );
    assert_eq!(error_code(&too_much), "capture_exceeds_authorized");
    let stranger = created(
        &app,
        &p,
        "/v1/customers",
        json!({"firstName": "C", "lastName": "D"}),
    )
    .await;
    let r = post(&app, &p, "/v1/payments/sale", json!({
        "customerId": stranger["id"], "paymentMethodAuthorizationId": auth["id"], "invoice": invoice("80.00")})).await;
    assert_eq!(r.json()["error"]["errors"][0]["code"], "customer_mismatch");
    let paid = created(&app, &p, "/v1/payments/sale", json!({
        "customerId": customer, "paymentMethodAuthorizationId": auth["id"], "invoice": invoice("75.50")})).await;
    assert_eq!(paid["status"], "completed");
    assert_eq!(paid["amount"], "75.50");
    assert_eq!(paid["authorizationId"], auth["id"]);
    assert_eq!(paid["invoice"]["total"], "75.50");
    let again = post(&app, &p, "/v1/payments/sale", json!({
        "customerId": customer, "paymentMethodAuthorizationId": auth["id"], "invoice": invoice("1.00")})).await;
    assert_eq!(error_code(&again), "already_captured");
    // An authorization cannot come from another authorization.
    let r = post(&app, &p, "/v1/payments/authorization", json!({
        "customerId": customer, "paymentMethodAuthorizationId": auth["id"], "invoice": invoice("1.00")})).await;
    assert_eq!(r.json()["error"]["errors"][0]["code"], "not_supported");
});

on_both_backends!(simultaneous_captures_capture_once, |app| {
    let p = app.partner().await;
    let auth = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("60.00")})).await;
    let path = format!("/v1/payments/capture/{}", auth["id"].as_str().unwrap());
    let attempts: Vec<_> = (0..8)
        .map(|i| post(&app, &p, &path, json!({"amount": format!("{}.00", 10 + i)})))
        .collect();
    let results = join_all(attempts).await;
    let won: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(won.len(), 1, "exactly one capture wins");
    for r in &results {
        if r.status != StatusCode::CREATED {
            assert_eq!(error_code(r), "already_captured", "{}", r.body);
        }
    }
    let list = get(&app, &p, "/v1/payments").await.json();
    let captures: Vec<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pay| pay["authorizationId"] == auth["id"])
        .collect();
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0]["amount"], won[0].json()["amount"]);
});

/// Runs the futures concurrently on this task, interleaved at every await.
async fn join_all<F: std::future::Future<Output = Resp>>(futures: Vec<F>) -> Vec<Resp> {
    use std::pin::Pin;
    let mut pinned: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<Resp>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => results[i] = Some(r),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

on_both_backends!(customers_can_be_made_read_changed_and_listed, |app| {
    let p = app.partner().await;
    let c = created(
        &app,
        &p,
        "/v1/customers",
        json!({"firstName": "Ada", "lastName": "Lovelace",
        "email": "ada@example.com", "merchantCustomerRefId": "C-9", "entityUseCode": "E"}),
    )
    .await;
    assert!(c["id"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(c["object"], "customer");
    let id = c["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            Some(json!({"lastName": "Byron", "entityUseCode": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let changed = r.json();
    assert_eq!(changed["lastName"], "Byron");
    assert_eq!(changed["firstName"], "Ada");
    assert_eq!(changed["entityUseCode"], Value::Null);
    assert_eq!(changed["email"], "ada@example.com");
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            Some(json!({"firstName": "", "email": "nope"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["errors"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&app, &p, &format!("/v1/customers/{id}")).await.json()["firstName"],
        "Ada"
    );
    let r = post(&app, &p, "/v1/customers", json!({"lastName": "X"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    created(
        &app,
        &p,
        "/v1/customers",
        json!({"firstName": "G", "lastName": "H"}),
    )
    .await;
    let all = get(&app, &p, "/v1/customers").await.json();
    assert_eq!(ids(&all).len(), 2);
    let found = get(&app, &p, "/v1/customers?merchantCustomerRefId=C-9")
        .await
        .json();
    assert_eq!(ids(&found), [id]);
    let other = app.partner().await;
    assert_eq!(
        get(&app, &other, &format!("/v1/customers/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .api(
            &other.key,
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            Some(json!({"lastName": "Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_backends!(payment_methods_are_vaulted_for_a_customer, |app| {
    let p = app.partner().await;
    let c = created(
        &app,
        &p,
        "/v1/customers",
        json!({"firstName": "Ada", "lastName": "Lovelace"}),
    )
    .await;
    let mut body = card("5555555555554444");
    body["customerId"] = c["id"].clone();
    body["merchantPaymentMethodRefId"] = json!("PM-1");
    let pm = created(&app, &p, "/v1/payment-methods", body).await;
    assert!(pm["id"].as_str().unwrap().starts_with("pm_"));
    assert_eq!(pm["type"], "card");
    assert_eq!(pm["brand"], "mastercard");
    assert_eq!(pm["last4"], "4444");
    assert_eq!(pm["merchantPaymentMethodRefId"], "PM-1");
    assert!(!pm.to_string().contains("5555555555554444"));
    let paid = created(
        &app,
        &p,
        "/v1/payments/sale",
        json!({
        "customerId": c["id"], "paymentMethodId": pm["id"], "invoice": invoice("12.00")}),
    )
    .await;
    assert_eq!(paid["status"], "completed");
    assert_eq!(paid["paymentMethod"]["last4"], "4444");
    // Bad input: every problem at once, nothing stored.
    let r = post(
        &app,
        &p,
        "/v1/payment-methods",
        json!({"creditCard": {"paymentAccountNumber": "1", "expirationDate": "x"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let fields: Vec<_> = r.json()["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "customerId",
            "billingFirstName",
            "billingLastName",
            "creditCard.paymentAccountNumber",
            "creditCard.expirationDate"
        ]
    );
    let other = app.partner().await;
    let path = format!("/v1/payment-methods/{}", pm["id"].as_str().unwrap());
    assert_eq!(get(&app, &other, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api(&other.key, Method::DELETE, &path, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&app, &p, &path).await.status, StatusCode::OK);
    // Listed for their customer, newest first; deleted ones drop out.
    let mut second = card("4242424242424242");
    second["customerId"] = c["id"].clone();
    let second = created(&app, &p, "/v1/payment-methods", second).await;
    created(&app, &p, "/v1/payment-methods", json!({"customerId": created(&app, &p, "/v1/customers",
        json!({"firstName": "X", "lastName": "Y"})).await["id"], "billingFirstName": "X", "billingLastName": "Y",
        "creditCard": {"paymentAccountNumber": "4242424242424242", "expirationDate": "1230"}})).await;
    let mine = get(
        &app,
        &p,
        &format!(
            "/v1/payment-methods?customerId={}",
            c["id"].as_str().unwrap()
        ),
    )
    .await
    .json();
    assert_eq!(
        ids(&mine),
        [second["id"].as_str().unwrap(), pm["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&get(&app, &p, "/v1/payment-methods").await.json()).len(),
        3
    );
    app.api(&p.key, Method::DELETE, &path, None).await;
    let mine = get(
        &app,
        &p,
        &format!(
            "/v1/payment-methods?customerId={}",
            c["id"].as_str().unwrap()
        ),
    )
    .await
    .json();
    assert_eq!(ids(&mine), [second["id"].as_str().unwrap()]);
    assert!(ids(&get(&app, &other, "/v1/payment-methods").await.json()).is_empty());
    assert_eq!(
        get(&app, &p, "/v1/payment-methods?customerId=nope")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
});

on_both_backends!(payments_list_with_every_filter, |app| {
    let p = app.partner().await;
    let c = created(
        &app,
        &p,
        "/v1/customers",
        json!({"firstName": "Ada", "lastName": "Lovelace"}),
    )
    .await;
    let a = created(&app, &p, "/v1/payments/sale", json!({
        "customerId": c["id"], "paymentMethod": card("4242424242424242"), "invoice": invoice("1.00")})).await;
    app.advance(std::time::Duration::from_secs(3600));
    let b = created(&app, &p, "/v1/payments/sale", json!({
        "firstName": "G", "lastName": "H", "paymentMethod": card("4000000000000002"), "invoice": invoice("2.00")})).await;
    let pr = app.create_request(&p, "3.00", "Q-1").await;
    let mut payer = Payer::new(&app);
    payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    let from_request = app.get_request(&p, pr["id"].as_str().unwrap()).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    let list = |q: &str| {
        let q = q.to_string();
        let app = &app;
        let p = &p;
        async move { get(app, p, &format!("/v1/payments{q}")).await }
    };
    assert_eq!(ids(&list("").await.json()), [from_request.as_str(), b, a]);
    assert_eq!(ids(&list("?source=api").await.json()), [b, a]);
    assert_eq!(
        ids(&list("?source=payment_request").await.json()),
        [from_request.as_str()]
    );
    assert_eq!(ids(&list("?status=failed").await.json()), [b]);
    assert_eq!(
        ids(&list(&format!("?customerId={}", c["id"].as_str().unwrap()))
            .await
            .json()),
        [a]
    );
    assert_eq!(
        ids(&list("?referenceId=Q-1").await.json()),
        [from_request.as_str()]
    );
    assert_eq!(
        ids(&list("?createdTo=2026-11-21T12:30:00Z").await.json()),
        [a]
    );
    assert_eq!(
        ids(&list("?createdFrom=2026-11-21T12:30:00Z&source=api")
            .await
            .json()),
        [b]
    );
    assert_eq!(
        ids(&list("?referenceIdContains=q-").await.json()),
        [from_request.as_str()]
    );
    assert_eq!(ids(&list("?method=card&source=api").await.json()), [b, a]);
    assert!(ids(&list("?method=ach").await.json()).is_empty());
    assert_eq!(list("?method=cash").await.status, StatusCode::BAD_REQUEST);
    let page = list("?limit=2").await.json();
    assert_eq!(page["hasMore"], true);
    assert_eq!(ids(&list(&format!("?startingAfter={b}")).await.json()), [a]);
    let r = list("?status=nope&source=web&createdFrom=yesterday&customerId=x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["errors"].as_array().unwrap().len(), 4);
    let r = list("?createdFrom=2026-11-22T00:00:00Z&createdTo=2026-11-21T00:00:00Z").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = list("?colour=blue").await;
    assert_eq!(error_code(&r), "validation_failed");
    let other = app.partner().await;
    assert!(ids(&get(&app, &other, "/v1/payments").await.json()).is_empty());
});

on_both_backends!(a_sale_replays_under_its_idempotency_key, |app| {
    let p = app.partner().await;
    let body = json!({"firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("9.00")});
    let first = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payments/sale",
            Some(body.clone()),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    let again = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payments/sale",
            Some(body),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(first.json()["id"], again.json()["id"]);
    assert_eq!(ids(&get(&app, &p, "/v1/payments").await.json()).len(), 1);
});

/// How long the slow processor takes to answer.
const SLOW: std::time::Duration = std::time::Duration::from_millis(1500);

on_both_backends!(
    a_sale_whose_client_goes_away_is_still_answered_under_its_key,
    processor = kassa_processor::SandboxProcessor::with_latency(SLOW),
    |app| {
        use std::time::{Duration, Instant};
        let p = app.partner().await;
        let body = json!({"firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("9.00")});
        let send = || {
            app.api_with(
                &p.key,
                Method::POST,
                "/v1/payments/sale",
                Some(body.clone()),
                &[("Idempotency-Key", "gone-1")],
            )
        };
        let started = Instant::now();
        // The client goes away while the processor is deciding: its request future is dropped.
        assert!(tokio::time::timeout(Duration::from_millis(300), send())
            .await
            .is_err());
        // While the first request is still running, a retry is told so.
        let r = send().await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(error_code(&r), "idempotency_key_in_progress");
        assert!(
            started.elapsed() < SLOW,
            "the retry came too late to see it running"
        );
        // Once it has finished, a retry gets its recorded answer, not a second sale.
        let replay = loop {
            let r = send().await;
            if r.status != StatusCode::CONFLICT {
                break r;
            }
            assert_eq!(error_code(&r), "idempotency_key_in_progress");
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the first request's answer was never recorded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            started.elapsed() >= SLOW,
            "answered before the processor did"
        );
        assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
        assert_eq!(
            replay.header("idempotent-replayed").as_deref(),
            Some("true")
        );
        let sale = replay.json();
        assert_eq!(sale["status"], "completed");
        let payments = get(&app, &p, "/v1/payments").await.json();
        assert_eq!(ids(&payments), [sale["id"].as_str().unwrap()]);
    }
);

on_both_backends!(
    abandoned_sales_and_authorizations_are_recovered_from_the_processor,
    |app| {
        use kassa_core::authorization::AUTHORIZATION_VALIDITY;
        use kassa_core::clock::Clock;
        use kassa_core::error::FieldErrors;
        use kassa_core::id::{AuthorizationId, CustomerId, InvoiceId, PaymentId};
        use kassa_core::invoice::{InvoiceInput, TaxRates};
        use kassa_core::money::{Currency, Money};
        use kassa_processor::{AuthorizeRequest, ChargeRequest, Instrument};
        use kassa_store::{CustomerRef, MethodUse, NewApiPayment, NewAuthorization};

        let p = app.partner().await;
        let now = app.clock.now();
        let c = created(
            &app,
            &p,
            "/v1/customers",
            json!({"firstName": "A", "lastName": "B"}),
        )
        .await;
        let customer = CustomerId::parse(c["id"].as_str().unwrap()).unwrap();
        let mut body = card("4242424242424242");
        body["customerId"] = c["id"].clone();
        let pm = created(&app, &p, "/v1/payment-methods", body).await;
        let stored = app
            .store
            .payment_method(
                &p.partner.id,
                &kassa_core::id::PaymentMethodId::parse(pm["id"].as_str().unwrap()).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        let method = || MethodUse::Existing {
            id: stored.id.clone(),
            last4: "4242".into(),
            details: kassa_store::MethodDetails::Card {
                brand: kassa_core::card::CardBrand::Visa,
                exp_month: 12,
                exp_year: 2030,
                postal_code: None,
            },
        };
        let invoice = || {
            let input: InvoiceInput = serde_json::from_value(invoice("10.00")).unwrap();
            input
                .validate(
                    "invoice",
                    Currency::Usd,
                    99_999_999,
                    &mut FieldErrors::new(),
                )
                .unwrap()
                .price(InvoiceId::generate(), &TaxRates::new(), false)
        };
        // A sale and an authorization whose process "died" after the processor approved them, and a
        // sale it never received.
        let sale = |id: &PaymentId| NewApiPayment {
            payment_id: id.clone(),
            idempotency_key: None,
            amount: Money::new(1000, Currency::Usd),
            customer: CustomerRef::Existing(customer.clone()),
            method: method(),
            invoice: invoice(),
            dynamic_descriptor: None,
        };
        let (charged, never) = (PaymentId::generate(), PaymentId::generate());
        app.store
            .begin_payment(
                &p.partner.id,
                &sale(&charged),
                &kassa_core::audit::Caller::cli("test", now),
            )
            .await
            .unwrap();
        app.store
            .begin_payment(
                &p.partner.id,
                &sale(&never),
                &kassa_core::audit::Caller::cli("test", now),
            )
            .await
            .unwrap();
        let auth = AuthorizationId::generate();
        app.store
            .begin_authorization(
                &p.partner.id,
                &NewAuthorization {
                    id: auth.clone(),
                    idempotency_key: None,
                    amount: Money::new(1000, Currency::Usd),
                    customer: CustomerRef::Existing(customer.clone()),
                    method: method(),
                    invoice: invoice(),
                    dynamic_descriptor: None,
                    expires_at: now + AUTHORIZATION_VALIDITY,
                },
                &kassa_core::audit::Caller::cli("test", now),
            )
            .await
            .unwrap();
        let number = kassa_core::card::CardNumber::parse("4242424242424242").unwrap();
        let instrument = || Instrument::Card {
            number: &number,
            expiry: kassa_core::card::Expiry {
                month: 12,
                year: 2030,
            },
            cvc: None,
            postal_code: None,
        };
        app.processor
            .charge(ChargeRequest {
                payment_id: &charged,
                amount: Money::new(1000, Currency::Usd),
                instrument: instrument(),
                holder_name: None,
                mandate: None,
            })
            .await
            .unwrap();
        app.processor
            .authorize(AuthorizeRequest {
                authorization_id: &auth,
                amount: Money::new(1000, Currency::Usd),
                instrument: instrument(),
                holder_name: None,
            })
            .await
            .unwrap();

        app.app.housekeeping().await.unwrap();
        assert_eq!(
            app.get_payment(&p, charged.as_str()).await["status"],
            "pending",
            "too early to call"
        );
        app.advance(std::time::Duration::from_secs(6 * 60));
        app.app.housekeeping().await.unwrap();
        assert_eq!(
            app.get_payment(&p, charged.as_str()).await["status"],
            "completed"
        );
        let failed = app.get_payment(&p, never.as_str()).await;
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["failureCode"], "processing_error");
        let a = get(&app, &p, &format!("/v1/payments/authorization/{auth}"))
            .await
            .json();
        assert_eq!(a["status"], "authorized");
        // Recovered once: another sweep changes nothing.
        app.app.housekeeping().await.unwrap();
        assert_eq!(
            app.get_payment(&p, charged.as_str()).await["status"],
            "completed"
        );
    }
);

/// A card sale the processor approved but whose process "died" before recording the answer:
/// the payment stays `pending`, awaiting the processor, until recovery asks.
async fn stuck_sale(app: &TestApp, p: &TestPartner) -> kassa_core::id::PaymentId {
    use kassa_core::clock::Clock;
    use kassa_core::error::FieldErrors;
    use kassa_core::id::{CustomerId, InvoiceId, PaymentId, PaymentMethodId};
    use kassa_core::invoice::{InvoiceInput, TaxRates};
    use kassa_core::money::{Currency, Money};
    use kassa_processor::{ChargeRequest, Instrument};
    use kassa_store::{CustomerRef, MethodDetails, MethodUse, NewApiPayment};

    let c = created(
        app,
        p,
        "/v1/customers",
        json!({"firstName": "A", "lastName": "B"}),
    )
    .await;
    let mut body = card("4242424242424242");
    body["customerId"] = c["id"].clone();
    let pm = created(app, p, "/v1/payment-methods", body).await;
    let input: InvoiceInput = serde_json::from_value(invoice("10.00")).unwrap();
    let invoice = input
        .validate(
            "invoice",
            Currency::Usd,
            99_999_999,
            &mut FieldErrors::new(),
        )
        .unwrap()
        .price(InvoiceId::generate(), &TaxRates::new(), false);
    let id = PaymentId::generate();
    let sale = NewApiPayment {
        payment_id: id.clone(),
        idempotency_key: None,
        amount: Money::new(1000, Currency::Usd),
        customer: CustomerRef::Existing(CustomerId::parse(c["id"].as_str().unwrap()).unwrap()),
        method: MethodUse::Existing {
            id: PaymentMethodId::parse(pm["id"].as_str().unwrap()).unwrap(),
            last4: "4242".into(),
            details: MethodDetails::Card {
                brand: kassa_core::card::CardBrand::Visa,
                exp_month: 12,
                exp_year: 2030,
                postal_code: None,
            },
        },
        invoice,
        dynamic_descriptor: None,
    };
    app.store
        .begin_payment(
            &p.partner.id,
            &sale,
            &kassa_core::audit::Caller::cli("test", app.clock.now()),
        )
        .await
        .unwrap();
    let number = kassa_core::card::CardNumber::parse("4242424242424242").unwrap();
    app.processor
        .charge(ChargeRequest {
            payment_id: &id,
            amount: Money::new(1000, Currency::Usd),
            instrument: Instrument::Card {
                number: &number,
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
    id
}

/// The test's application (same database, processor and clock) with other recovery timings.
fn with_recovery(
    app: &TestApp,
    attempt_timeout: std::time::Duration,
    sweep_interval: std::time::Duration,
) -> kassa_server::App {
    let mut config = app.app.state().config.clone();
    config.recovery.attempt_timeout = attempt_timeout;
    config.recovery.sweep_interval = sweep_interval;
    config.job_poll_interval = std::time::Duration::from_millis(50);
    kassa_server::App::new(kassa_server::AppParts {
        config,
        store: app.store.clone(),
        processor: app.processor.clone(),
        clock: app.clock.clone(),
        vault: kassa_server::vault::Vault::new(&[42u8; 32]),
        resolver: None,
    })
}

on_both_backends!(the_recovery_window_is_a_setting, |app| {
    use std::time::Duration;
    let p = app.partner().await;
    let two_minutes = with_recovery(&app, Duration::from_secs(120), Duration::from_secs(60));
    let id = stuck_sale(&app, &p).await;
    app.advance(Duration::from_secs(60));
    two_minutes.housekeeping().await.unwrap();
    assert_eq!(
        app.get_payment(&p, id.as_str()).await["status"],
        "pending",
        "a minute is inside a two-minute window"
    );
    app.advance(Duration::from_secs(61));
    // Past two minutes but inside the default five: only the configured window recovers it.
    app.app.housekeeping().await.unwrap();
    assert_eq!(app.get_payment(&p, id.as_str()).await["status"], "pending");
    two_minutes.housekeeping().await.unwrap();
    assert_eq!(
        app.get_payment(&p, id.as_str()).await["status"],
        "completed"
    );
});

on_both_backends!(the_worker_sweeps_at_the_configured_interval, |app| {
    use std::time::{Duration, Instant};
    let p = app.partner().await;
    let id = stuck_sale(&app, &p).await;
    let quick = with_recovery(&app, Duration::from_secs(120), Duration::from_millis(200));
    let worker = quick.spawn_worker();
    // The first sweep runs at once and finds nothing due; the record becomes due only now, so
    // only a later sweep (200 ms on, not the default minute) can settle it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.advance(Duration::from_secs(180));
    let started = Instant::now();
    while app.get_payment(&p, id.as_str()).await["status"] != "completed" {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no sweep settled the record"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
});

on_both_backends!(
    stored_bank_accounts_and_google_pay_are_charged_again,
    |app| {
        let p = app.partner().await;
        let c = created(
            &app,
            &p,
            "/v1/customers",
            json!({"firstName": "A", "lastName": "B"}),
        )
        .await;
        let ach = created(&app, &p, "/v1/payment-methods", json!({"customerId": c["id"],
        "billingFirstName": "A", "billingLastName": "B",
        "ach": {"routingNumber": "110000000", "accountNumber": "000222222227", "accountType": "checking"}})).await;
        assert_eq!(ach["type"], "ach");
        assert_eq!(ach["last4"], "2227");
        let debit = created(
            &app,
            &p,
            "/v1/payments/sale",
            json!({
        "customerId": c["id"], "paymentMethodId": ach["id"], "invoice": invoice("20.00")}),
        )
        .await;
        assert_eq!(debit["status"], "pending");
        // The sandbox recognised the vaulted account number: it is returned R01.
        let r = post(
            &app,
            &p,
            &format!(
                "/v1/sandbox/payments/{}/return",
                debit["id"].as_str().unwrap()
            ),
            json!({"code": "R01"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // A bank account cannot hold funds.
        let r = post(
            &app,
            &p,
            "/v1/payments/authorization",
            json!({
        "customerId": c["id"], "paymentMethodId": ach["id"], "invoice": invoice("20.00")}),
        )
        .await;
        assert_eq!(r.json()["error"]["errors"][0]["code"], "not_supported");

        let token = json!({"paymentMethodData": {"info": {"cardNetwork": "VISA", "cardDetails": "1111"},
                                             "tokenizationData": {"token": "tok"}}});
        let gp = created(
            &app,
            &p,
            "/v1/payment-methods",
            json!({"customerId": c["id"],
        "billingFirstName": "A", "billingLastName": "B",
        "googlePay": {"googlePayPaymentDataResponse": token.to_string()}}),
        )
        .await;
        assert_eq!(gp["type"], "google_pay");
        let paid = created(
            &app,
            &p,
            "/v1/payments/sale",
            json!({
        "customerId": c["id"], "paymentMethodId": gp["id"], "invoice": invoice("20.00")}),
        )
        .await;
        assert_eq!(paid["status"], "completed");
        assert_eq!(
            paid["paymentMethod"],
            json!({"type": "google_pay", "brand": "visa", "last4": "1111"})
        );
        let held = created(
            &app,
            &p,
            "/v1/payments/authorization",
            json!({
        "customerId": c["id"], "paymentMethodId": gp["id"], "invoice": invoice("20.00")}),
        )
        .await;
        assert_eq!(held["status"], "authorized");
    }
);

on_both_backends!(a_retry_under_the_same_key_never_charges_twice, |app| {
    // The key's stored answer is gone (its request crashed, or answered 5xx and released it):
    // the retry runs again, and finds the payment the first one made.
    let p = app.partner().await;
    let body = json!({"firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("9.00")});
    let send = |path: &'static str, body: Value, key: &'static str| {
        let (app, p) = (&app, &p);
        async move {
            app.api_with(
                &p.key,
                Method::POST,
                path,
                Some(body),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = send("/v1/payments/sale", body.clone(), "sale-1").await;
    let auth = send("/v1/payments/authorization", body.clone(), "auth-1").await;
    let auth_id = auth.json()["id"].as_str().unwrap().to_string();
    let capture_path: &'static str =
        Box::leak(format!("/v1/payments/capture/{auth_id}").into_boxed_str());
    let captured = send(capture_path, json!({"amount": "4.00"}), "capture-1").await;
    assert_eq!(captured.status, StatusCode::CREATED, "{}", captured.body);
    let forgotten = app
        .store
        .purge_idempotency_keys(start_time() + time::Duration::days(400))
        .await
        .unwrap();
    assert!(forgotten >= 3);
    let again = send("/v1/payments/sale", body.clone(), "sale-1").await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.json()["id"], first.json()["id"]);
    let auth_again = send("/v1/payments/authorization", body, "auth-1").await;
    assert_eq!(auth_again.json()["id"], auth_id.as_str());
    let capture_again = send(capture_path, json!({"amount": "4.00"}), "capture-1").await;
    assert_eq!(
        capture_again.status,
        StatusCode::CREATED,
        "{}",
        capture_again.body
    );
    assert_eq!(capture_again.json()["id"], captured.json()["id"]);
    // One sale and one capture, no more.
    assert_eq!(ids(&get(&app, &p, "/v1/payments").await.json()).len(), 2);
});

use kassa_processor::{
    Answer, AuthorizeRequest, CaptureRequest, ChargeOutcome, ChargeRequest, Held, PaymentLookup,
    ProcessorError, RefundOutcome, RefundRequest,
};

/// The sandbox, except that every capture is refused.
#[derive(Debug, Clone, Default)]
struct RefusingCaptures(kassa_processor::SandboxProcessor);

#[async_trait::async_trait]
impl kassa_processor::Processor for RefusingCaptures {
    fn connector(&self) -> kassa_core::processor::Connector {
        kassa_core::processor::Connector::Sandbox
    }
    async fn charge(&self, r: ChargeRequest<'_>) -> Result<Answer, ProcessorError> {
        self.0.charge(r).await
    }
    async fn lookup(&self, p: PaymentLookup<'_>) -> Result<Option<Answer>, ProcessorError> {
        self.0.lookup(p).await
    }
    async fn authorize(&self, r: AuthorizeRequest<'_>) -> Result<Answer, ProcessorError> {
        self.0.authorize(r).await
    }
    async fn lookup_authorization(
        &self,
        id: &kassa_core::id::AuthorizationId,
        amount: kassa_core::money::Money,
    ) -> Result<Option<Answer>, ProcessorError> {
        self.0.lookup_authorization(id, amount).await
    }
    async fn capture(&self, _: CaptureRequest<'_>) -> Result<Answer, ProcessorError> {
        Ok(Answer::new(
            ChargeOutcome::Declined {
                code: kassa_core::payment::DeclineCode::ProcessingError,
            },
            None,
        ))
    }
    async fn refund(&self, r: RefundRequest<'_>) -> Result<RefundOutcome, ProcessorError> {
        self.0.refund(r).await
    }
    async fn lookup_refund(
        &self,
        r: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError> {
        self.0.lookup_refund(r).await
    }
    async fn release(&self, hold: Held<'_>) -> Result<(), ProcessorError> {
        self.0.release(hold).await
    }
}

on_both_backends!(
    a_capture_the_processor_refuses_fails_and_frees_the_authorization,
    processor = RefusingCaptures::default(),
    |app| {
        let p = app.partner().await;
        let auth = created(&app, &p, "/v1/payments/authorization", json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"), "invoice": invoice("50.00")})).await;
        let id = auth["id"].as_str().unwrap();
        let refused = created(&app, &p, &format!("/v1/payments/capture/{id}"), json!({})).await;
        assert_eq!(
            refused["status"], "failed",
            "never completed before the processor confirms"
        );
        assert_eq!(refused["failureCode"], "processing_error");
        assert_eq!(refused["capturedAmount"], "0.00");
        let a = get(&app, &p, &format!("/v1/payments/authorization/{id}"))
            .await
            .json();
        assert_eq!(a["status"], "authorized");
        assert_eq!(a["capturedAmount"], "0.00");
        assert_eq!(a["paymentId"], Value::Null);
        // It can be captured (or reversed) again.
        let again = created(
            &app,
            &p,
            &format!("/v1/payments/capture/{id}"),
            json!({"amount": "10.00"}),
        )
        .await;
        assert_eq!(again["status"], "failed");
        let r = post(
            &app,
            &p,
            &format!("/v1/payments/authorization/{id}/reverse"),
            json!({}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
);

on_both_backends!(
    a_card_typed_on_a_payment_page_cannot_be_charged_by_api,
    |app| {
        let p = app.partner().await;
        let pr = app.create_request(&p, "3.00", "Q-PAGE").await;
        let mut payer = Payer::new(&app);
        payer.pay_card(&pay_path(&pr), "4242424242424242").await;
        let paid = app.get_request(&p, pr["id"].as_str().unwrap()).await;
        let payment = app
            .get_payment(&p, paid["paymentId"].as_str().unwrap())
            .await;
        let r = post(
            &app,
            &p,
            "/v1/payments/sale",
            json!({"firstName": "A", "lastName": "B",
        "paymentMethodId": payment["paymentMethodId"], "invoice": invoice("3.00")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"]["errors"][0]["code"], "not_reusable");
    }
);

on_both_backends!(a_card_number_of_the_wrong_type_is_not_echoed, |app| {
    let p = app.partner().await;
    let r = post(
        &app,
        &p,
        "/v1/payments/sale",
        json!({"firstName": "A", "lastName": "B",
        "paymentMethod": {"billingFirstName": "A", "billingLastName": "B",
            "creditCard": {"paymentAccountNumber": 4242424242424242u64, "expirationDate": "1230"}},
        "invoice": invoice("3.00")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.body.contains("4242424242424242"), "{}", r.body);
    assert_eq!(
        r.json()["error"]["errors"][0]["field"],
        "paymentMethod.creditCard.paymentAccountNumber"
    );
});

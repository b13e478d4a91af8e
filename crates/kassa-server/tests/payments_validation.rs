//! Every validation rule of the one-time payment API's source document, on its accepted and its
//! rejected side, through `POST /v1/payments/sale` (docs/api.md §3). A rejected request changes
//! nothing; an accepted one is charged.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

/// A valid sale: a new customer, a Visa card with a full billing address, one line item and a
/// dynamic descriptor.
fn sale() -> Value {
    json!({
        "firstName": "Ada", "lastName": "Lovelace",
        "paymentMethod": {
            "billingFirstName": "Ada", "billingLastName": "Lovelace",
            "billingAddress": {"addressLine1": "1 Main St", "addressLine2": "Suite 5", "city": "Springfield",
                               "state": "IL", "postalCode": "62701", "phoneNumber": "+1 217 555 0100",
                               "email": "ada@example.com", "country": "US"},
            "creditCard": {"paymentAccountNumber": "4242424242424242", "expirationDate": "12/2030",
                           "securityCode": "123"}
        },
        "invoice": {"merchantInvoiceRefId": "A-1",
                    "invoiceLineItems": [{"name": "Consulting", "value": "121.00", "valueType": "Standard"}]},
        "dynamicDescriptor": {"subMerchantId": "SUB1", "subMerchantName": "Acme Services",
                              "subMerchantPhone": "2175550100", "city": "Springfield", "countryCode": "US"}
    })
}

/// Sets (or with `Value::Null` and `remove`, deletes) the field at a JSON pointer.
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = body
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match target {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{parent} is not a container"),
    }
    body
}

fn without(mut body: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap()
        .remove(key);
    body
}

async fn post_sale(app: &TestApp, p: &TestPartner, body: Value) -> Resp {
    app.api(&p.key, Method::POST, "/v1/payments/sale", Some(body))
        .await
}

async fn accepted(app: &TestApp, p: &TestPartner, what: &str, body: Value) {
    let r = post_sale(app, p, body).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{what} should be accepted: {}",
        r.body
    );
    assert_eq!(r.json()["status"], "completed", "{what}: {}", r.body);
}

/// The request is refused with exactly these (field, code) errors.
async fn rejected(
    app: &TestApp,
    p: &TestPartner,
    what: &str,
    body: Value,
    expected: &[(&str, &str)],
) {
    let r = post_sale(app, p, body).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "{what} should be rejected: {}",
        r.body
    );
    let error = &r.json()["error"];
    assert_eq!(error["type"], "invalid_request", "{what}");
    assert_eq!(error["code"], "validation_failed", "{what}: {}", r.body);
    let got: Vec<(String, String)> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, c)| (f.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, expected, "{what}: {}", r.body);
}

async fn payment_count(app: &TestApp, p: &TestPartner) -> usize {
    let r = app
        .api(&p.key, Method::GET, "/v1/payments?limit=100", None)
        .await;
    r.json()["data"].as_array().unwrap().len()
}

const PM: &str = "/paymentMethod";
const ADDR: &str = "/paymentMethod/billingAddress";
const CARD: &str = "/paymentMethod/creditCard";
const DD: &str = "/dynamicDescriptor";

fn ach() -> Value {
    json!({"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Checking"})
}

on_both_backends!(customer_rules, |app| {
    let p = app.partner().await;
    accepted(&app, &p, "names", sale()).await;
    let no_customer = without(without(sale(), "/firstName"), "/lastName");
    rejected(
        &app,
        &p,
        "no customer",
        no_customer.clone(),
        &[("customerId", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "first name only",
        without(sale(), "/lastName"),
        &[("lastName", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "last name only",
        without(sale(), "/firstName"),
        &[("firstName", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "unknown customer",
        with(no_customer.clone(), "/customerId", json!("cus_nope")),
        &[("customerId", "not_found")],
    )
    .await;
    let customer = app
        .api(
            &p.key,
            Method::POST,
            "/v1/customers",
            Some(json!({"firstName": "Grace", "lastName": "Hopper"})),
        )
        .await
        .json();
    accepted(
        &app,
        &p,
        "customerId",
        with(no_customer, "/customerId", customer["id"].clone()),
    )
    .await;
    rejected(
        &app,
        &p,
        "customerId and names",
        with(sale(), "/customerId", customer["id"].clone()),
        &[
            ("firstName", "not_with_customer_id"),
            ("lastName", "not_with_customer_id"),
        ],
    )
    .await;
    // Another partner's customer is not found either.
    let other = app.partner().await;
    rejected(
        &app,
        &other,
        "another partner's customer",
        with(
            without(without(sale(), "/firstName"), "/lastName"),
            "/customerId",
            customer["id"].clone(),
        ),
        &[("customerId", "not_found")],
    )
    .await;
});

on_both_backends!(payment_method_source_and_type_rules, |app| {
    let p = app.partner().await;
    let before = payment_count(&app, &p).await;
    rejected(
        &app,
        &p,
        "no source",
        without(sale(), PM),
        &[("paymentMethod", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "two sources",
        with(sale(), "/paymentMethodId", json!("pm_x")),
        &[("paymentMethod", "multiple_payment_method_sources")],
    )
    .await;
    rejected(
        &app,
        &p,
        "two sources, one of them bad too",
        with(
            with(sale(), "/paymentMethodId", json!("pm_x")),
            &format!("{CARD}/securityCode"),
            json!("1"),
        ),
        &[
            ("paymentMethod", "multiple_payment_method_sources"),
            ("paymentMethod.creditCard.securityCode", "invalid_length"),
        ],
    )
    .await;
    rejected(
        &app,
        &p,
        "no type",
        without(sale(), CARD),
        &[("paymentMethod", "payment_method_type_required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "two types",
        with(sale(), "/paymentMethod/ach", ach()),
        &[("paymentMethod", "multiple_payment_method_types")],
    )
    .await;
    rejected(
        &app,
        &p,
        "no billing names",
        without(
            without(sale(), "/paymentMethod/billingFirstName"),
            "/paymentMethod/billingLastName",
        ),
        &[
            ("paymentMethod.billingFirstName", "required"),
            ("paymentMethod.billingLastName", "required"),
        ],
    )
    .await;
    rejected(
        &app,
        &p,
        "blank billing first name",
        with(sale(), "/paymentMethod/billingFirstName", json!("  ")),
        &[("paymentMethod.billingFirstName", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "unknown payment method",
        with(without(sale(), PM), "/paymentMethodId", json!("pm_missing")),
        &[("paymentMethodId", "not_found")],
    )
    .await;
    rejected(
        &app,
        &p,
        "unknown authorization",
        with(
            without(sale(), PM),
            "/paymentMethodAuthorizationId",
            json!("auth_missing"),
        ),
        &[("paymentMethodAuthorizationId", "not_found")],
    )
    .await;
    // Nothing was charged or stored by any of them.
    assert_eq!(payment_count(&app, &p).await, before);
});

on_both_backends!(billing_address_rules, |app| {
    let p = app.partner().await;
    let field = |f: &str| format!("paymentMethod.billingAddress.{f}");
    let cases: &[(&str, Value, Value)] = &[
        // (field, accepted at the boundary, rejected past it)
        ("addressLine1", json!("12"), json!("1")),
        ("addressLine1", json!("a".repeat(40)), json!("a".repeat(41))),
        ("addressLine2", json!("b".repeat(40)), json!("b".repeat(41))),
        ("city", json!("Ab"), json!("A")),
        ("city", json!("c".repeat(25)), json!("c".repeat(26))),
        ("state", json!("NY"), json!("NYC")),
        ("state", json!("ca"), json!("C")),
        ("postalCode", json!("12"), json!("1")),
        ("postalCode", json!("9".repeat(20)), json!("9".repeat(21))),
        ("phoneNumber", json!("1".repeat(18)), json!("1".repeat(19))),
    ];
    for (name, ok, bad) in cases {
        let pointer = format!("{ADDR}/{name}");
        accepted(
            &app,
            &p,
            &format!("{name} = {ok}"),
            with(sale(), &pointer, ok.clone()),
        )
        .await;
        rejected(
            &app,
            &p,
            &format!("{name} = {bad}"),
            with(sale(), &pointer, bad.clone()),
            &[(&field(name), "invalid_length")],
        )
        .await;
    }
    // Every optional address field may be left out.
    accepted(&app, &p, "no address", without(sale(), ADDR)).await;
});

on_both_backends!(country_is_any_iso_form_and_stored_as_alpha2, |app| {
    let p = app.partner().await;
    for (given, want) in [
        ("US", "US"),
        ("usa", "US"),
        ("840", "US"),
        ("United States of America", "US"),
        ("united states", "US"),
        ("Côte d’Ivoire", "CI"),
        ("cote divoire", "CI"),
        ("Republic of Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Curaçao", "CW"),
    ] {
        let r = post_sale(
            &app,
            &p,
            with(sale(), &format!("{ADDR}/country"), json!(given)),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{given}: {}", r.body);
        let pm = r.json()["paymentMethodId"].as_str().unwrap().to_string();
        let stored = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payment-methods/{pm}"),
                None,
            )
            .await
            .json();
        assert_eq!(stored["billingAddress"]["country"], want, "{given}");
    }
    accepted(
        &app,
        &p,
        "Germany by name",
        with(sale(), &format!("{ADDR}/country"), json!("Germany")),
    )
    .await;
    accepted(
        &app,
        &p,
        "Austria numeric",
        with(sale(), &format!("{ADDR}/country"), json!("040")),
    )
    .await;
    let long = "Korea".repeat(2000);
    for bad in ["XX", "ZZZ", "999", "Atlantis", "XK", "Korea", &long] {
        rejected(
            &app,
            &p,
            bad,
            with(sale(), &format!("{ADDR}/country"), json!(bad)),
            &[("paymentMethod.billingAddress.country", "invalid_country")],
        )
        .await;
    }
    // A name that fits two countries says so, rather than that it is no country.
    let r = post_sale(
        &app,
        &p,
        with(sale(), &format!("{ADDR}/country"), json!("Korea")),
    )
    .await;
    assert_eq!(
        r.json()["error"]["errors"][0]["message"],
        "names more than one country; give its ISO 3166-1 code or full name",
        "{}",
        r.body
    );
});

on_both_backends!(card_rules, |app| {
    let p = app.partner().await;
    let number = format!("{CARD}/paymentAccountNumber");
    let expiry = format!("{CARD}/expirationDate");
    let cvc = format!("{CARD}/securityCode");
    for ok in [
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
        "4242 4242 4242 4242",
    ] {
        accepted(
            &app,
            &p,
            ok,
            with(with(sale(), &number, json!(ok)), &cvc, json!("1234")),
        )
        .await;
    }
    rejected(
        &app,
        &p,
        "luhn",
        with(sale(), &number, json!("4242424242424241")),
        &[(
            "paymentMethod.creditCard.paymentAccountNumber",
            "luhn_check_failed",
        )],
    )
    .await;
    rejected(
        &app,
        &p,
        "unknown brand",
        with(sale(), &number, json!("9999999999999995")),
        &[(
            "paymentMethod.creditCard.paymentAccountNumber",
            "unsupported_brand",
        )],
    )
    .await;
    rejected(
        &app,
        &p,
        "missing number",
        without(sale(), &number),
        &[("paymentMethod.creditCard.paymentAccountNumber", "required")],
    )
    .await;
    for ok in ["1230", "122030", "12/30", "12/2030"] {
        accepted(&app, &p, ok, with(sale(), &expiry, json!(ok))).await;
    }
    for bad in ["12-30", "1330", "12/3", "2030/12"] {
        let r = post_sale(&app, &p, with(sale(), &expiry, json!(bad))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            r.json()["error"]["errors"][0]["field"],
            "paymentMethod.creditCard.expirationDate",
            "{bad}"
        );
    }
    rejected(
        &app,
        &p,
        "expired",
        with(sale(), &expiry, json!("10/26")),
        &[("paymentMethod.creditCard.expirationDate", "card_expired")],
    )
    .await;
    rejected(
        &app,
        &p,
        "missing expiry",
        without(sale(), &expiry),
        &[("paymentMethod.creditCard.expirationDate", "required")],
    )
    .await;
    accepted(&app, &p, "cvc 3", with(sale(), &cvc, json!("123"))).await;
    accepted(&app, &p, "cvc 4", with(sale(), &cvc, json!("1234"))).await;
    accepted(&app, &p, "cvc optional", without(sale(), &cvc)).await;
    rejected(
        &app,
        &p,
        "cvc 2",
        with(sale(), &cvc, json!("12")),
        &[("paymentMethod.creditCard.securityCode", "invalid_length")],
    )
    .await;
    rejected(
        &app,
        &p,
        "cvc 5",
        with(sale(), &cvc, json!("12345")),
        &[("paymentMethod.creditCard.securityCode", "invalid_length")],
    )
    .await;
});

on_both_backends!(ach_rules, |app| {
    let p = app.partner().await;
    let body = |routing: &str, account: &str, kind: &str| {
        with(
            without(sale(), CARD),
            "/paymentMethod/ach",
            json!({"routingNumber": routing, "accountNumber": account, "accountType": kind}),
        )
    };
    for (routing, account, kind) in [
        ("110000000", "1234", "Checking"),
        ("110000000", "12345678901234567", "Savings"),
    ] {
        let r = post_sale(&app, &p, body(routing, account, kind)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.json()["status"], "pending");
    }
    rejected(
        &app,
        &p,
        "8 and 3 digits, unknown type",
        body("11000000", "123", "Brokerage"),
        &[
            ("paymentMethod.ach.routingNumber", "invalid_length"),
            ("paymentMethod.ach.accountNumber", "invalid_length"),
            ("paymentMethod.ach.accountType", "invalid_value"),
        ],
    )
    .await;
    rejected(
        &app,
        &p,
        "10 and 18 digits",
        body("1100000000", "123456789012345678", "Checking"),
        &[
            ("paymentMethod.ach.routingNumber", "invalid_length"),
            ("paymentMethod.ach.accountNumber", "invalid_length"),
        ],
    )
    .await;
    rejected(
        &app,
        &p,
        "missing",
        with(without(sale(), CARD), "/paymentMethod/ach", json!({})),
        &[
            ("paymentMethod.ach.routingNumber", "required"),
            ("paymentMethod.ach.accountNumber", "required"),
            ("paymentMethod.ach.accountType", "required"),
        ],
    )
    .await;
});

on_both_backends!(google_pay_rules, |app| {
    let p = app.partner().await;
    let body = |data: Value| {
        with(
            without(sale(), CARD),
            "/paymentMethod/googlePay",
            json!({"googlePayPaymentDataResponse": data}),
        )
    };
    let token = json!({"paymentMethodData": {"info": {"cardNetwork": "MASTERCARD", "cardDetails": "4444"},
                                             "tokenizationData": {"token": "tok_sandbox"}}});
    let r = post_sale(&app, &p, body(json!(token.to_string()))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let paid = r.json();
    assert_eq!(paid["status"], "completed");
    assert_eq!(
        paid["paymentMethod"],
        json!({"type": "google_pay", "brand": "mastercard", "last4": "4444"})
    );
    // Valid JSON without a token: the sandbox cannot charge it.
    let r = post_sale(&app, &p, body(json!("{}"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["status"], "failed");
    assert_eq!(r.json()["failureCode"], "processing_error");
    let field = "paymentMethod.googlePay.googlePayPaymentDataResponse";
    rejected(
        &app,
        &p,
        "not JSON",
        body(json!("{not json")),
        &[(field, "invalid_json")],
    )
    .await;
    rejected(
        &app,
        &p,
        "JSON array",
        body(json!("[1]")),
        &[(field, "invalid_json")],
    )
    .await;
    rejected(
        &app,
        &p,
        "an object, not serialized",
        body(token),
        &[(field, "invalid_json")],
    )
    .await;
    rejected(
        &app,
        &p,
        "missing",
        with(without(sale(), CARD), "/paymentMethod/googlePay", json!({})),
        &[(field, "required")],
    )
    .await;
});

on_both_backends!(invoice_rules, |app| {
    let p = app.partner().await;
    let items = "/invoice/invoiceLineItems";
    let lines = |v: Value| with(sale(), items, v);
    rejected(
        &app,
        &p,
        "no invoice",
        without(sale(), "/invoice"),
        &[("invoice", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "no items",
        lines(json!([])),
        &[("invoice.invoiceLineItems", "required")],
    )
    .await;
    rejected(
        &app,
        &p,
        "only a discount",
        lines(json!([{"name": "d", "value": "1.00", "valueType": "Discount"}])),
        &[("invoice.invoiceLineItems", "no_priced_item")],
    )
    .await;
    accepted(
        &app,
        &p,
        "a price override alone",
        lines(json!([{"name": "o", "value": "5.00", "valueType": "PriceOverride"}])),
    )
    .await;
    rejected(
        &app,
        &p,
        "negative value",
        lines(json!([{"name": "x", "value": "-1.00", "valueType": "Standard"}])),
        &[("invoice.invoiceLineItems[0].value", "invalid_value")],
    )
    .await;
    accepted(
        &app,
        &p,
        "a zero line beside a priced one",
        lines(json!([
        {"name": "x", "value": "10.00", "valueType": "Standard"},
        {"name": "free", "value": "0", "valueType": "Standard"}])),
    )
    .await;
    accepted(
        &app,
        &p,
        "a price override beside a standard line",
        lines(json!([
        {"name": "x", "value": "10.00", "valueType": "Standard"},
        {"name": "y", "value": "5.00", "valueType": "PriceOverride"}])),
    )
    .await;
    rejected(
        &app,
        &p,
        "percentage above 100",
        lines(json!([
        {"name": "x", "value": "10.00", "valueType": "Standard"},
        {"name": "p", "value": "100.01", "valueType": "DiscountPercentage"}])),
        &[("invoice.invoiceLineItems[1].value", "invalid_value")],
    )
    .await;
    rejected(
        &app,
        &p,
        "total below zero",
        lines(json!([
        {"name": "x", "value": "10.00", "valueType": "Standard"},
        {"name": "d", "value": "10.01", "valueType": "Discount"}])),
        &[("invoice.invoiceLineItems", "total_below_zero")],
    )
    .await;
    rejected(
        &app,
        &p,
        "total exactly zero",
        lines(json!([
        {"name": "x", "value": "10.00", "valueType": "Standard"},
        {"name": "d", "value": "10.00", "valueType": "Discount"}])),
        &[("invoice", "zero_amount")],
    )
    .await;
    rejected(
        &app,
        &p,
        "unknown value type",
        lines(json!([{"name": "x", "value": "1.00", "valueType": "Bonus"}])),
        &[("invoice.invoiceLineItems[0].valueType", "invalid_value")],
    )
    .await;
    for vt in [
        "Standard",
        "Discount",
        "DiscountPercentage",
        "FinalDiscount",
        "PriceOverride",
    ] {
        accepted(
            &app,
            &p,
            vt,
            lines(json!([
            {"name": "x", "value": "10.00", "valueType": "Standard"},
            {"name": "y", "value": "1.00", "valueType": vt}])),
        )
        .await;
    }
    rejected(
        &app,
        &p,
        "missing name, value and type",
        lines(json!([{}])),
        &[
            ("invoice.invoiceLineItems[0].name", "required"),
            ("invoice.invoiceLineItems[0].value", "required"),
            ("invoice.invoiceLineItems[0].valueType", "required"),
        ],
    )
    .await;
});

on_both_backends!(dynamic_descriptor_rules, |app| {
    let p = app.partner().await;
    let f = |name: &str| format!("dynamicDescriptor.{name}");
    let cases: &[(&str, String, String)] = &[
        ("subMerchantId", "i".repeat(15), "i".repeat(16)),
        ("subMerchantName", "n".repeat(18), "n".repeat(19)),
        (
            "subMerchantName",
            format!("ACME*{}", "n".repeat(17)),
            format!("ACME*{}", "n".repeat(18)),
        ),
        ("subMerchantPhone", "5".repeat(22), "5".repeat(23)),
        ("city", "c".repeat(20), "c".repeat(21)),
    ];
    for (name, ok, bad) in cases {
        let pointer = format!("{DD}/{name}");
        accepted(
            &app,
            &p,
            &format!("{name} {ok}"),
            with(sale(), &pointer, json!(ok)),
        )
        .await;
        rejected(
            &app,
            &p,
            &format!("{name} {bad}"),
            with(sale(), &pointer, json!(bad)),
            &[(&f(name), "invalid_length")],
        )
        .await;
    }
    accepted(
        &app,
        &p,
        "lowercase alpha-2",
        with(sale(), &format!("{DD}/countryCode"), json!("us")),
    )
    .await;
    for bad in ["USA", "840", "XX", "U"] {
        rejected(
            &app,
            &p,
            bad,
            with(sale(), &format!("{DD}/countryCode"), json!(bad)),
            &[("dynamicDescriptor.countryCode", "invalid_country")],
        )
        .await;
    }
    let r = post_sale(&app, &p, sale()).await;
    assert_eq!(
        r.json()["dynamicDescriptor"]["subMerchantName"],
        "Acme Services"
    );
    assert_eq!(r.json()["dynamicDescriptor"]["countryCode"], "US");
});

on_both_backends!(every_bad_field_is_reported_at_once, |app| {
    let p = app.partner().await;
    let mut body = sale();
    body = without(without(body, "/firstName"), "/lastName");
    body = with(body, &format!("{ADDR}/state"), json!("Illinois"));
    body = with(
        body,
        &format!("{CARD}/paymentAccountNumber"),
        json!("4242424242424241"),
    );
    body = with(body, &format!("{CARD}/expirationDate"), json!("13/30"));
    body = with(
        body,
        "/invoice/invoiceLineItems",
        json!([{"name": "x", "value": "1.00", "valueType": "Bonus"}]),
    );
    body = with(body, &format!("{DD}/countryCode"), json!("USA"));
    rejected(
        &app,
        &p,
        "six bad fields",
        body,
        &[
            ("customerId", "required"),
            ("paymentMethod.billingAddress.state", "invalid_length"),
            (
                "paymentMethod.creditCard.paymentAccountNumber",
                "luhn_check_failed",
            ),
            ("paymentMethod.creditCard.expirationDate", "invalid_month"),
            ("invoice.invoiceLineItems[0].valueType", "invalid_value"),
            ("dynamicDescriptor.countryCode", "invalid_country"),
        ],
    )
    .await;
    let r = post_sale(&app, &p, with(sale(), "/surprise", json!(1))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["errors"][0]["code"], "unknown_field");
    assert_eq!(payment_count(&app, &p).await, 0);
});

on_both_backends!(a_body_with_anything_after_its_value_is_malformed, |app| {
    let p = app.partner().await;
    let body = sale().to_string();
    for (what, raw) in [
        ("garbage", format!("{body}garbage")),
        ("a second object", format!("{body} {{}}")),
        ("a stray bracket", format!("{body}]")),
        ("a second copy", format!("{body}\n{body}")),
        ("a trailing comma", format!("{body},")),
        ("a NUL byte", format!("{body}\0")),
        // Even a body whose fields are wrong: the body as a whole is not JSON.
        ("bad fields then garbage", r#"{"surprise": 1}x"#.to_string()),
    ] {
        let r = app
            .post_raw(
                &p.key,
                "/v1/payments/sale",
                &raw,
                &[("Idempotency-Key", "trailing-1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
        let error = &r.json()["error"];
        assert_eq!(error["code"], "malformed_json", "{what}: {}", r.body);
        assert_eq!(
            error["message"], "the body must be one JSON value, with nothing after it",
            "{what}"
        );
    }
    assert_eq!(payment_count(&app, &p).await, 0);
    // Whitespace after the value is fine, and the refusals left the key free.
    let r = app
        .post_raw(
            &p.key,
            "/v1/payments/sale",
            &format!("{body} \r\n\t "),
            &[("Idempotency-Key", "trailing-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(payment_count(&app, &p).await, 1);
});

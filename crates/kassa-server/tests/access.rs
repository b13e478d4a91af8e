//! API key scopes (docs/api.md §9), on both backends: every operation of the router against a
//! key with only its scope and a key with every other scope; the security settings that need
//! `admin`; and keys that try to make keys with more than they have.

mod common;

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_core::scope::{Scope, Scopes};
use serde_json::{json, Value};

/// The scope of every operation, as docs/api.md §9 assigns them. A new operation fails the
/// test below until it is added here.
const EXPECTED: &[(&str, &str)] = &[
    ("createPaymentRequest", "payments"),
    ("listPaymentRequests", "read"),
    ("getPaymentRequest", "read"),
    ("getPaymentRequestQr", "read"),
    ("cancelPaymentRequest", "payments"),
    ("sendPaymentRequest", "payments"),
    ("sendReceipt", "payments"),
    ("buildCreationLink", "payments"),
    ("listPayments", "read"),
    ("createSale", "payments"),
    ("createAuthorization", "payments"),
    ("getAuthorization", "read"),
    ("reverseAuthorization", "payments"),
    ("captureAuthorization", "payments"),
    ("getPayment", "read"),
    ("createRefund", "refunds"),
    ("listRefunds", "read"),
    ("getRefund", "read"),
    ("listEvents", "read"),
    ("getEvent", "read"),
    ("createWebhookEndpoint", "webhooks"),
    ("listWebhookEndpoints", "read"),
    ("getWebhookEndpoint", "read"),
    ("deleteWebhookEndpoint", "webhooks"),
    ("rotateWebhookSecret", "webhooks"),
    ("enableWebhookEndpoint", "webhooks"),
    ("listWebhookDeliveries", "read"),
    ("retryWebhookDelivery", "webhooks"),
    ("getBalance", "read"),
    ("listPayouts", "read"),
    ("getPayout", "read"),
    ("previewInvoice", "payments"),
    ("createCustomer", "payments"),
    ("listCustomers", "read"),
    ("getCustomer", "read"),
    ("updateCustomer", "payments"),
    ("createPaymentMethod", "payments"),
    ("listPaymentMethods", "read"),
    ("getPaymentMethod", "read"),
    ("deletePaymentMethod", "payments"),
    ("getPartner", "read"),
    ("updatePartner", "settings"),
    ("uploadPartnerLogo", "settings"),
    ("deletePartnerLogo", "settings"),
    ("verifyBillingHost", "admin"),
    ("listApiKeys", "admin"),
    ("createApiKey", "admin"),
    ("revokeApiKey", "admin"),
    ("listUsers", "admin"),
    ("createUser", "admin"),
    ("deleteUser", "admin"),
    ("listAuditEvents", "admin"),
    ("settleSandboxPayment", "payments"),
    ("returnSandboxPayment", "payments"),
];

/// The operations anyone may call, with no key.
const PUBLIC: &[&str] = &["getOpenApi"];

/// A body the operation can read (or refuse for its own reasons, never for the scope).
fn body_for(operation: &str, method: &Method) -> Option<Value> {
    match operation {
        "createApiKey" => Some(json!({"label": "made by an admin key", "scopes": ["admin"]})),
        _ if *method == Method::POST || *method == Method::PATCH => Some(json!({})),
        _ => None,
    }
}

/// `/v1/refunds/{id}` with a made-up id: the operation answers 404, which is past the scope check.
fn concrete(path: &str) -> String {
    path.replace("{id}", "x_0")
}

fn denied_scope(r: &Resp) -> Option<String> {
    (r.status == StatusCode::FORBIDDEN).then(|| {
        let e = &r.json()["error"];
        assert_eq!(e["type"], "permission_error", "{}", r.body);
        assert_eq!(e["code"], "insufficient_scope", "{}", r.body);
        e["message"].as_str().unwrap().to_string()
    })
}

on_both_backends!(each_scope_opens_exactly_its_operations, |app| {
    let p = app.partner().await;
    let expected: HashMap<&str, &str> = EXPECTED.iter().copied().collect();
    let mut only = HashMap::new();
    let mut all_but = HashMap::new();
    for scope in Scope::ALL {
        only.insert(scope, app.key_with(&p, [scope].into_iter().collect()).await);
        let rest: Scopes = Scope::ALL.into_iter().filter(|s| *s != scope).collect();
        all_but.insert(scope, app.key_with(&p, rest).await);
    }

    let doc = app.get("/v1/openapi.json").await.json();
    let mut seen = 0;
    let mut denials = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            if PUBLIC.contains(&id) {
                assert!(op.get("security").is_none(), "{id} needs no key");
                continue;
            }
            let name = expected
                .get(id)
                .unwrap_or_else(|| panic!("{id} is not in EXPECTED: give it its §9 scope"));
            let scope = Scope::parse(name).unwrap();
            seen += 1;
            assert_eq!(
                op["security"],
                json!([{"apiKey": [name]}]),
                "{id}: the document names its scope"
            );
            let url = concrete(path);
            let body = body_for(id, &method);

            let r = app
                .api(&all_but[&scope], method.clone(), &url, body.clone())
                .await;
            let message = denied_scope(&r)
                .unwrap_or_else(|| panic!("{id} without {name}: {} {}", r.status, r.body));
            assert_eq!(message, format!("this API key lacks the scope \"{name}\""));
            denials += 1;

            let r = app.api(&only[&scope], method.clone(), &url, body).await;
            assert!(
                r.status != StatusCode::FORBIDDEN && r.status != StatusCode::UNAUTHORIZED,
                "{id} with only {name}: {} {}",
                r.status,
                r.body
            );
        }
    }
    assert_eq!(seen, EXPECTED.len(), "every operation was tried");

    // Every refusal is in the audit log, with the key that was refused.
    let log = app
        .api(
            &p.key,
            Method::GET,
            "/v1/audit-events?action=access.denied&limit=100",
            None,
        )
        .await
        .json();
    let events = log["data"].as_array().unwrap();
    assert_eq!(events.len(), denials.min(100));
    for e in events {
        assert_eq!(e["outcome"], "denied");
        assert_eq!(e["actor"]["type"], "api_key");
        assert!(e["details"]["requiredScope"].is_string(), "{e}");
    }
});

on_both_backends!(security_settings_need_admin, |app| {
    let p = app.partner().await;
    let settings = app
        .key_with(&p, [Scope::Settings].into_iter().collect())
        .await;
    let admin = app
        .key_with(&p, [Scope::Settings, Scope::Admin].into_iter().collect())
        .await;

    let branding = json!({"name": "Acme Repairs", "brandColor": "#112233"});
    let r = app
        .api(&settings, Method::PATCH, "/v1/partner", Some(branding))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    for security in [
        json!({"requireSignedLinks": true}),
        json!({"billingHost": "pay.acme.example"}),
        json!({"allowedRedirectHosts": ["shop.acme.example"]}),
        json!({"name": "Sneaky", "requireSignedLinks": false}),
    ] {
        let r = app
            .api(
                &settings,
                Method::PATCH,
                "/v1/partner",
                Some(security.clone()),
            )
            .await;
        assert_eq!(
            denied_scope(&r).as_deref(),
            Some("this API key lacks the scope \"admin\""),
            "{security}"
        );
    }
    let partner = app
        .api(&p.key, Method::GET, "/v1/partner", None)
        .await
        .json();
    assert_eq!(
        partner["name"], "Acme Repairs",
        "a refused change changed nothing"
    );
    assert_eq!(partner["requireSignedLinks"], false);

    let r = app
        .api(
            &admin,
            Method::PATCH,
            "/v1/partner",
            Some(json!({"requireSignedLinks": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["requireSignedLinks"], true);
});

on_both_backends!(a_key_never_makes_a_key_with_more_than_it_has, |app| {
    let p = app.partner().await;
    let holder = app
        .key_with(
            &p,
            [Scope::Read, Scope::Payments, Scope::Admin]
                .into_iter()
                .collect(),
        )
        .await;
    let keys_before = app.store.list_api_keys(&p.partner.id).await.unwrap().len();

    for (scopes, missing) in [
        (json!(["read", "refunds"]), "refunds"),
        (json!(["webhooks", "admin"]), "webhooks"),
        (json!(["settings"]), "settings"),
    ] {
        let r = app
            .api(
                &holder,
                Method::POST,
                "/v1/api-keys",
                Some(json!({"label": "escalate", "scopes": scopes})),
            )
            .await;
        assert_eq!(
            denied_scope(&r),
            Some(format!("this API key lacks the scope \"{missing}\"")),
            "{scopes}"
        );
    }
    // The default (every scope but admin) is more than this key has, too.
    let r = app
        .api(
            &holder,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"label": "default scopes"})),
        )
        .await;
    assert!(denied_scope(&r).is_some(), "{}", r.body);
    assert_eq!(
        app.store.list_api_keys(&p.partner.id).await.unwrap().len(),
        keys_before,
        "no key was made"
    );

    // Within what it has, it may.
    let r = app
        .api(
            &holder,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"label": "reader", "scopes": ["read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["scopes"], json!(["read"]));
    let reader = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(
        app.api(&reader, Method::GET, "/v1/balance", None)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .api(
            &reader,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "10.00", "referenceId": "R-1"})),
        )
        .await;
    assert!(
        denied_scope(&r).is_some(),
        "a read key cannot create requests"
    );

    // Unknown and empty scope lists are plain validation errors.
    for (scopes, field) in [
        (json!(["read", "root"]), "scopes[1]"),
        (json!([]), "scopes"),
    ] {
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/api-keys",
                Some(json!({"label": "bad", "scopes": scopes})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.json()["error"]["errors"][0]["field"], field);
    }
});

//! The partner's own settings through the API: `/v1/partner`, `/v1/api-keys`, `/v1/users` — on
//! both backends.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use kassa_core::clock::Clock;
use kassa_core::id::{ApiKeyId, UserId};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn call(
    app: &TestApp,
    p: &TestPartner,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    app.api(&p.key, method, path, body).await
}

async fn ok(
    app: &TestApp,
    p: &TestPartner,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let r = call(app, p, method.clone(), path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{method} {path}: {}", r.body);
    r.json()
}

async fn created(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Value {
    let r = call(app, p, Method::POST, path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
    r.json()
}

async fn partner(app: &TestApp, p: &TestPartner) -> Value {
    ok(app, p, Method::GET, "/v1/partner", None).await
}

/// The error's (status, type, code).
fn error(r: &Resp) -> (StatusCode, String, String) {
    let e = &r.json()["error"];
    (
        r.status,
        e["type"].as_str().unwrap().to_string(),
        e["code"].as_str().unwrap().to_string(),
    )
}

fn err(status: StatusCode, kind: &str, code: &str) -> (StatusCode, String, String) {
    (status, kind.to_string(), code.to_string())
}

/// (field, code) of every field error.
fn fields(r: &Resp) -> Vec<(String, String)> {
    r.json()["error"]["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["code"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, c)| (f.to_string(), c.to_string()))
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn host() -> String {
    format!(
        "pay-{}.acme.example",
        kassa_core::id::random_base62(8).to_lowercase()
    )
}

/// A creation link opened on `host`, as a payer's browser would.
async fn open_link_on(app: &TestApp, host: &str, reference: &str) -> Resp {
    app.send(
        Request::get(format!(
            "/payment-request?amount=12.00&referenceId={reference}"
        ))
        .header("host", host)
        .body(Body::empty())
        .unwrap(),
    )
    .await
}

// ---------------------------------------------------------------- the partner

on_both_backends!(the_partner_reads_and_changes_its_settings, |app| {
    let p = app.partner().await;
    let secret = p.link_secret.clone();
    let mut answers = Vec::new();

    let before = partner(&app, &p).await;
    assert_eq!(
        keys(&before),
        set(&[
            "id",
            "object",
            "name",
            "slug",
            "billingHost",
            "billingHostStatus",
            "billingHostVerification",
            "brandColor",
            "logoUrl",
            "defaultRedirectUrl",
            "requireSignedLinks",
            "requireTwoFactor",
            "allowedRedirectHosts",
            "createdAt",
            "challengeModeUntil",
            "processor",
            "supportEmail",
            "supportPhone",
            "supportUrl",
            "termsUrl",
            "privacyUrl",
            "notificationEmail",
            "timezone"
        ]),
        "{before}"
    );
    assert_eq!(
        before["processor"],
        json!({"connector": "sandbox", "apiBase": null})
    );
    assert_eq!(before["id"], p.partner.id.as_str());
    assert_eq!(before["object"], "partner");
    assert_eq!(before["name"], "Acme Services");
    assert_eq!(before["slug"], p.partner.slug.as_str());
    assert_eq!(before["billingHost"], Value::Null);
    assert_eq!(before["billingHostStatus"], Value::Null);
    assert_eq!(before["billingHostVerification"], Value::Null);
    assert_eq!(before["challengeModeUntil"], Value::Null);
    assert_eq!(before["brandColor"], "#1f4fd1");
    assert_eq!(before["logoUrl"], Value::Null);
    assert_eq!(before["defaultRedirectUrl"], Value::Null);
    assert_eq!(before["requireSignedLinks"], false);
    assert_eq!(before["requireTwoFactor"], false);
    assert_eq!(before["allowedRedirectHosts"], json!([]));
    assert_eq!(before["createdAt"], "2026-11-21T12:00:00Z");
    answers.push(before.to_string());

    // Every field at once; values come back in their one stored spelling.
    let host = host();
    let changed = ok(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(
            json!({"name": "  Acme Plumbing ", "billingHost": host.to_uppercase(),
            "brandColor": "#AABBCC", "logoUrl": "https://cdn.acme.example/logo.png",
            "defaultRedirectUrl": "https://acme.example/thanks", "requireSignedLinks": true}),
        ),
    )
    .await;
    assert_eq!(changed["name"], "Acme Plumbing");
    assert_eq!(changed["billingHost"], host.as_str());
    assert_eq!(changed["billingHostStatus"], "pending_verification");
    let token = changed["billingHostVerification"]["value"]
        .as_str()
        .unwrap()
        .strip_prefix("kassa-verification=")
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 32);
    assert_eq!(
        changed["billingHostVerification"],
        json!({"type": "dns_txt", "name": format!("_kassa.{host}"),
               "value": format!("kassa-verification={token}")})
    );
    assert_eq!(changed["brandColor"], "#aabbcc");
    assert_eq!(changed["logoUrl"], "https://cdn.acme.example/logo.png");
    assert_eq!(changed["defaultRedirectUrl"], "https://acme.example/thanks");
    assert_eq!(changed["requireSignedLinks"], true);
    assert_eq!(changed["id"], before["id"]);
    assert_eq!(changed["slug"], before["slug"]);
    assert_eq!(changed["createdAt"], before["createdAt"]);
    assert_eq!(partner(&app, &p).await, changed, "read back as answered");
    answers.push(changed.to_string());

    // A pending host serves nothing; verified, it serves the partner, which now wants signed
    // links.
    let r = open_link_on(&app, &host, "SET-0").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    app.verify_host(&p).await;
    let changed = partner(&app, &p).await;
    assert_eq!(changed["billingHostStatus"], "verified");
    assert_eq!(
        changed["billingHostVerification"]["value"],
        format!("kassa-verification={token}")
    );
    let r = open_link_on(&app, &host, "SET-1").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Nothing given, nothing changed.
    let same = ok(&app, &p, Method::PATCH, "/v1/partner", Some(json!({}))).await;
    assert_eq!(same, changed);
    let same = ok(&app, &p, Method::PATCH, "/v1/partner", None).await;
    assert_eq!(same, changed, "an empty body is {{}}");

    // null or an empty string clears an optional field; the rest stays.
    let cleared = ok(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"logoUrl": null, "defaultRedirectUrl": "", "requireSignedLinks": false})),
    )
    .await;
    assert_eq!(cleared["logoUrl"], Value::Null);
    assert_eq!(cleared["defaultRedirectUrl"], Value::Null);
    assert_eq!(cleared["requireSignedLinks"], false);
    assert_eq!(cleared["name"], "Acme Plumbing");
    assert_eq!(cleared["billingHost"], host.as_str());
    assert_eq!(
        cleared["billingHostStatus"], "verified",
        "the same host stays verified"
    );
    assert_eq!(cleared["brandColor"], "#aabbcc");
    answers.push(cleared.to_string());
    let r = open_link_on(&app, &host, "SET-2").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "unsigned links work again: {}",
        r.body
    );

    // Giving up the billing host: the host no longer knows the partner.
    let no_host = ok(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": null})),
    )
    .await;
    assert_eq!(no_host["billingHost"], Value::Null);
    assert_eq!(no_host["billingHostStatus"], Value::Null);
    assert_eq!(no_host["billingHostVerification"], Value::Null);
    answers.push(no_host.to_string());
    let r = open_link_on(&app, &host, "SET-3").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // The link secret is never shown.
    for body in &answers {
        assert!(!body.contains(&secret), "link secret in {body}");
        assert!(!body.contains("linkSecret"), "{body}");
    }
});

on_both_backends!(contact_policy_notification_and_timezone_settings, |app| {
    let p = app.partner().await;
    let before = partner(&app, &p).await;
    for field in [
        "supportEmail",
        "supportPhone",
        "supportUrl",
        "termsUrl",
        "privacyUrl",
        "notificationEmail",
    ] {
        assert_eq!(before[field], Value::Null, "{field} starts unset");
    }
    assert_eq!(before["timezone"], "UTC");

    let changed = ok(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(json!({
            "supportEmail": "help@acme.example", "supportPhone": "+1 (415) 555-0100",
            "supportUrl": "https://acme.example/help", "termsUrl": "https://acme.example/terms",
            "privacyUrl": "https://acme.example/privacy", "notificationEmail": "ops@acme.example",
            "timezone": "america/new_york"
        })),
    )
    .await;
    assert_eq!(changed["supportEmail"], "help@acme.example");
    assert_eq!(changed["supportPhone"], "+1 (415) 555-0100");
    assert_eq!(changed["supportUrl"], "https://acme.example/help");
    assert_eq!(changed["termsUrl"], "https://acme.example/terms");
    assert_eq!(changed["privacyUrl"], "https://acme.example/privacy");
    assert_eq!(changed["notificationEmail"], "ops@acme.example");
    assert_eq!(
        changed["timezone"], "America/New_York",
        "stored as the time zone database spells it"
    );
    assert_eq!(partner(&app, &p).await, changed, "stored");

    // Every bad one is reported at once, and nothing changes.
    let r = call(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(json!({
            "supportEmail": "not an email", "supportPhone": "javascript:alert(1)",
            "supportUrl": "javascript:alert(1)", "termsUrl": "http://acme.example/terms",
            "privacyUrl": "/privacy", "notificationEmail": "ops@", "timezone": "Mars/Olympus"
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        fields(&r).into_iter().collect::<BTreeSet<_>>(),
        pairs(&[
            ("supportEmail", "invalid_email"),
            ("supportPhone", "invalid_phone"),
            ("supportUrl", "invalid_url"),
            ("termsUrl", "insecure_url"),
            ("privacyUrl", "invalid_url"),
            ("notificationEmail", "invalid_email"),
            ("timezone", "invalid_timezone"),
        ])
        .into_iter()
        .collect::<BTreeSet<_>>()
    );
    assert_eq!(partner(&app, &p).await, changed, "nothing changed");

    // null and "" clear them; the time zone cannot be null.
    let cleared = ok(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(json!({
            "supportEmail": null, "supportPhone": "", "supportUrl": null, "termsUrl": null,
            "privacyUrl": null, "notificationEmail": null, "timezone": "UTC"
        })),
    )
    .await;
    for field in [
        "supportEmail",
        "supportPhone",
        "supportUrl",
        "termsUrl",
        "privacyUrl",
        "notificationEmail",
    ] {
        assert_eq!(cleared[field], Value::Null, "{field} cleared");
    }
    assert_eq!(cleared["timezone"], "UTC");
    let r = call(
        &app,
        &p,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"timezone": null})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
});

on_both_backends!(
    invalid_settings_are_all_reported_and_change_nothing,
    |app| {
        let p = app.partner().await;
        let before = partner(&app, &p).await;
        let patch = |body: Value| {
            let app = &app;
            let p = &p;
            async move { call(app, p, Method::PATCH, "/v1/partner", Some(body)).await }
        };

        let r = patch(
            json!({"name": " ", "billingHost": "https://pay.acme.example",
        "brandColor": "blue", "logoUrl": "http://cdn.acme.example/logo.png",
        "defaultRedirectUrl": "not a url", "requireSignedLinks": true}),
        )
        .await;
        assert_eq!(
            error(&r),
            err(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "validation_failed"
            )
        );
        assert_eq!(
            fields(&r),
            pairs(&[
                ("name", "invalid_value"),
                ("billingHost", "invalid_host"),
                ("brandColor", "invalid_color"),
                ("logoUrl", "insecure_url"),
                ("defaultRedirectUrl", "invalid_url"),
            ])
        );
        assert_eq!(r.json()["error"]["message"], "5 fields are invalid");

        // One bad field spoils the good ones beside it.
        for (body, field, code) in [
            (
                json!({"name": "x".repeat(101), "brandColor": "#000000"}),
                "name",
                "invalid_value",
            ),
            (
                json!({"name": "Acme\u{7}", "brandColor": "#000000"}),
                "name",
                "invalid_value",
            ),
            (
                json!({"brandColor": "#abc", "name": "New"}),
                "brandColor",
                "invalid_color",
            ),
            (
                json!({"billingHost": "pay.acme.example/x", "name": "New"}),
                "billingHost",
                "invalid_host",
            ),
            (
                json!({"billingHost": "KASSA.test", "name": "New"}),
                "billingHost",
                "reserved_host",
            ),
            (
                json!({"billingHost": "pay.kassa.test:8443", "name": "New"}),
                "billingHost",
                "reserved_host",
            ),
            (
                json!({"billingHost": "127.0.0.1:8080", "name": "New"}),
                "billingHost",
                "ip_address_not_allowed",
            ),
            (
                json!({"billingHost": "[::1]", "name": "New"}),
                "billingHost",
                "ip_address_not_allowed",
            ),
            (
                json!({"billingHost": "2001:db8::7", "name": "New"}),
                "billingHost",
                "ip_address_not_allowed",
            ),
            (
                json!({"billingHost": "localhost:8081", "name": "New"}),
                "billingHost",
                "localhost_not_allowed",
            ),
            (
                json!({"billingHost": "shop.localhost", "name": "New"}),
                "billingHost",
                "localhost_not_allowed",
            ),
            (
                json!({"logoUrl": "https://u:p@cdn.example/l.png", "name": "New"}),
                "logoUrl",
                "credentials_not_allowed",
            ),
            (
                json!({"defaultRedirectUrl": format!("https://acme.example/{}", "a".repeat(2048)), "name": "New"}),
                "defaultRedirectUrl",
                "too_long",
            ),
            // Fields that cannot be cleared refuse null; unknown fields (the slug is fixed) are refused.
            (json!({"name": null}), "name", "invalid_type"),
            (json!({"brandColor": null}), "brandColor", "invalid_type"),
            (
                json!({"requireSignedLinks": null}),
                "requireSignedLinks",
                "invalid_type",
            ),
            (
                json!({"requireSignedLinks": "yes"}),
                "requireSignedLinks",
                "invalid_type",
            ),
            (json!({"billingHost": 5}), "billingHost", "invalid_type"),
            (json!({"slug": "other"}), "slug", "unknown_field"),
            (json!({"linkSecret": "mine"}), "linkSecret", "unknown_field"),
        ] {
            let r = patch(body.clone()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
            assert_eq!(fields(&r), pairs(&[(field, code)]), "{body}");
        }
        for raw in [
            "[1]",
            r#"{"name": "Changed"}garbage"#,
            r#"{"name": "Changed"} {}"#,
            "{}]",
        ] {
            let r = app
                .send(
                    Request::patch("/v1/partner")
                        .header("authorization", format!("Bearer {}", p.key))
                        .header("content-type", "application/json")
                        .body(Body::from(raw))
                        .unwrap(),
                )
                .await;
            assert_eq!(
                error(&r),
                err(StatusCode::BAD_REQUEST, "invalid_request", "malformed_json"),
                "{raw}"
            );
        }

        assert_eq!(partner(&app, &p).await, before, "nothing changed");

        // Without a key, or with a wrong one.
        let r = app.get("/v1/partner").await;
        assert_eq!(
            error(&r),
            err(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "missing_api_key"
            )
        );
        let r = app
            .api(
                "sk_nope",
                Method::PATCH,
                "/v1/partner",
                Some(json!({"name": "X"})),
            )
            .await;
        assert_eq!(
            error(&r),
            err(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid_api_key"
            )
        );
        assert_eq!(partner(&app, &p).await, before, "still nothing changed");
    }
);

on_both_backends!(billing_hosts_are_unique_across_partners, |app| {
    let a = app.partner().await;
    let b = app.partner().await;
    let host = host();
    ok(
        &app,
        &a,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": host})),
    )
    .await;
    let b_before = partner(&app, &b).await;

    // Another partner's host, in any case: 409, and nothing of the request is applied.
    let r = call(
        &app,
        &b,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": host.to_uppercase(), "name": "Bob's Boilers"})),
    )
    .await;
    assert_eq!(
        error(&r),
        err(StatusCode::CONFLICT, "conflict", "billing_host_taken")
    );
    assert_eq!(fields(&r), pairs(&[("billingHost", "billing_host_taken")]));
    assert_eq!(partner(&app, &b).await, b_before, "b unchanged");
    assert_eq!(partner(&app, &a).await["billingHost"], host.as_str());
    app.verify_host(&a).await;
    let r = open_link_on(&app, &host, "HOST-A").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let made = app
        .get_request(&a, r.location().rsplit('/').next().unwrap())
        .await;
    assert_eq!(made["referenceId"], "HOST-A", "the host still serves a");

    // Setting one's own host again is no clash.
    ok(
        &app,
        &a,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": host, "name": "Acme Again"})),
    )
    .await;

    // Once a lets it go, nobody else may take it: links printed with it must never start
    // paying another partner. Meanwhile it serves no one, and a may take it back.
    ok(
        &app,
        &a,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": null})),
    )
    .await;
    let r = call(
        &app,
        &b,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": host})),
    )
    .await;
    assert_eq!(
        error(&r),
        err(StatusCode::CONFLICT, "conflict", "billing_host_taken")
    );
    assert_eq!(partner(&app, &b).await, b_before, "b unchanged");
    let r = open_link_on(&app, &host, "HOST-B").await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "a released host serves no one"
    );
    let back = ok(
        &app,
        &a,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"billingHost": host})),
    )
    .await;
    assert_eq!(back["billingHost"], host.as_str());
    // The operator cannot hand it to a new partner either.
    let clash = kassa_server::admin::create_partner(
        app.store.as_ref(),
        &app.app.state().vault,
        kassa_server::admin::NewPartnerInput {
            name: "Copycat".into(),
            slug: "copycat-host".into(),
            billing_host: Some(host.clone()),
            ..Default::default()
        },
        &operator(),
    )
    .await;
    assert!(clash.is_err());
});

// ---------------------------------------------------------------- API keys

on_both_backends!(api_keys_are_listed_created_and_revoked, |app| {
    let p = app.partner().await;
    let other = app.partner().await;

    let list = ok(&app, &p, Method::GET, "/v1/api-keys", None).await;
    assert_eq!(keys(&list), set(&["data", "hasMore"]));
    assert_eq!(list["hasMore"], false);
    let first = list["data"][0].clone();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        keys(&first),
        set(&[
            "id",
            "object",
            "label",
            "prefix",
            "scopes",
            "createdAt",
            "revokedAt"
        ])
    );
    assert!(first["id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(first["object"], "api_key");
    assert_eq!(first["label"], "default");
    assert_eq!(first["prefix"], &p.key[..7]);
    assert_eq!(first["createdAt"], "2026-11-21T12:00:00Z");
    assert_eq!(first["revokedAt"], Value::Null);
    assert!(
        !list.to_string().contains(&p.key),
        "the key is never listed"
    );

    // A new key, shown once, that works at once.
    app.advance(Duration::from_secs(60));
    let made = created(
        &app,
        &p,
        "/v1/api-keys",
        json!({"label": " billing server "}),
    )
    .await;
    assert_eq!(
        keys(&made),
        set(&[
            "id",
            "object",
            "label",
            "prefix",
            "scopes",
            "createdAt",
            "revokedAt",
            "key"
        ])
    );
    assert_eq!(
        made["scopes"],
        json!(["read", "payments", "refunds", "webhooks", "settings"]),
        "a new key gets every scope but admin unless told otherwise"
    );
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk_") && key.len() == 35, "{key}");
    assert!(key[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(made["prefix"], &key[..7]);
    assert_eq!(made["label"], "billing server");
    assert_eq!(made["object"], "api_key");
    assert_eq!(made["createdAt"], "2026-11-21T12:01:00Z");
    assert_eq!(made["revokedAt"], Value::Null);
    let new = TestPartner {
        partner: p.partner.clone(),
        key: key.clone(),
        link_secret: p.link_secret.clone(),
    };
    assert_eq!(partner(&app, &new).await["id"], p.partner.id.as_str());

    let list = ok(&app, &p, Method::GET, "/v1/api-keys", None).await;
    assert_eq!(
        ids(&list),
        vec![made["id"].as_str().unwrap(), first["id"].as_str().unwrap()],
        "newest first"
    );
    assert!(!list.to_string().contains(&key), "the key is never listed");
    let page = ok(&app, &p, Method::GET, "/v1/api-keys?limit=1", None).await;
    assert_eq!(ids(&page), vec![made["id"].as_str().unwrap()]);
    assert_eq!(page["hasMore"], true);
    let page = ok(
        &app,
        &p,
        Method::GET,
        &format!(
            "/v1/api-keys?limit=1&startingAfter={}",
            made["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(ids(&page), vec![first["id"].as_str().unwrap()]);
    assert_eq!(page["hasMore"], false);

    // Revoked: it stops working; revoking again answers the same record.
    app.advance(Duration::from_secs(60));
    let revoke = format!("/v1/api-keys/{}/revoke", made["id"].as_str().unwrap());
    let revoked = ok(&app, &p, Method::POST, &revoke, None).await;
    assert_eq!(revoked["revokedAt"], "2026-11-21T12:02:00Z");
    assert_eq!(revoked["id"], made["id"]);
    assert!(revoked.get("key").is_none());
    let r = call(&app, &new, Method::GET, "/v1/partner", None).await;
    assert_eq!(
        error(&r),
        err(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key"
        )
    );
    app.advance(Duration::from_secs(60));
    let again = ok(&app, &p, Method::POST, &revoke, None).await;
    assert_eq!(again, revoked, "revoking twice changes nothing");

    // A key may revoke itself; the next call with it is refused.
    let spare = created(
        &app,
        &p,
        "/v1/api-keys",
        json!({"label": "spare", "scopes": ["read", "payments", "refunds", "webhooks", "settings", "admin"]}),
    )
    .await;
    let own = format!("/v1/api-keys/{}/revoke", first["id"].as_str().unwrap());
    let r = ok(&app, &p, Method::POST, &own, None).await;
    assert!(r["revokedAt"].is_string());
    let r = call(&app, &p, Method::GET, "/v1/api-keys", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let p = TestPartner {
        partner: p.partner.clone(),
        key: spare["key"].as_str().unwrap().to_string(),
        link_secret: p.link_secret.clone(),
    };
    let list = ok(&app, &p, Method::GET, "/v1/api-keys", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3);

    // Unknown ids, and another partner's, are 404; their key keeps working.
    let theirs = ok(&app, &other, Method::GET, "/v1/api-keys", None).await;
    let theirs = theirs["data"][0]["id"].as_str().unwrap().to_string();
    for id in [
        "key_nope".to_string(),
        ApiKeyId::generate().to_string(),
        theirs.clone(),
        "usr_x".to_string(),
    ] {
        let r = call(
            &app,
            &p,
            Method::POST,
            &format!("/v1/api-keys/{id}/revoke"),
            None,
        )
        .await;
        assert_eq!(
            error(&r),
            err(StatusCode::NOT_FOUND, "not_found", "not_found"),
            "{id}"
        );
    }
    let theirs_list = ok(&app, &other, Method::GET, "/v1/api-keys", None).await;
    assert_eq!(theirs_list["data"][0]["revokedAt"], Value::Null);
    assert_eq!(
        ids(&ok(&app, &p, Method::GET, "/v1/api-keys", None).await).len(),
        3,
        "another partner's keys are not listed"
    );

    // Bad labels and bodies make no key.
    for (body, field, code) in [
        (json!({}), "label", "required"),
        (json!({"label": "  "}), "label", "required"),
        (json!({"label": "x".repeat(101)}), "label", "invalid_length"),
        (json!({"label": "a\u{0}b"}), "label", "invalid_characters"),
        (json!({"label": 5}), "label", "invalid_type"),
        (
            json!({"label": "ok", "scopes": ["all"]}),
            "scopes[0]",
            "invalid_value",
        ),
    ] {
        let r = call(&app, &p, Method::POST, "/v1/api-keys", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(fields(&r), pairs(&[(field, code)]), "{body}");
    }
    let r = call(&app, &p, Method::GET, "/v1/api-keys?label=x", None).await;
    assert_eq!(fields(&r), pairs(&[("label", "unknown_parameter")]));
    let r = call(
        &app,
        &p,
        Method::GET,
        "/v1/api-keys?startingAfter=key_nope",
        None,
    )
    .await;
    assert_eq!(fields(&r), pairs(&[("startingAfter", "unknown_cursor")]));
    assert_eq!(
        ids(&ok(&app, &p, Method::GET, "/v1/api-keys", None).await).len(),
        3,
        "no key made"
    );
});

on_both_backends!(
    a_replayed_key_creation_never_shows_or_stores_the_key,
    |app| {
        let p = app.partner().await;
        let headers = [("Idempotency-Key", "new-key-1")];
        let body = json!({"label": "ci"});
        let first = app
            .api_with(
                &p.key,
                Method::POST,
                "/v1/api-keys",
                Some(body.clone()),
                &headers,
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        let first = first.json();
        let key = first["key"].as_str().unwrap().to_string();

        let again = app
            .api_with(&p.key, Method::POST, "/v1/api-keys", Some(body), &headers)
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        let again = again.json();
        assert_eq!(again["id"], first["id"], "the same key, not another");
        assert_eq!(again["key"], Value::Null, "the key is shown once");
        assert_eq!(again["prefix"], first["prefix"]);
        let list = ok(&app, &p, Method::GET, "/v1/api-keys", None).await;
        assert_eq!(ids(&list).len(), 2, "one key made");

        // The database holds only its hash.
        if let Some(db) = &app.db_path {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal"] {
                let mut path = db.clone().into_os_string();
                path.push(suffix);
                if let Ok(b) = std::fs::read(&path) {
                    bytes.extend(b);
                }
            }
            assert!(bytes.len() > 10_000, "read the database files");
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "the new API key is stored in the clear"
            );
        }
    }
);

// ---------------------------------------------------------------- users

on_both_backends!(users_are_listed_added_and_removed, |app| {
    let p = app.partner().await;
    let other = app.partner().await;

    let list = ok(&app, &p, Method::GET, "/v1/users", None).await;
    assert_eq!(list, json!({"data": [], "hasMore": false}));

    let ada = created(
        &app,
        &p,
        "/v1/users",
        json!({"email": " Ada@Acme.Example ", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        keys(&ada),
        set(&["id", "object", "email", "role", "twoFactor", "createdAt"])
    );
    assert_eq!(ada["role"], "staff", "the default role");
    assert_eq!(ada["twoFactor"], false);
    assert!(ada["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(ada["object"], "user");
    assert_eq!(ada["email"], "ada@acme.example");
    assert_eq!(ada["createdAt"], "2026-11-21T12:00:00Z");
    // Only an Argon2id hash of the password is kept.
    let (user, hash) = app
        .store
        .users_by_email("ada@acme.example")
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(user.partner_id, p.partner.id);
    assert!(hash.expose().starts_with("$argon2id$"));
    assert!(kassa_server::admin::verify_password(
        PASSWORD,
        hash.expose()
    ));

    app.advance(Duration::from_secs(60));
    let bob = created(
        &app,
        &p,
        "/v1/users",
        json!({"email": "bob@acme.example", "password": PASSWORD, "role": "owner"}),
    )
    .await;
    let theirs = created(
        &app,
        &other,
        "/v1/users",
        json!({"email": "cy@other.example", "password": PASSWORD}),
    )
    .await;
    let list = ok(&app, &p, Method::GET, "/v1/users", None).await;
    assert_eq!(
        ids(&list),
        vec![bob["id"].as_str().unwrap(), ada["id"].as_str().unwrap()],
        "newest first, and only this partner's"
    );
    let page = ok(&app, &p, Method::GET, "/v1/users?limit=1", None).await;
    assert_eq!(ids(&page), vec![bob["id"].as_str().unwrap()]);
    assert_eq!(page["hasMore"], true);

    // An email has one user in a partner, in any case. (Another partner's users are neither
    // counted nor revealed: tests/roles.rs.)
    for (who, email) in [(&p, "ADA@acme.example"), (&other, "cy@other.example")] {
        let r = call(
            &app,
            who,
            Method::POST,
            "/v1/users",
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
        assert_eq!(
            error(&r),
            err(StatusCode::CONFLICT, "conflict", "email_taken"),
            "{email}"
        );
        assert_eq!(fields(&r), pairs(&[("email", "email_taken")]));
    }

    // Every invalid field at once.
    for (body, expected) in [
        (
            json!({}),
            vec![("email", "required"), ("password", "required")],
        ),
        (
            json!({"email": "not-an-email", "password": "short"}),
            vec![("email", "invalid_email"), ("password", "too_short")],
        ),
        (
            json!({"email": "dee@acme.example", "password": "x".repeat(11)}),
            vec![("password", "too_short")],
        ),
        (
            json!({"email": "dee@acme.example", "password": PASSWORD, "role": "admin"}),
            vec![("role", "invalid_value")],
        ),
        (
            json!({"email": "dee@acme.example", "password": 123456789012i64}),
            vec![("password", "invalid_type")],
        ),
    ] {
        let r = call(&app, &p, Method::POST, "/v1/users", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(fields(&r), pairs(&expected), "{body}");
    }
    assert_eq!(
        ids(&ok(&app, &p, Method::GET, "/v1/users", None).await).len(),
        2,
        "no user made by a refused request"
    );
    assert!(app
        .store
        .users_by_email("dee@acme.example")
        .await
        .unwrap()
        .is_empty());

    // Unknown ids, and another partner's user, are 404; nothing is removed.
    for id in [
        "usr_nope".to_string(),
        UserId::generate().to_string(),
        theirs["id"].as_str().unwrap().to_string(),
        "key_x".to_string(),
    ] {
        let r = call(&app, &p, Method::DELETE, &format!("/v1/users/{id}"), None).await;
        assert_eq!(
            error(&r),
            err(StatusCode::NOT_FOUND, "not_found", "not_found"),
            "{id}"
        );
    }
    assert_eq!(
        ids(&ok(&app, &other, Method::GET, "/v1/users", None).await).len(),
        1
    );

    // Removing a user ends their sessions.
    let user_id = UserId::parse(ada["id"].as_str().unwrap()).unwrap();
    let ada_user = app
        .store
        .user_by_email(&p.partner.id, "ada@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada_user.id, user_id);
    let expires = app.clock.now() + time::Duration::hours(1);
    app.store
        .create_session(
            "session-of-ada",
            &ada_user,
            expires,
            &kassa_core::audit::Caller::cli("test", app.clock.now()),
        )
        .await
        .unwrap();
    assert!(app
        .store
        .session(
            "session-of-ada",
            app.clock.now(),
            app.clock.now() - time::Duration::minutes(15)
        )
        .await
        .unwrap()
        .is_some());
    let gone = ok(
        &app,
        &p,
        Method::DELETE,
        &format!("/v1/users/{user_id}"),
        None,
    )
    .await;
    assert_eq!(
        gone,
        json!({"id": user_id.as_str(), "object": "user", "deleted": true})
    );
    assert!(app
        .store
        .session(
            "session-of-ada",
            app.clock.now(),
            app.clock.now() - time::Duration::minutes(15)
        )
        .await
        .unwrap()
        .is_none());
    assert!(app
        .store
        .user_by_email(&p.partner.id, "ada@acme.example")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        ids(&ok(&app, &p, Method::GET, "/v1/users", None).await),
        vec![bob["id"].as_str().unwrap()]
    );
    let r = call(
        &app,
        &p,
        Method::DELETE,
        &format!("/v1/users/{user_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "removed once");

    // The last owner stays, so the partner can always manage its account.
    let r = call(
        &app,
        &p,
        Method::DELETE,
        &format!("/v1/users/{}", bob["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(
        error(&r),
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_state",
            "last_owner"
        )
    );
    assert_eq!(
        ids(&ok(&app, &p, Method::GET, "/v1/users", None).await),
        vec![bob["id"].as_str().unwrap()]
    );

    // Its email is free again: the removed user can be added anew.
    let back = created(
        &app,
        &p,
        "/v1/users",
        json!({"email": "ada@acme.example", "password": PASSWORD}),
    )
    .await;
    assert_ne!(back["id"], ada["id"]);
});

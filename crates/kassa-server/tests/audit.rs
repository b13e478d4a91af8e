//! The audit log (docs/api.md §9), on both backends: every change made through the API writes
//! exactly one event with its actor, object, outcome, address and user agent; replays write
//! none; `GET /v1/audit-events` filters; refunds name who made them; the chain verifies, and
//! names the row that was altered behind the database's back.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use serde_json::{json, Value};

const PEER: &str = "203.0.113.7";
const AGENT: &str = "bookkeeping/2.1";

/// An API call from [`PEER`] with [`AGENT`].
async fn call(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::USER_AGENT, AGENT)
        .header(header::CONTENT_TYPE, "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.send_from(PEER, req.body(body).unwrap()).await
}

async fn made(app: &TestApp, key: &str, path: &str, body: Value) -> Value {
    let r = call(app, key, Method::POST, path, Some(body)).await;
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
    r.json()
}

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030", "securityCode": "123"}})
}

fn invoice(total: &str) -> Value {
    json!({"invoiceLineItems": [{"name": "Consulting", "value": total, "valueType": "Standard"}]})
}

/// Every audit event of the partner, oldest first.
async fn events(app: &TestApp, p: &TestPartner) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/v1/audit-events?limit=100{after}");
        let page = app.api(&p.key, Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let page = page.json();
        let data = page["data"].as_array().unwrap().clone();
        if let Some(last) = data.last() {
            after = format!("&startingAfter={}", last["id"].as_str().unwrap());
        }
        all.extend(data);
        if page["hasMore"] != true {
            break;
        }
    }
    all.reverse();
    all
}

on_both_backends!(each_api_change_writes_one_event, |app| {
    let p = app.partner().await;
    let key_id = app.store.list_api_keys(&p.partner.id).await.unwrap()[0]
        .id
        .to_string();
    let k = &p.key;

    let pr = made(
        &app,
        k,
        "/v1/payment-requests",
        json!({"amount": "25.00", "referenceId": "A-1"}),
    )
    .await;
    // The same reference again finds the request: nothing changed, nothing recorded.
    made(
        &app,
        k,
        "/v1/payment-requests",
        json!({"amount": "25.00", "referenceId": "A-1"}),
    )
    .await;
    let pr = pr["id"].as_str().unwrap().to_string();
    made(
        &app,
        k,
        &format!("/v1/payment-requests/{pr}/cancel"),
        json!({}),
    )
    .await;

    let customer = made(
        &app,
        k,
        "/v1/customers",
        json!({"firstName": "Grace", "lastName": "Hopper"}),
    )
    .await;
    let customer = customer["id"].as_str().unwrap().to_string();
    let r = call(
        &app,
        k,
        Method::PATCH,
        &format!("/v1/customers/{customer}"),
        Some(json!({"lastName": "Murray"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut pm_body = card("5555555555554444");
    pm_body["customerId"] = json!(customer);
    let pm = made(&app, k, "/v1/payment-methods", pm_body).await;
    let pm = pm["id"].as_str().unwrap().to_string();
    let r = call(
        &app,
        k,
        Method::DELETE,
        &format!("/v1/payment-methods/{pm}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let sale = made(
        &app,
        k,
        "/v1/payments/sale",
        json!({
        "firstName": "Ada", "lastName": "Lovelace", "paymentMethod": card("4242424242424242"),
        "invoice": invoice("40.00")}),
    )
    .await;
    let sale = sale["id"].as_str().unwrap().to_string();
    let refund = made(
        &app,
        k,
        &format!("/v1/payments/{sale}/refunds"),
        json!({"amount": "5.00"}),
    )
    .await;
    assert_eq!(
        refund["createdBy"],
        json!({"type": "api_key", "id": key_id, "name": "default"}),
        "a refund names who made it"
    );
    let refund = refund["id"].as_str().unwrap().to_string();

    let auth = made(
        &app,
        k,
        "/v1/payments/authorization",
        json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"),
        "invoice": invoice("100.00")}),
    )
    .await;
    let auth = auth["id"].as_str().unwrap().to_string();
    let capture = made(
        &app,
        k,
        &format!("/v1/payments/capture/{auth}"),
        json!({"amount": "60.00"}),
    )
    .await;
    let second = made(
        &app,
        k,
        "/v1/payments/authorization",
        json!({
        "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"),
        "invoice": invoice("10.00")}),
    )
    .await;
    let second = second["id"].as_str().unwrap().to_string();
    made(
        &app,
        k,
        &format!("/v1/payments/authorization/{second}/reverse"),
        json!({}),
    )
    .await;

    let endpoint = made(
        &app,
        k,
        "/v1/webhook-endpoints",
        json!({"url": "https://hooks.example/kassa", "events": ["*"]}),
    )
    .await;
    let endpoint = endpoint["id"].as_str().unwrap().to_string();
    made(
        &app,
        k,
        &format!("/v1/webhook-endpoints/{endpoint}/rotate-secret"),
        json!({}),
    )
    .await;
    let r = call(
        &app,
        k,
        Method::DELETE,
        &format!("/v1/webhook-endpoints/{endpoint}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let new_key = made(
        &app,
        k,
        "/v1/api-keys",
        json!({"label": "reader", "scopes": ["read"]}),
    )
    .await;
    let new_key_id = new_key["id"].as_str().unwrap().to_string();
    made(
        &app,
        k,
        &format!("/v1/api-keys/{new_key_id}/revoke"),
        json!({}),
    )
    .await;
    let r = call(
        &app,
        k,
        Method::PATCH,
        "/v1/partner",
        Some(json!({"brandColor": "#112233", "name": "Acme Repairs"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let log = events(&app, &p).await;
    let expected = [
        ("payment_request.created", pr.clone()),
        ("payment_request.canceled", pr.clone()),
        ("customer.created", customer.clone()),
        ("customer.updated", customer.clone()),
        ("payment_method.created", pm.clone()),
        ("payment_method.deleted", pm.clone()),
        ("payment.created", sale.clone()),
        ("refund.created", refund.clone()),
        ("authorization.created", auth.clone()),
        ("authorization.captured", auth.clone()),
        ("authorization.created", second.clone()),
        ("authorization.reversed", second.clone()),
        ("webhook_endpoint.created", endpoint.clone()),
        ("webhook_endpoint.secret_rotated", endpoint.clone()),
        ("webhook_endpoint.deleted", endpoint.clone()),
        ("api_key.created", new_key_id.clone()),
        ("api_key.revoked", new_key_id.clone()),
        ("partner.updated", p.partner.id.to_string()),
    ];
    // The partner's creation (by the operator) comes first; then exactly these, in order.
    assert_eq!(log[0]["action"], "partner.created");
    assert_eq!(log[0]["actor"]["type"], "cli");
    let api: Vec<(String, String)> = log[1..]
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["objectId"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, o)| (a.to_string(), o.clone()))
        .collect();
    assert_eq!(api, expected);
    for e in &log[1..] {
        assert_eq!(e["object"], "audit_event");
        assert!(e["id"].as_str().unwrap().starts_with("aud_"));
        assert_eq!(e["outcome"], "succeeded", "{e}");
        assert_eq!(
            e["actor"],
            json!({"type": "api_key", "id": key_id, "name": "default"}),
            "{e}"
        );
        assert_eq!(e["ip"], PEER, "{e}");
        assert_eq!(e["userAgent"], AGENT, "{e}");
        assert_eq!(e["createdAt"], "2026-11-21T12:00:00Z", "{e}");
    }
    let settings = log.last().unwrap();
    assert_eq!(
        settings["details"],
        json!({"before": {"brandColor": "#1f4fd1", "name": "Acme Services"},
               "after": {"brandColor": "#112233", "name": "Acme Repairs"}}),
        "a settings change records what it replaced"
    );
    let captured = log
        .iter()
        .find(|e| e["action"] == "authorization.captured")
        .unwrap();
    assert_eq!(captured["details"]["paymentId"], capture["id"]);
    assert!(
        !log.iter()
            .any(|e| e.to_string().contains("4242424242424242")
                || e.to_string().contains(new_key["key"].as_str().unwrap())),
        "no card number or key in the log"
    );

    // Filters.
    let filtered = |query: &'static str| {
        let app = &app;
        let p = &p;
        async move {
            let r = app
                .api(
                    &p.key,
                    Method::GET,
                    &format!("/v1/audit-events?{query}"),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
            r.json()["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(filtered("action=authorization.created").await, 2);
    assert_eq!(filtered("createdFrom=2026-11-21T12:00:01Z").await, 0);
    assert_eq!(
        filtered("createdTo=2026-11-21T12:00:00Z&limit=100").await,
        log.len()
    );
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/audit-events?objectId={auth}"),
            None,
        )
        .await;
    let actions: Vec<_> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(
        actions,
        vec![
            json!("authorization.captured"),
            json!("authorization.created")
        ],
        "newest first"
    );
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/audit-events?actorId={key_id}&limit=100"),
            None,
        )
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), expected.len());
    for bad in [
        "action=refund.deleted",
        "createdFrom=yesterday",
        "colour=red",
    ] {
        let r = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/audit-events?{bad}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
    }

    // Another partner sees none of it.
    let other = app.partner().await;
    let theirs = events(&app, &other).await;
    assert_eq!(theirs.len(), 1, "only their own creation");
});

on_both_backends!(an_idempotent_replay_writes_nothing, |app| {
    let p = app.partner().await;
    let body = json!({"firstName": "Ada", "lastName": "Lovelace", "paymentMethod": card("4242424242424242"),
                      "invoice": invoice("12.00")});
    for _ in 0..3 {
        let r = app
            .api_with(
                &p.key,
                Method::POST,
                "/v1/payments/sale",
                Some(body.clone()),
                &[("Idempotency-Key", "sale-1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let log = events(&app, &p).await;
    assert_eq!(
        log.iter()
            .filter(|e| e["action"] == "payment.created")
            .count(),
        1
    );
});

on_both_backends!(the_chain_verifies_and_names_an_altered_row, |app| {
    let p = app.partner().await;
    for n in 0..3 {
        made(
            &app,
            &p.key,
            "/v1/payment-requests",
            json!({"amount": "1.00", "referenceId": format!("V-{n}")}),
        )
        .await;
    }
    let reports = kassa_server::admin::verify_audit(app.store.as_ref(), Some(&p.partner))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].result, Ok(4));

    // The database refuses to change or remove an event.
    let log = events(&app, &p).await;
    let victim = log[2]["id"].as_str().unwrap().to_string();
    for sql in [
        format!("UPDATE audit_events SET actor_name = 'someone else' WHERE id = '{victim}'"),
        format!("DELETE FROM audit_events WHERE id = '{victim}'"),
    ] {
        let refused = app.raw_sql(&sql).await;
        let e = refused.expect_err("the database refuses it");
        assert!(e.contains("append-only"), "{e}");
    }

    // Behind its back (the guard taken away), a change is found and named.
    app.raw_sql_unguarded(&format!(
        "UPDATE audit_events SET object_id = 'pr_forged' WHERE id = '{victim}'"
    ))
    .await;
    let reports = kassa_server::admin::verify_audit(app.store.as_ref(), Some(&p.partner))
        .await
        .unwrap();
    let broken = reports[0].result.clone().unwrap_err();
    assert!(broken.to_string().contains(&victim), "{broken}");
    assert!(broken.to_string().contains("#3"), "{broken}");
});

on_both_backends!(
    sign_ins_sign_outs_users_and_role_refusals_are_audited,
    |app| {
        use kassa_core::role::Role;
        const PASSWORD: &str = "correct horse battery";
        let p = app.partner().await;
        for (email, role) in [
            ("owner@acme.example", Role::Owner),
            ("viewer@acme.example", Role::Viewer),
        ] {
            kassa_server::admin::create_user(
                app.store.as_ref(),
                &p.partner.id,
                email,
                PASSWORD,
                role,
                &operator(),
            )
            .await
            .unwrap();
        }
        let mut b = Browser::new(&app);
        let r = b.sign_in("owner@acme.example", "not the password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = b.sign_in("owner@acme.example", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let home = b.get("/dashboard").await;
        let r = b
            .post("/dashboard/logout", &[("csrfToken", &csrf(&home.body))])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);

        // A viewer tries to make an API key: refused, and recorded.
        let mut v = Browser::new(&app);
        v.sign_in("viewer@acme.example", PASSWORD).await;
        let page = v.get("/dashboard/settings").await;
        let r = v
            .post(
                "/dashboard/settings/api-keys",
                &[
                    ("csrfToken", &csrf(&page.body)),
                    ("label", "sneaky"),
                    ("scope_admin", "on"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        let log = events(&app, &p).await;
        let owner = app.store.list_users(&p.partner.id).await.unwrap();
        let owner_id = owner
            .iter()
            .find(|u| u.email == "owner@acme.example")
            .unwrap()
            .id
            .to_string();
        let viewer_id = owner
            .iter()
            .find(|u| u.email == "viewer@acme.example")
            .unwrap()
            .id
            .to_string();
        let summary: Vec<(String, String, String)> = log
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_string(),
                    e["outcome"].as_str().unwrap().to_string(),
                    e["actor"]["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expect = |a: &str, o: &str, who: &str| (a.to_string(), o.to_string(), who.to_string());
        assert_eq!(
            summary[1..],
            [
                expect("user.created", "succeeded", "cli"),
                expect("user.created", "succeeded", "cli"),
                expect("user.signed_in", "failed", &owner_id),
                expect("user.signed_in", "succeeded", &owner_id),
                expect("user.signed_out", "succeeded", &owner_id),
                expect("user.signed_in", "succeeded", &viewer_id),
                expect("access.denied", "denied", &viewer_id),
            ]
        );
        let denied = log.last().unwrap();
        assert_eq!(denied["details"]["dashboardAction"], "manage_api_keys");
        assert_eq!(denied["actor"]["type"], "user");
        assert_eq!(denied["actor"]["name"], "viewer@acme.example");

        // A wrong password for an email nobody has is kept on the installation's chain, never a
        // partner's.
        let mut stranger = Browser::new(&app);
        stranger.sign_in("nobody@elsewhere.example", PASSWORD).await;
        assert_eq!(events(&app, &p).await.len(), log.len());
    }
);

on_both_backends!(
    the_dashboard_shows_the_log_to_owners_and_who_refunded,
    |app| {
        use kassa_core::role::Role;
        const PASSWORD: &str = "correct horse battery";
        let p = app.partner().await;
        for (email, role) in [
            ("owner@acme.example", Role::Owner),
            ("staff@acme.example", Role::Staff),
        ] {
            kassa_server::admin::create_user(
                app.store.as_ref(),
                &p.partner.id,
                email,
                PASSWORD,
                role,
                &operator(),
            )
            .await
            .unwrap();
        }
        let sale = made(
            &app,
            &p.key,
            "/v1/payments/sale",
            json!({
        "firstName": "Ada", "lastName": "Lovelace", "paymentMethod": card("4242424242424242"),
        "invoice": invoice("30.00")}),
        )
        .await;
        let sale = sale["id"].as_str().unwrap().to_string();

        // Staff refund from the dashboard: the refund names them, the timeline says who did what.
        let mut s = Browser::new(&app);
        s.sign_in("staff@acme.example", PASSWORD).await;
        let refund_path = format!("/dashboard/transactions/{sale}/refund");
        let form = s.get(&refund_path).await;
        let token = csrf(&form.body);
        let review = s
            .post(
                &refund_path,
                &[
                    ("csrfToken", &token),
                    ("amount", "4.00"),
                    ("reason", "Late"),
                    ("step", "review"),
                ],
            )
            .await;
        let at = review
            .body
            .find("name=\"key\"")
            .expect("the review form's key");
        let key = extract(&review.body[at..], "value=\"", "\"").unwrap();
        let r = s
            .post(
                &refund_path,
                &[
                    ("csrfToken", &token),
                    ("amount", "4.00"),
                    ("reason", "Late"),
                    ("key", &key),
                    ("step", "apply"),
                ],
            )
            .await;
        assert!(
            r.status.is_redirection() || r.status.is_success(),
            "{} {}",
            r.status,
            r.body
        );
        let refunds = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/refunds?paymentId={sale}"),
                None,
            )
            .await
            .json();
        let refund = &refunds["data"][0];
        assert_eq!(refund["createdBy"]["type"], "user", "{refunds}");
        assert_eq!(refund["createdBy"]["name"], "staff@acme.example");
        let details = s.get(&format!("/dashboard/transactions/{sale}")).await;
        assert!(
            details.body.contains("by default (API key)"),
            "the sale's maker: {}",
            details.body
        );
        assert!(
            details.body.contains("by staff@acme.example (user)"),
            "the refund's maker"
        );

        // Staff may not read the log; the owner may, with filters and as CSV.
        assert_eq!(
            s.get("/dashboard/audit").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.get("/dashboard/audit.csv").await.status,
            StatusCode::FORBIDDEN
        );
        let mut o = Browser::new(&app);
        o.sign_in("owner@acme.example", PASSWORD).await;
        let page = o.get("/dashboard/audit").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("refund.created") && page.body.contains("payment.created"));
        assert!(
            page.body.contains("access.denied"),
            "the staff member's refusals are listed"
        );
        let only = o.get("/dashboard/audit?action=refund.created").await;
        assert!(
            only.body.contains("refund.created")
                && !only.body.contains("<code>payment.created</code>")
        );
        let bad = o.get("/dashboard/audit?action=nope&from=yesterday").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("Unknown action.") && bad.body.contains("From must be a date"));
        let csv = o.get(&format!("/dashboard/audit.csv?object={sale}")).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(
            csv.header("content-type").as_deref(),
            Some("text/csv; charset=utf-8")
        );
        let lines: Vec<&str> = csv.body.lines().collect();
        assert!(lines[0].starts_with("id,created_at,action,outcome,actor_type"));
        assert_eq!(lines.len(), 2, "{}", csv.body);
        assert!(
            lines[1].contains(",payment.created,succeeded,api_key,"),
            "{}",
            lines[1]
        );
    }
);

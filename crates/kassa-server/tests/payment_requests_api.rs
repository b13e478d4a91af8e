//! The payment request API (docs/api.md §1–2) on both backends.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

on_both_backends!(create_is_idempotent_by_reference, |app| {
    let p = app.partner().await;
    let body = json!({"amount": "250.00", "referenceId": "QUOTE-123", "redirectUrl": "https://acme.example/thanks",
                      "description": "Deposit for quote 123", "payerEmail": "client@example.com",
                      "metadata": {"quote": "123"}});
    let first = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let pr = first.json();
    assert!(pr["id"].as_str().unwrap().starts_with("pr_"));
    assert_eq!(pr["object"], "payment_request");
    assert_eq!(pr["amount"], "250.00");
    assert_eq!(pr["currency"], "USD");
    assert_eq!(pr["status"], "open");
    assert_eq!(pr["attemptCount"], 0);
    assert_eq!(pr["metadata"]["quote"], "123");
    assert_eq!(pr["payerEmail"], "client@example.com");
    assert_eq!(
        pr["url"],
        format!(
            "http://kassa.test/p/{}/pay/{}",
            p.partner.slug,
            pr["id"].as_str().unwrap()
        )
    );

    // Same reference and amount: the existing object, 200, no duplicate.
    let again = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": 250, "referenceId": "QUOTE-123"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["id"], pr["id"]);

    // Same reference, another amount: 409, nothing changed.
    let conflict = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "251.00", "referenceId": "QUOTE-123"})),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.json()["error"]["code"], "reference_conflict");
    assert_eq!(conflict.json()["error"]["type"], "conflict");
    let list = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?referenceId=QUOTE-123",
            None,
        )
        .await
        .json();
    assert_eq!(ids(&list), vec![pr["id"].as_str().unwrap().to_string()]);
    assert_eq!(list["data"][0]["amount"], "250.00");

    // Another partner may reuse the reference.
    let q = app.partner().await;
    let other = app
        .api(
            &q.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "9.99", "referenceId": "QUOTE-123"})),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
});

on_both_backends!(amounts_are_parsed_exactly, |app| {
    let p = app.partner().await;
    let cases = [
        (json!("1e3"), "invalid_amount"),
        (json!("NaN"), "invalid_amount"),
        (json!("Infinity"), "invalid_amount"),
        (json!("+5"), "invalid_amount"),
        (json!(".5"), "invalid_amount"),
        (json!("1,000.00"), "invalid_amount"),
        (json!("250.001"), "too_many_decimals"),
        (json!("-5.00"), "negative_amount"),
        (json!("1000000.00"), "amount_too_large"),
        (json!("0.00"), "must_be_positive"),
        (json!("１０"), "invalid_amount"),
        (json!(true), "invalid_amount"),
    ];
    for (i, (amount, code)) in cases.into_iter().enumerate() {
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/payment-requests",
                Some(json!({"amount": amount, "referenceId": format!("R{i}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{amount}: {}", r.body);
        let e = r.json();
        assert_eq!(e["error"]["code"], "validation_failed", "{amount}");
        assert_eq!(e["error"]["errors"][0]["field"], "amount", "{amount}");
        assert_eq!(
            e["error"]["errors"][0]["code"], code,
            "{amount}: {}",
            r.body
        );
    }
    // JSON numbers are read from their text: an exponent is refused, not computed.
    for raw in [
        r#"{"amount": 1e3, "referenceId": "E1"}"#,
        r#"{"amount": 1.005, "referenceId": "E2"}"#,
        r#"{"amount": -0.5, "referenceId": "E3"}"#,
    ] {
        let r = app.post_raw(&p.key, "/v1/payment-requests", raw, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{raw}: {}", r.body);
        assert_eq!(r.json()["error"]["errors"][0]["field"], "amount", "{raw}");
    }
    // A JSON number with two decimals is read from its text, exactly.
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(serde_json::from_str(r#"{"amount": 0.29, "referenceId": "N1"}"#).unwrap()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["amount"], "0.29");
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "999999.99", "referenceId": "MAX"})),
        )
        .await;
    assert_eq!(r.json()["amount"], "999999.99");
    // Nothing was stored for the rejected ones.
    let list = app
        .api(&p.key, Method::GET, "/v1/payment-requests?limit=100", None)
        .await
        .json();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
});

on_both_backends!(every_invalid_field_is_reported_at_once, |app| {
    let p = app.partner().await;
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "12.345", "currency": "EUR", "referenceId": "bad\u{7}ref",
                        "redirectUrl": "http://evil.example/", "payerEmail": "nope", "expiresAt": "tomorrow"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json();
    assert_eq!(e["error"]["type"], "invalid_request");
    assert_eq!(e["error"]["message"], "6 fields are invalid");
    let mut fields: Vec<&str> = e["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "amount",
            "currency",
            "expiresAt",
            "payerEmail",
            "redirectUrl",
            "referenceId"
        ]
    );

    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "10.00", "referenceId": "X", "currency": "EUR"})),
        )
        .await;
    assert_eq!(r.json()["error"]["code"], "unsupported_currency");

    for (body, field) in [
        (json!({"amount": "10.00"}), "referenceId"),
        (json!({"amount": "10.00", "referenceId": ""}), "referenceId"),
        (
            json!({"amount": "10.00", "referenceId": "x".repeat(101)}),
            "referenceId",
        ),
        (json!({"referenceId": "A"}), "amount"),
        (
            json!({"amount": "10.00", "referenceId": "A", "redirectUrl": "https://user:pw@acme.example/"}),
            "redirectUrl",
        ),
        (
            json!({"amount": "10.00", "referenceId": "A", "redirectUrl": "javascript:alert(1)"}),
            "redirectUrl",
        ),
        (
            json!({"amount": "10.00", "referenceId": "A", "expiresAt": "2020-01-01T00:00:00Z"}),
            "expiresAt",
        ),
        (
            json!({"amount": "10.00", "referenceId": "A", "referenceIdd": "typo"}),
            "referenceIdd",
        ),
        (json!({"amount": "10.00", "referenceId": 5}), "referenceId"),
    ] {
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/payment-requests",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            r.json()["error"]["errors"][0]["field"],
            field,
            "{body}: {}",
            r.body
        );
    }
    // http is fine for local development addresses.
    let r = app
        .api(&p.key, Method::POST, "/v1/payment-requests", Some(json!({"amount": "1.00", "referenceId": "L", "redirectUrl": "http://localhost:3000/done"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    for raw in [
        "{",
        "[1,2]",
        "null",
        "\"x\"",
        r#"{"amount":"1.00","referenceId":"T"}garbage"#,
        r#"{"amount":"1.00","referenceId":"T"} {}"#,
        "{} {}",
        "{}]",
    ] {
        let r = app.post_raw(&p.key, "/v1/payment-requests", raw, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(
            r.json()["error"]["code"],
            "malformed_json",
            "{raw}: {}",
            r.body
        );
    }
    // Only whitespace may follow the value; nothing was created by the refused bodies.
    let r = app
        .post_raw(
            &p.key,
            "/v1/payment-requests",
            "{\"amount\":\"1.00\",\"referenceId\":\"T\"}\n  ",
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["referenceId"], "T");
});

on_both_backends!(api_keys_are_required_and_scoped, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "10.00", "SCOPE-1").await;
    let id = pr["id"].as_str().unwrap();

    let r = app.get(&format!("/v1/payment-requests/{id}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "missing_api_key");
    let r = app
        .api(
            "sk_notarealkey000000000000000000000",
            Method::GET,
            &format!("/v1/payment-requests/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "invalid_api_key");

    // Another partner's id is answered exactly like one that does not exist.
    let q = app.partner().await;
    let theirs = app
        .api(
            &q.key,
            Method::GET,
            &format!("/v1/payment-requests/{id}"),
            None,
        )
        .await;
    let missing = app
        .api(
            &q.key,
            Method::GET,
            "/v1/payment-requests/pr_000000000000000000000000",
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.body, missing.body);
    let r = app
        .api(
            &q.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_request(&p, id).await["status"], "open");
    let r = app
        .api(&q.key, Method::GET, "/v1/payment-requests/not-an-id", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A revoked key stops working at once.
    let key_id = app.store.list_api_keys(&p.partner.id).await.unwrap()[0]
        .id
        .clone();
    assert!(app
        .store
        .revoke_api_key(&p.partner.id, &key_id, start_time(), &operator())
        .await
        .unwrap());
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/payment-requests/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = app.api(&q.key, Method::GET, "/v1/nothing-here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["type"], "not_found");
});

on_both_backends!(list_filters_and_paginates_newest_first, |app| {
    let p = app.partner().await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            app.create_request(&p, "5.00", &format!("LIST-{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let canceled = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{}/cancel", made[1]),
            None,
        )
        .await;
    assert_eq!(canceled.status, StatusCode::OK);
    assert_eq!(canceled.json()["status"], "canceled");

    let page1 = app
        .api(&p.key, Method::GET, "/v1/payment-requests?limit=2", None)
        .await
        .json();
    assert_eq!(ids(&page1), vec![made[4].clone(), made[3].clone()]);
    assert_eq!(page1["hasMore"], true);
    let page2 = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/payment-requests?limit=2&startingAfter={}", made[3]),
            None,
        )
        .await
        .json();
    assert_eq!(ids(&page2), vec![made[2].clone(), made[1].clone()]);
    let page3 = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/payment-requests?limit=2&startingAfter={}", made[1]),
            None,
        )
        .await
        .json();
    assert_eq!(ids(&page3), vec![made[0].clone()]);
    assert_eq!(page3["hasMore"], false);

    let open = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?status=canceled",
            None,
        )
        .await
        .json();
    assert_eq!(ids(&open), vec![made[1].clone()]);
    let by_ref = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?referenceId=LIST-3",
            None,
        )
        .await
        .json();
    assert_eq!(ids(&by_ref), vec![made[3].clone()]);

    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "status=paid",
        "startingAfter=pr_000000000000000000000000",
        "colour=red",
    ] {
        let r = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payment-requests?{bad}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["error"]["code"], "validation_failed", "{bad}");
    }
    // Another partner sees none of them, and cannot page from their ids.
    let q = app.partner().await;
    let theirs = app
        .api(&q.key, Method::GET, "/v1/payment-requests", None)
        .await
        .json();
    assert!(ids(&theirs).is_empty());
    let r = app
        .api(
            &q.key,
            Method::GET,
            &format!("/v1/payment-requests?startingAfter={}", made[3]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
});

on_both_backends!(cancel_only_while_open, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "20.00", "CANCEL-1").await;
    let id = pr["id"].as_str().unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "not_open");

    // A paid request cannot be canceled either.
    let pr = app.create_request(&p, "20.00", "CANCEL-2").await;
    let mut payer = Payer::new(&app);
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{}/cancel", pr["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "not_open");
});

on_both_backends!(expired_requests_take_no_payment, |app| {
    let p = app.partner().await;
    let r = app
        .api(&p.key, Method::POST, "/v1/payment-requests", Some(json!({"amount": "5.00", "referenceId": "EXP-1", "expiresAt": "2026-11-21T13:00:00Z"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let pr = r.json();
    assert_eq!(pr["expiresAt"], "2026-11-21T13:00:00Z");
    let id = pr["id"].as_str().unwrap();
    app.advance(std::time::Duration::from_secs(2 * 3600));
    // Expired as soon as the deadline passes, also in lists, and recorded by the job.
    assert_eq!(app.get_request(&p, id).await["status"], "expired");
    let list = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?status=expired",
            None,
        )
        .await
        .json();
    assert_eq!(ids(&list), vec![id.to_string()]);
    let list = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?status=open",
            None,
        )
        .await
        .json();
    assert!(ids(&list).is_empty());
    assert!(app.run_jobs().await >= 1);
    let list = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?status=expired",
            None,
        )
        .await
        .json();
    assert_eq!(ids(&list), vec![id.to_string()]);
    let mut payer = Payer::new(&app);
    let page = payer.open(&pay_path(&pr)).await;
    assert!(
        page.body.contains("This payment link has expired"),
        "{}",
        page.body
    );
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(r.json()["error"]["code"], "not_open");
});

on_both_backends!(idempotency_keys_replay_and_refuse, |app| {
    let p = app.partner().await;
    let body = json!({"amount": "30.00", "referenceId": "IDEM-1"});
    let k = [("Idempotency-Key", "key-1")];
    let first = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(body.clone()),
            &k,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.header("idempotent-replayed").is_none());
    let replay = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(body.clone()),
            &k,
        )
        .await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.body, first.body);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );

    let other = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "31.00", "referenceId": "IDEM-1"})),
            &k,
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json()["error"]["code"], "idempotency_key_reused");

    // Keys are scoped to the partner.
    let q = app.partner().await;
    let theirs = app
        .api_with(
            &q.key,
            Method::POST,
            "/v1/payment-requests",
            Some(body.clone()),
            &k,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.json()["id"], first.json()["id"]);

    // A request that failed validation stores nothing: fixing it under the same key works.
    let k2 = [("Idempotency-Key", "key-2")];
    let bad = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "x", "referenceId": "IDEM-2"})),
            &k2,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let good = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "1.00", "referenceId": "IDEM-2"})),
            &k2,
        )
        .await;
    assert_eq!(good.status, StatusCode::CREATED);

    // While the first request with a key is running, a second one is told so.
    let now = start_time();
    let begun = app
        .store
        .idempotency_begin(
            &p.partner.id,
            "key-3",
            "hash",
            now,
            &kassa_store::IdempotencyPolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(begun, kassa_store::IdempotencyBegin::Started);
    let busy = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "1.00", "referenceId": "IDEM-3"})),
            &[("Idempotency-Key", "key-3")],
        )
        .await;
    // Same key, different request hash than the one in flight: refused as reuse.
    assert_eq!(busy.status, StatusCode::UNPROCESSABLE_ENTITY);

    let too_long = "k".repeat(256);
    let r = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "1.00", "referenceId": "IDEM-4"})),
            &[("Idempotency-Key", &too_long)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let list = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?referenceId=IDEM-4",
            None,
        )
        .await
        .json();
    assert!(ids(&list).is_empty());
});

on_both_backends!(idempotency_in_progress_is_a_conflict, |app| {
    let p = app.partner().await;
    let body = json!({"amount": "1.00", "referenceId": "IDEM-5"}).to_string();
    // The digest the middleware computes (keyed with the test vault key): method, path and body.
    let hash = kassa_server::vault::Vault::new(&[42u8; 32])
        .request_digest(&[b"POST /v1/payment-requests\n", body.as_bytes()]);
    app.store
        .idempotency_begin(
            &p.partner.id,
            "key-5",
            &hash,
            start_time(),
            &kassa_store::IdempotencyPolicy::default(),
        )
        .await
        .unwrap();
    let r = app
        .post_raw(
            &p.key,
            "/v1/payment-requests",
            &body,
            &[("idempotency-key", "key-5")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "idempotency_key_in_progress");
});

const METRICS_TOKEN: &str = "metrics-token-0123456789";

on_both_backends!(health_readiness_and_metrics, |app| {
    let app = app.reconfigured(|c| {
        c.metrics.token = Some(kassa_core::secret::Secret::new(METRICS_TOKEN.into()))
    });
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let p = app.partner().await;
    let pr = app.create_request(&p, "3.00", "MET-1").await;
    let mut payer = Payer::new(&app);
    payer.pay_card(&pay_path(&pr), "4000000000000002").await;
    payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    let m = app
        .send(
            axum::http::Request::get("/metrics")
                .header("authorization", format!("Bearer {METRICS_TOKEN}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        m.body
            .contains("kassa_payment_attempts_total{outcome=\"approved\"} 1\n"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("kassa_payment_attempts_total{outcome=\"declined\"} 1\n"),
        "{}",
        m.body
    );
    assert!(m.body.contains("kassa_http_responses_total{class=\"2xx\"}"));
});

on_both_backends!(hostile_input_is_refused_cleanly, |app| {
    let p = app.partner().await;
    // NUL and other control characters never reach the database (PostgreSQL would refuse them).
    for body in [
        json!({"amount": "1.00", "referenceId": "NUL-1", "description": "a\u{0}b"}),
        json!({"amount": "1.00", "referenceId": "NUL\u{0}2"}),
        json!({"amount": "1.00", "referenceId": "NUL-3", "metadata": {"k": "v\u{0}"}}),
        json!({"amount": "1.00", "referenceId": "NUL-4", "payerEmail": "a\u{0}@b.example"}),
    ] {
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/payment-requests",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "validation_failed");
    }
    let ok = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "1.00", "referenceId": "NL-1", "description": "line 1\nline 2"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    for q in [
        "referenceId=%00",
        "startingAfter=%00",
        "startingAfter=pr_%27%3B--",
        "referenceId=",
    ] {
        let r = app
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payment-requests?{q}"),
                None,
            )
            .await;
        assert!(
            r.status == StatusCode::BAD_REQUEST
                || (q == "referenceId=" && r.status == StatusCode::OK),
            "{q}: {}",
            r.body
        );
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json"),
            "{q}"
        );
    }
    for path in [
        "/v1/payment-requests/%FF",
        "/v1/payments/%FF",
        "/v1/payment-requests/%00",
    ] {
        let r = app.api(&p.key, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json()["error"]["type"], "not_found", "{path}");
    }
    // Duplicate keys and wrong shapes are reported, not guessed at.
    let r = app
        .post_raw(
            &p.key,
            "/v1/payment-requests",
            r#"{"amount": "1.00", "amount": "2.00", "referenceId": "DUP"}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("duplicate"), "{}", r.body);
    let list = app
        .api(&p.key, Method::GET, "/v1/payment-requests", None)
        .await
        .json();
    assert_eq!(ids(&list).len(), 1, "only the valid request was stored");
});

on_both_backends!(idempotency_does_not_pin_a_passing_conflict, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "5.00", "IDEM-CXL").await;
    let id = pr["id"].as_str().unwrap();
    let k = [("Idempotency-Key", "cancel-1")];
    let first = app
        .api_with(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
            &k,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = app
        .api_with(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
            &k,
        )
        .await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    // A 409 stores nothing: retrying under the same key asks again.
    let k2 = [("Idempotency-Key", "cancel-2")];
    let r = app
        .api_with(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
            &k2,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .api_with(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{id}/cancel"),
            None,
            &k2,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.header("idempotent-replayed").is_none());
});

on_both_backends!(creation_links_are_built_and_signed_when_required, |app| {
    let p = app.partner().await;
    // An unsigned link may lead back only to an allowed host (docs/api.md §8).
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": 250, "referenceId": "Q 1",
                        "redirectUrl": "https://acme.example/thanks"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.json()["error"]["errors"][0]["code"],
        "redirect_host_not_allowed"
    );
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({"allowedRedirectHosts": ["acme.example"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": 250, "referenceId": "Q 1",
                        "redirectUrl": "https://acme.example/thanks"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = r.json();
    assert_eq!(link["object"], "creation_link");
    assert_eq!(link["signed"], false);
    assert_eq!(
        link["url"],
        format!(
            "http://kassa.test/p/{}/payment-request?amount=250.00&referenceId=Q%201&redirectUrl=https%3A%2F%2Facme.example%2Fthanks",
            p.partner.slug
        )
    );
    // Building a link creates nothing.
    let list = app
        .api(&p.key, Method::GET, "/v1/payment-requests", None)
        .await
        .json();
    assert!(ids(&list).is_empty());

    let bad = app
        .api(
            &p.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": "1e3", "redirectUrl": "ftp://x"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let fields: Vec<String> = bad.json()["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["amount", "referenceId", "redirectUrl"]);
    assert_eq!(
        app.api(
            &p.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": "1.00", "referenceId": "x", "extra": 1}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );

    // A partner that requires signed links gets a signed link, which opens.
    let strict = app.partner_with(|i| i.require_signed_links = true).await;
    let signed = app
        .api(
            &strict.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": "40.00", "referenceId": "SIGNED-2"})),
        )
        .await
        .json();
    assert_eq!(signed["signed"], true);
    let url = signed["url"].as_str().unwrap();
    assert!(url.contains("&signature="));
    let opened = app
        .get(url.strip_prefix("http://kassa.test").unwrap())
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
});

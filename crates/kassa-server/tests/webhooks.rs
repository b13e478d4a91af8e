//! Webhooks (docs/api.md §5) against a real HTTP receiver on 127.0.0.1: events arrive signed,
//! failures are retried with backoff (only the retryable ones), filters, secret rotation,
//! deletion, disabling after sustained failure, at-least-once after a crash, input checks and
//! partner isolation. Time is the frozen clock; the worker runs with `run_jobs`.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::*;
use hmac::{Hmac, Mac};
use kassa_core::clock::Clock;
use serde_json::{json, Value};
use sha2::Sha256;

/// What the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: String,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_string()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn event_id(&self) -> String {
        self.json()["id"].as_str().unwrap().to_string()
    }
}

#[derive(Default)]
struct Script {
    /// Per path: the statuses to answer, in order; then `default`.
    statuses: HashMap<String, VecDeque<u16>>,
    default: u16,
    received: Vec<Received>,
}

/// A small HTTP server on a random port of 127.0.0.1 that records every request and answers
/// scripted statuses.
#[derive(Clone)]
struct Receiver {
    base: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let receiver = Receiver {
            base,
            script: Arc::new(Mutex::new(Script {
                default: 200,
                ..Script::default()
            })),
        };
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `path` answers these statuses first.
    fn script(&self, path: &str, statuses: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .statuses
            .insert(path.to_string(), statuses.iter().copied().collect());
    }

    fn answer_by_default(&self, status: u16) {
        self.script.lock().unwrap().default = status;
    }

    fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn answer(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let status = {
        let mut script = receiver.script.lock().unwrap();
        let default = script.default;
        let status = script
            .statuses
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(default);
        script.received.push(Received {
            path,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
            answered: status,
        });
        status
    };
    let mut resp = (StatusCode::from_u16(status).unwrap(), "answered").into_response();
    if (300..400).contains(&status) {
        resp.headers_mut()
            .insert(header::LOCATION, "/redirected".parse().unwrap());
    }
    resp
}

/// `Kassa-Signature` checked from scratch: `t=<unix>,v1=<hex>[,v1=<hex>]`; the (t, v1s).
fn signature_parts(header: &str) -> (i64, Vec<String>) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=').unwrap() {
            ("t", value) => t = Some(value.parse().unwrap()),
            ("v1", value) => v1.push(value.to_string()),
            other => panic!("unexpected part {other:?}"),
        }
    }
    (t.expect("a timestamp"), v1)
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `secret` signed what was received.
fn signed_with(r: &Received, secret: &str) -> bool {
    let (t, v1) = signature_parts(&r.header("kassa-signature"));
    v1.contains(&sign(secret, t, &r.body))
}

/// Makes an endpoint; its id and secret.
async fn endpoint(app: &TestApp, p: &TestPartner, url: &str, events: Value) -> (String, String) {
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": url, "events": events, "description": "test"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {}", app.backend, r.body);
    let body = r.json();
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// A `payment_request.created` event; the request's id.
async fn event(app: &TestApp, p: &TestPartner, reference: &str) -> String {
    app.create_request(p, "25.00", reference).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn deliveries(app: &TestApp, p: &TestPartner, endpoint: &str) -> Vec<Value> {
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["data"].as_array().unwrap().clone()
}

async fn get_endpoint(app: &TestApp, p: &TestPartner, id: &str) -> Value {
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect()
}

on_both_backends!(events_arrive_signed_and_the_signature_verifies, |app| {
    let receiver = Receiver::start().await;
    let p = app.partner().await;
    let (we, secret) = endpoint(&app, &p, &receiver.url("/hook"), json!(["*"])).await;
    assert!(secret.starts_with("whsec_"));
    let pr = event(&app, &p, "WH-1").await;
    app.run_jobs().await;

    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let r = &got[0];
    assert_eq!(r.header("content-type"), "application/json");
    let body = r.json();
    assert_eq!(body["type"], "payment_request.created");
    assert_eq!(body["data"]["id"], pr.as_str());
    assert_eq!(r.header("kassa-event-id"), body["id"].as_str().unwrap());
    assert!(r.header("kassa-delivery-id").starts_with("whd_"));
    // The signature, checked from scratch, with the time the clock says.
    let (t, v1) = signature_parts(&r.header("kassa-signature"));
    assert_eq!(t, app.clock.now().unix_timestamp());
    assert_eq!(v1, vec![sign(&secret, t, &r.body)]);
    assert!(!signed_with(r, "whsec_someoneelse"));
    // The body is the event as the events API shows it.
    let shown = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/events/{}", body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(shown.json(), body);

    // The delivery and its attempt are logged; the secret is never shown again.
    let list = deliveries(&app, &p, &we).await;
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["eventId"], body["id"]);
    assert_eq!(d["eventType"], "payment_request.created");
    assert_eq!(d["attemptCount"], 1);
    assert_eq!(statuses(d), [json!(200)]);
    assert!(d["attempts"][0]["error"].is_null());
    assert!(d["attempts"][0]["latencyMs"].as_i64().unwrap() >= 0);
    let shown = get_endpoint(&app, &p, &we).await;
    assert!(shown.get("secret").is_none());
    assert_eq!(shown["status"], "enabled");
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 1, "sent once");

    // A manual retry makes a new attempt with the same event.
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/webhook-deliveries/{}/retry", d["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "pending");
    app.run_jobs().await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].event_id(), got[0].event_id());
    let list = deliveries(&app, &p, &we).await;
    assert_eq!(list[0]["status"], "succeeded");
    assert_eq!(statuses(&list[0]), [json!(200), json!(200)]);
});

on_both_backends!(three_failures_then_a_success_delivers_once, |app| {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[500, 500, 500]);
    let p = app.partner().await;
    let (we, _) = endpoint(&app, &p, &receiver.url("/hook"), json!(["*"])).await;
    event(&app, &p, "WH-RETRY").await;
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 1);
    let d = &deliveries(&app, &p, &we).await[0];
    assert_eq!(d["status"], "pending");
    assert!(d["nextAttemptAt"].is_string());
    assert!(get_endpoint(&app, &p, &we).await["failingSince"].is_string());
    // Nothing before the backoff is over; each wait at most doubles, from 30 s.
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 1);
    for (wait, expected) in [(30, 2), (60, 3), (120, 4)] {
        app.advance(Duration::from_secs(wait));
        app.run_jobs().await;
        assert_eq!(receiver.received().len(), expected, "{}", app.backend);
    }
    // Long after: nothing more.
    app.advance(Duration::from_secs(3 * 24 * 3600));
    app.run_jobs().await;
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    let answered: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 500, 500, 200]);
    assert!(got.iter().all(|r| r.event_id() == got[0].event_id()));
    let d = &deliveries(&app, &p, &we).await[0];
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["attemptCount"], 4);
    assert_eq!(
        statuses(d),
        [json!(500), json!(500), json!(500), json!(200)]
    );
    assert!(d["nextAttemptAt"].is_null());
    assert!(get_endpoint(&app, &p, &we).await["failingSince"].is_null());
});

on_both_backends!(only_network_errors_5xx_408_and_429_are_retried, |app| {
    let receiver = Receiver::start().await;
    let p = app.partner().await;
    let mut ids = HashMap::new();
    for (path, script) in [
        ("/s400", vec![400]),
        ("/s410", vec![410]),
        ("/s302", vec![302]),
        ("/s408", vec![408]),
        ("/s429", vec![429]),
        ("/s503", vec![503]),
    ] {
        receiver.script(path, &script);
        ids.insert(
            path,
            endpoint(&app, &p, &receiver.url(path), json!(["*"]))
                .await
                .0,
        );
    }
    // Nothing listens on port 1 of 127.0.0.1: the connection is refused.
    let (refused, _) = endpoint(&app, &p, "http://127.0.0.1:1/hook", json!(["*"])).await;
    event(&app, &p, "WH-CODES").await;
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 6);
    app.advance(Duration::from_secs(30));
    app.run_jobs().await;
    app.advance(Duration::from_secs(60));
    app.run_jobs().await;

    for path in ["/s400", "/s410", "/s302"] {
        assert_eq!(receiver.received_at(path).len(), 1, "{path} is not retried");
        let d = &deliveries(&app, &p, &ids[path]).await[0];
        assert_eq!(d["status"], "failed", "{path}");
        assert_eq!(d["attemptCount"], 1, "{path}");
    }
    // The redirect was not followed.
    assert!(receiver.received_at("/redirected").is_empty());
    for path in ["/s408", "/s429", "/s503"] {
        let got = receiver.received_at(path);
        assert_eq!(got.len(), 2, "{path} is retried");
        assert_eq!(got[1].answered, 200);
        let d = &deliveries(&app, &p, &ids[path]).await[0];
        assert_eq!(d["status"], "succeeded", "{path}");
    }
    let d = &deliveries(&app, &p, &refused).await[0];
    assert_eq!(d["status"], "pending");
    assert!(d["attemptCount"].as_i64().unwrap() >= 2);
    let attempt = &d["attempts"][0];
    assert!(attempt["statusCode"].is_null());
    let error = attempt["error"].as_str().unwrap();
    assert!(error.contains("connect"), "{error}");
    assert!(!error.contains("127.0.0.1:1"), "{error}");
});

on_both_backends!(an_endpoint_gets_only_the_types_it_asked_for, |app| {
    let receiver = Receiver::start().await;
    let p = app.partner().await;
    // An event from before the endpoints existed goes nowhere.
    event(&app, &p, "WH-BEFORE").await;
    app.advance(Duration::from_secs(1));
    let (only, _) = endpoint(
        &app,
        &p,
        &receiver.url("/canceled"),
        json!(["payment_request.canceled"]),
    )
    .await;
    endpoint(&app, &p, &receiver.url("/all"), json!(["*"])).await;
    let pr = event(&app, &p, "WH-FILTER").await;
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payment-requests/{pr}/cancel"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.run_jobs().await;

    let types = |path: &str| -> Vec<String> {
        receiver
            .received_at(path)
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(types("/canceled"), ["payment_request.canceled"]);
    let mut all = types("/all");
    all.sort();
    assert_eq!(all, ["payment_request.canceled", "payment_request.created"]);
    assert_eq!(deliveries(&app, &p, &only).await.len(), 1);
    let shown = get_endpoint(&app, &p, &only).await;
    assert_eq!(shown["events"], json!(["payment_request.canceled"]));
});

on_both_backends!(
    a_crash_between_send_and_record_sends_the_same_event_again,
    |app| {
        let receiver = Receiver::start().await;
        let p = app.partner().await;
        let (we, _) = endpoint(&app, &p, &receiver.url("/hook"), json!(["*"])).await;
        event(&app, &p, "WH-CRASH").await;
        let state = app.app.state();
        let report = kassa_server::webhooks::dispatch(state).await.unwrap();
        assert_eq!((report.events, report.deliveries), (1, 1));

        // A worker leases the delivery's job, sends, and dies before recording the attempt.
        // (A lease of a second: leases run on the database's clock, so the test waits it out.)
        let jobs = app
            .store
            .claim_jobs(&kassa_store::Claim {
                worker: "doomed-worker",
                kinds: &["webhook_delivery"],
                now: app.clock.now(),
                lease: time::Duration::seconds(1),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1);
        let delivery = kassa_core::id::WebhookDeliveryId::parse(
            jobs[0].payload["deliveryId"].as_str().unwrap(),
        )
        .unwrap();
        let sent = kassa_server::webhooks::send(state, &delivery)
            .await
            .unwrap();
        assert!(matches!(sent, kassa_server::webhooks::Attempted::Sent(_)));
        assert_eq!(receiver.received().len(), 1);

        // While the lease holds, no one else sends it.
        assert_eq!(app.run_jobs().await, 0);
        assert_eq!(receiver.received().len(), 1);
        assert_eq!(deliveries(&app, &p, &we).await[0]["status"], "pending");

        // Once it runs out, another worker sends the same event again, and records it.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(app.run_jobs().await, 1);
        let got = receiver.received();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].event_id(), got[1].event_id());
        assert_eq!(got[0].body, got[1].body);
        let d = &deliveries(&app, &p, &we).await[0];
        assert_eq!(d["status"], "succeeded");
        assert_eq!(d["attemptCount"], 1);
    }
);

on_both_backends!(rotation_signs_with_both_secrets_for_a_day, |app| {
    let receiver = Receiver::start().await;
    let p = app.partner().await;
    let (we, old) = endpoint(&app, &p, &receiver.url("/hook"), json!(["*"])).await;
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{we}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rotated = r.json();
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    assert_eq!(
        rotated["previousSecretExpiresAt"],
        kassa_core::clock::format_rfc3339(app.clock.now() + time::Duration::hours(24))
    );

    event(&app, &p, "WH-ROT-1").await;
    app.run_jobs().await;
    let first = &receiver.received()[0];
    let (_, v1) = signature_parts(&first.header("kassa-signature"));
    assert_eq!(v1.len(), 2);
    assert!(signed_with(first, &new) && signed_with(first, &old));

    app.advance(Duration::from_secs(24 * 3600 + 1));
    event(&app, &p, "WH-ROT-2").await;
    app.run_jobs().await;
    let second = &receiver.received()[1];
    let (_, v1) = signature_parts(&second.header("kassa-signature"));
    assert_eq!(v1.len(), 1);
    assert!(signed_with(second, &new) && !signed_with(second, &old));

    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints/we_nope/rotate-secret",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_backends!(deleting_an_endpoint_stops_deliveries, |app| {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[500]);
    let p = app.partner().await;
    let (we, _) = endpoint(&app, &p, &receiver.url("/hook"), json!(["*"])).await;
    event(&app, &p, "WH-DEL-1").await;
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(deliveries(&app, &p, &we).await[0]["status"], "pending");

    let r = app
        .api(
            &p.key,
            Method::DELETE,
            &format!("/v1/webhook-endpoints/{we}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"id": we, "object": "webhook_endpoint", "deleted": true})
    );
    // The retry that was due never comes, and new events go nowhere.
    app.advance(Duration::from_secs(3600));
    event(&app, &p, "WH-DEL-2").await;
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 1);

    for (method, path) in [
        (Method::GET, format!("/v1/webhook-endpoints/{we}")),
        (Method::DELETE, format!("/v1/webhook-endpoints/{we}")),
        (
            Method::GET,
            format!("/v1/webhook-endpoints/{we}/deliveries"),
        ),
    ] {
        let r = app.api(&p.key, method.clone(), &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let list = app
        .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
        .await
        .json();
    assert_eq!(list["data"], json!([]));
});

on_both_backends!(
    sustained_failure_disables_the_endpoint_with_a_reason,
    |app| {
        let receiver = Receiver::start().await;
        receiver.answer_by_default(500);
        // The partner is told by email, where it asked to be.
        let smtp = common::smtp::SmtpServer::start().await;
        let smtp_url = smtp.url();
        let app = app.reconfigured(move |c| {
            c.smtp.url = Some(kassa_core::secret::Secret::new(smtp_url));
        });
        let p = app.partner().await;
        let r = app
            .api(
                &p.key,
                Method::PATCH,
                "/v1/partner",
                Some(json!({"notificationEmail": "ops@acme.example"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let (we, _) = endpoint(&app, &p, &receiver.url("/hook"), json!(["*"])).await;
        event(&app, &p, "WH-DOWN").await;
        // Three days of retries, never more than 6 hours apart.
        let mut steps = 0;
        while get_endpoint(&app, &p, &we).await["status"] == "enabled" {
            app.run_jobs().await;
            app.advance(Duration::from_secs(6 * 3600));
            steps += 1;
            assert!(
                steps < 20,
                "{}: still enabled after {steps} steps",
                app.backend
            );
        }
        let shown = get_endpoint(&app, &p, &we).await;
        assert_eq!(shown["status"], "disabled");
        app.run_jobs().await;
        let notices: Vec<_> = smtp
            .mails_to("ops@acme.example")
            .into_iter()
            .filter(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.starts_with("Webhook endpoint disabled: http://127.0.0.1:"))
            })
            .collect();
        assert_eq!(notices.len(), 1, "{}: {:?}", app.backend, smtp.mails());
        assert!(notices[0]
            .text()
            .contains(&format!("/dashboard/webhooks/{we}")));
        let reason = shown["disabledReason"].as_str().unwrap();
        assert!(
            reason.contains("3 days") && reason.contains("HTTP 500"),
            "{reason}"
        );
        assert!(shown["disabledAt"].is_string() && shown["failingSince"].is_string());
        let sent = receiver.received().len();
        assert!((10..=20).contains(&sent), "{sent}");
        let d = deliveries(&app, &p, &we).await[0].clone();
        assert_eq!(d["status"], "failed");
        assert_eq!(d["attemptCount"].as_u64().unwrap() as usize, sent);

        // While disabled: nothing is sent, and a retry is refused.
        event(&app, &p, "WH-WHILE-DOWN").await;
        app.run_jobs().await;
        assert_eq!(receiver.received().len(), sent);
        assert_eq!(deliveries(&app, &p, &we).await.len(), 1);
        let retry = format!("/v1/webhook-deliveries/{}/retry", d["id"].as_str().unwrap());
        let r = app.api(&p.key, Method::POST, &retry, None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "endpoint_disabled");

        // Enabled again, it gets new events, and the failed delivery can be sent again.
        receiver.answer_by_default(200);
        let r = app
            .api(
                &p.key,
                Method::POST,
                &format!("/v1/webhook-endpoints/{we}/enable"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let shown = r.json();
        assert_eq!(shown["status"], "enabled");
        assert!(shown["disabledReason"].is_null() && shown["failingSince"].is_null());
        let r = app.api(&p.key, Method::POST, &retry, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        event(&app, &p, "WH-BACK").await;
        app.run_jobs().await;
        let got = receiver.received();
        assert_eq!(got.len(), sent + 2);
        let list = deliveries(&app, &p, &we).await;
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|d| d["status"] == "succeeded"), "{list:?}");
    }
);

on_both_backends!(bad_inputs_are_field_errors_and_nothing_is_made, |app| {
    let p = app.partner().await;
    let long = format!("https://hooks.example/{}", "a".repeat(2048));
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("url", "required"), ("events", "required")]),
        (
            json!({"url": "http://hooks.example/x", "events": ["*"]}),
            vec![("url", "insecure_url")],
        ),
        (
            json!({"url": "https://user:pw@hooks.example/x", "events": ["*"]}),
            vec![("url", "credentials_not_allowed")],
        ),
        (
            json!({"url": "hooks.example/x", "events": ["*"]}),
            vec![("url", "invalid_url")],
        ),
        (
            json!({"url": long, "events": ["*"]}),
            vec![("url", "too_long")],
        ),
        (
            json!({"url": "https://hooks.example/x", "events": []}),
            vec![("events", "required")],
        ),
        (
            json!({"url": "https://hooks.example/x", "events": ["*", "payment.completed"]}),
            vec![("events", "invalid_value")],
        ),
        (
            json!({"url": "https://hooks.example/x", "events": ["payment.completed", "payment.exploded"]}),
            vec![("events[1]", "invalid_value")],
        ),
        (
            json!({"url": "https://hooks.example/x", "events": "*"}),
            vec![("events", "invalid_type")],
        ),
        (
            json!({"url": "https://hooks.example/x", "events": ["*"], "secret": "whsec_mine"}),
            vec![("secret", "unknown_field")],
        ),
        (
            json!({"url": "ftp://hooks.example/x", "events": ["nope"],
                   "description": "a\u{7}b"}),
            vec![
                ("url", "invalid_url"),
                ("events[0]", "invalid_value"),
                ("description", "invalid_characters"),
            ],
        ),
        (
            json!({"url": "https://hooks.example/x", "events": ["*"], "description": "d".repeat(501)}),
            vec![("description", "invalid_length")],
        ),
    ];
    for (body, expected) in cases {
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/webhook-endpoints",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let errors: Vec<(String, String)> = r.json()["error"]["errors"]
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
        assert_eq!(errors, expected, "{body}");
    }
    let list = app
        .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
        .await
        .json();
    assert_eq!(list["data"], json!([]));
    let r = app
        .api(
            &p.key,
            Method::GET,
            "/v1/webhook-endpoints/we_nope/deliveries?status=lost",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
});

on_both_backends!(another_partners_ids_are_not_found, |app| {
    let receiver = Receiver::start().await;
    let a = app.partner().await;
    let b = app.partner().await;
    let (we, _) = endpoint(&app, &a, &receiver.url("/a"), json!(["*"])).await;
    event(&app, &a, "WH-A").await;
    // B's events never reach A's endpoint.
    event(&app, &b, "WH-B").await;
    app.run_jobs().await;
    assert_eq!(receiver.received().len(), 1);
    let whd = deliveries(&app, &a, &we).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    for (method, path) in [
        (Method::GET, format!("/v1/webhook-endpoints/{we}")),
        (Method::DELETE, format!("/v1/webhook-endpoints/{we}")),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{we}/rotate-secret"),
        ),
        (Method::POST, format!("/v1/webhook-endpoints/{we}/enable")),
        (
            Method::GET,
            format!("/v1/webhook-endpoints/{we}/deliveries"),
        ),
        (Method::POST, format!("/v1/webhook-deliveries/{whd}/retry")),
        (Method::GET, "/v1/webhook-endpoints/x".to_string()),
        (
            Method::POST,
            "/v1/webhook-deliveries/whd_nope/retry".to_string(),
        ),
    ] {
        let r = app.api(&b.key, method.clone(), &path, None).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["code"], "not_found");
    }
    let list = app
        .api(&b.key, Method::GET, "/v1/webhook-endpoints", None)
        .await
        .json();
    assert_eq!(list["data"], json!([]));
    // A's endpoint is untouched.
    assert_eq!(get_endpoint(&app, &a, &we).await["status"], "enabled");
    let r = app
        .api(
            &b.key,
            Method::GET,
            &format!("/v1/webhook-endpoints?startingAfter={we}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
});

on_both_backends!(a_replayed_creation_does_not_show_the_secret_again, |app| {
    let p = app.partner().await;
    let body = json!({"url": "https://hooks.example/kassa", "events": ["payment.completed"]});
    let key = [("Idempotency-Key", "we-1")];
    let first = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(body),
            &key,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert!(first.json()["secret"].is_string());
    assert!(again.json()["secret"].is_null());
    let list = app
        .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
        .await
        .json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["description"], Value::Null);
});

on_both_backends!(two_instances_on_one_database_send_each_event_once, |app| {
    let receiver = Receiver::start().await;
    let p = app.partner().await;
    endpoint(&app, &p, &receiver.url("/one"), json!(["*"])).await;
    endpoint(&app, &p, &receiver.url("/two"), json!(["*"])).await;
    for i in 0..15 {
        event(&app, &p, &format!("WH-TWO-{i}")).await;
    }
    // A second instance: its own worker id and HTTP client, the same database and clock.
    let mut config = kassa_server::Config {
        data_dir: app.dir.path().to_path_buf(),
        public_url: Some("http://kassa.test".into()),
        ..kassa_server::Config::default()
    };
    config.webhooks.allow_private_networks = true;
    let second = kassa_server::App::new(kassa_server::AppParts {
        config,
        store: app.store.clone(),
        processor: app.processor.clone(),
        clock: app.clock.clone(),
        vault: kassa_server::vault::Vault::new(&[42u8; 32]),
        resolver: None,
    });
    let (one, two) = tokio::join!(app.app.run_pending_jobs(), second.run_pending_jobs());
    assert_eq!(one.unwrap() + two.unwrap(), 30, "{}", app.backend);
    app.run_jobs().await;
    for path in ["/one", "/two"] {
        let mut ids: Vec<String> = receiver
            .received_at(path)
            .iter()
            .map(Received::event_id)
            .collect();
        assert_eq!(ids.len(), 15, "{path}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 15, "{path}: an event was sent twice");
    }
});

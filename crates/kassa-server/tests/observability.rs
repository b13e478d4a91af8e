//! Operating Kassa (docs/api.md §12): every metric family moves with traffic (on both
//! backends), routes are templates and unknown paths add no series, the request log line in JSON
//! with its request id and partner, `X-Request-Id` kept, made or replaced, compression by
//! `Accept-Encoding` (never for HTML), and static files' `ETag`, `Cache-Control` and `304`.

mod common;

use std::sync::{Arc, Mutex, Once};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use kassa_core::secret::Secret;
use kassa_server::config::LogFormat;
use serde_json::{json, Value};
use tower::ServiceExt;

const TOKEN: &str = "metrics-token-0123456789";

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030"}})
}

async fn scrape(app: &TestApp) -> String {
    let r = app
        .send(
            Request::get("/metrics")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

/// The value of one series (its full name with labels), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A receiver that answers every webhook 200.
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(|| async { StatusCode::OK });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

async fn metric_families_move_on(app: TestApp) {
    let app = app.reconfigured(|c| c.metrics.token = Some(Secret::new(TOKEN.into())));
    let name = app.backend;
    let p = app.partner().await;
    let hook = receiver().await;
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": hook, "events": ["payment.completed"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "[{name}] {}", r.body);

    let sale = app
        .api(&p.key, Method::POST, "/v1/payments/sale", Some(json!({
            "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"),
            "invoice": {"invoiceLineItems": [{"name": "x", "value": "20.00", "valueType": "Standard"}]}})))
        .await;
    assert_eq!(sale.status, StatusCode::CREATED, "[{name}] {}", sale.body);
    let payment = sale.json()["id"].as_str().unwrap().to_string();
    let refund = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payments/{payment}/refunds"),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(
        refund.status,
        StatusCode::CREATED,
        "[{name}] {}",
        refund.body
    );
    app.get_payment(&p, &payment).await;

    // A request that expires tomorrow queues its expiry; an hour after it, that job is late.
    let expiring = app
        .api(&p.key, Method::POST, "/v1/payment-requests",
             Some(json!({"amount": "9.00", "referenceId": "obs-exp", "expiresAt": "2026-11-22T12:00:00Z"})))
        .await;
    assert_eq!(
        expiring.status,
        StatusCode::CREATED,
        "[{name}] {}",
        expiring.body
    );
    let queued = scrape(&app).await;
    let series = "kassa_jobs_queued{kind=\"expire_payment_request\"}";
    assert!(
        value(&queued, series).is_some_and(|n| n >= 1.0),
        "[{name}] {queued}"
    );
    assert_eq!(
        value(
            &queued,
            "kassa_jobs_oldest_age_seconds{kind=\"expire_payment_request\"}"
        ),
        Some(0.0),
        "[{name}] not due yet"
    );
    app.advance(std::time::Duration::from_secs(25 * 3600));
    let late = scrape(&app).await;
    assert!(
        value(
            &late,
            "kassa_jobs_oldest_age_seconds{kind=\"expire_payment_request\"}"
        )
        .is_some_and(|s| s >= 3600.0),
        "[{name}] {late}"
    );

    app.run_jobs().await;
    let text = scrape(&app).await;
    let expect = |series: &str, at_least: f64| {
        let v = value(&text, series).unwrap_or_else(|| panic!("[{name}] no {series} in\n{text}"));
        assert!(v >= at_least, "[{name}] {series} = {v}");
    };
    expect(
        "kassa_http_request_duration_seconds_count{route=\"/v1/payments/{id}\",method=\"GET\",status=\"200\"}",
        1.0,
    );
    expect(
        "kassa_http_request_duration_seconds_bucket{route=\"/v1/payments/sale\",method=\"POST\",status=\"201\",le=\"+Inf\"}",
        1.0,
    );
    expect(
        "kassa_payments_total{source=\"api\",method=\"card\",status=\"completed\"}",
        1.0,
    );
    expect("kassa_refunds_total{status=\"succeeded\"}", 1.0);
    expect(
        "kassa_processor_request_duration_seconds_count{connector=\"sandbox\",operation=\"charge\",outcome=\"approved\"}",
        1.0,
    );
    expect(
        "kassa_processor_request_duration_seconds_count{connector=\"sandbox\",operation=\"refund\",outcome=\"succeeded\"}",
        1.0,
    );
    expect("kassa_webhook_deliveries_total{outcome=\"delivered\"}", 1.0);
    expect("kassa_http_responses_total{class=\"2xx\"}", 4.0);
    assert!(
        value(&text, "kassa_db_connections{state=\"idle\"}").is_some(),
        "[{name}]"
    );
    assert!(
        value(&text, "kassa_db_connections{state=\"in_use\"}").is_some(),
        "[{name}]"
    );
    if cfg!(target_os = "linux") {
        expect("process_resident_memory_bytes", 1.0);
        expect("process_open_fds", 3.0);
        assert!(value(&text, "process_cpu_seconds_total").is_some());
    }
    for family in [
        "kassa_http_request_duration_seconds histogram",
        "kassa_payments_total counter",
        "kassa_refunds_total counter",
        "kassa_processor_request_duration_seconds histogram",
        "kassa_jobs_queued gauge",
        "kassa_jobs_oldest_age_seconds gauge",
        "kassa_webhook_deliveries_total counter",
        "kassa_db_connections gauge",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family}\n")),
            "[{name}] {family}"
        );
    }
    // Routes are templates: no id reaches a label.
    assert!(!text.contains(&payment), "[{name}] a raw id in {text}");
    assert!(!text.contains(&p.key));
}

#[tokio::test]
async fn every_metric_family_moves_with_traffic() {
    metric_families_move_on(TestApp::sqlite().await).await;
    if let Some(app) = TestApp::postgres().await {
        metric_families_move_on(app).await;
    }
}

#[tokio::test]
async fn unknown_paths_add_no_series() {
    let app = TestApp::sqlite()
        .await
        .reconfigured(|c| c.metrics.token = Some(Secret::new(TOKEN.into())));
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("kassa_http_request_duration_seconds_count"))
            .count()
    };
    app.get("/no/such/page-1").await;
    let first = scrape(&app).await;
    for path in [
        "/no/such/page-2",
        "/v1/nothing/xyz",
        "/no/such/page-3?x=1",
        "/%2e%2e/etc/passwd",
    ] {
        assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let text = scrape(&app).await;
    // The scrape itself is one more series (`/metrics`); every unknown path shares `unmatched`.
    assert_eq!(series(&text), series(&first).max(2));
    assert!(!text.contains("no/such") && !text.contains("nothing") && !text.contains("passwd"));
    assert_eq!(
        value(&text, "kassa_http_request_duration_seconds_count{route=\"unmatched\",method=\"GET\",status=\"404\"}"),
        Some(5.0)
    );
}

#[tokio::test]
async fn the_request_id_is_kept_made_or_replaced() {
    let app = TestApp::sqlite().await;
    let with = |id: Option<&str>| {
        let mut req = Request::get("/healthz");
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.body(Body::empty()).unwrap()
    };
    let kept = app
        .send(with(Some("0f8fad5b-d9cb-469f-a165-70867728950e")))
        .await;
    assert_eq!(
        kept.header("x-request-id").as_deref(),
        Some("0f8fad5b-d9cb-469f-a165-70867728950e")
    );
    let made = app.send(with(None)).await.header("x-request-id").unwrap();
    assert_eq!(made.len(), 20);
    let long = "a".repeat(129);
    for hostile in [
        "a b",
        "x\" status=500 forged=\"1",
        long.as_str(),
        "{\"level\":\"ERROR\"}",
    ] {
        let got = app
            .send(with(Some(hostile)))
            .await
            .header("x-request-id")
            .unwrap();
        assert_ne!(got, hostile);
        assert_eq!(got.len(), 20, "{got}");
    }
    // Errors and pages carry it too.
    assert!(app
        .get("/no-such-page")
        .await
        .header("x-request-id")
        .is_some());
}

/// Every log line of this test binary, as JSON (the formatter `kassa` uses for `log.format =
/// "json"`).
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static INSTALL: Once = Once::new();
    static LINES: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    let lines = LINES.get_or_init(Default::default).clone();
    INSTALL.call_once(|| {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink(lines.clone());
        let subscriber = kassa_server::logging::subscriber(
            LogFormat::Json,
            tracing_subscriber::EnvFilter::new("info"),
            move || sink.clone(),
            false,
        );
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    lines
}

fn lines_with(buffer: &Arc<Mutex<Vec<u8>>>, needle: &str) -> Vec<Value> {
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test]
async fn each_request_logs_one_json_line_with_its_ids() {
    let buffer = captured();
    let app = TestApp::sqlite().await;
    let p = app.partner().await;
    let request_id = format!("obs-{}", kassa_core::id::random_base62(12));
    let sale = app
        .api_with(&p.key, Method::POST, "/v1/payments/sale?note=4111111111111111", Some(json!({
            "firstName": "A", "lastName": "B", "paymentMethod": card("4242424242424242"),
            "invoice": {"invoiceLineItems": [{"name": "x", "value": "20.00", "valueType": "Standard"}]}})),
            &[("x-request-id", &request_id)])
        .await;
    assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.body);
    let payment = sale.json()["id"].as_str().unwrap().to_string();

    let lines = lines_with(&buffer, &request_id);
    let request: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(request.len(), 1, "{lines:?}");
    let line = request[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "kassa::request");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/v1/payments/sale");
    assert_eq!(line["status"], 201);
    assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    assert_eq!(line["request_id"], request_id.as_str());
    assert_eq!(line["partner_id"], p.partner.id.as_str());

    // The processor call: one line with the payment's id, inside the request's span.
    let calls = lines_with(&buffer, &payment);
    let call: Vec<&Value> = calls
        .iter()
        .filter(|l| l["message"] == "processor call")
        .collect();
    assert_eq!(call.len(), 1, "{calls:?}");
    assert_eq!(call[0]["connector"], "sandbox");
    assert_eq!(call[0]["operation"], "charge");
    assert_eq!(call[0]["outcome"], "approved");
    assert_eq!(call[0]["span"]["id"], request_id.as_str());

    // No card number, query string or key in any line.
    let all = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    for secret in [
        "4242424242424242",
        "4111111111111111",
        "note=",
        p.key.as_str(),
    ] {
        assert!(!all.contains(secret), "{secret} reached a log line");
    }
    // A request without a partner logs none.
    let anonymous = format!("anon-{}", kassa_core::id::random_base62(12));
    app.send(
        Request::get("/healthz")
            .header("x-request-id", &anonymous)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let lines = lines_with(&buffer, &anonymous);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].get("partner_id").is_none(), "{lines:?}");
    assert_eq!(lines[0]["route"], "/healthz");
}

/// The raw answer to `GET path` with `Accept-Encoding`.
async fn fetch(
    app: &TestApp,
    path: &str,
    encoding: Option<&str>,
) -> (axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path).header("authorization", format!("Bearer {TOKEN}"));
    if let Some(encoding) = encoding {
        req = req.header("accept-encoding", encoding);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (headers, bytes)
}

#[tokio::test]
async fn answers_are_compressed_when_asked_but_never_html() {
    let app = TestApp::sqlite()
        .await
        .reconfigured(|c| c.metrics.token = Some(Secret::new(TOKEN.into())));
    let encoding = |h: &axum::http::HeaderMap| {
        h.get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (plain_headers, plain) = fetch(&app, "/v1/openapi.json", None).await;
    assert_eq!(encoding(&plain_headers), None);
    let (gz_headers, gz) = fetch(&app, "/v1/openapi.json", Some("gzip")).await;
    assert_eq!(encoding(&gz_headers).as_deref(), Some("gzip"));
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        gz.len() * 3 < plain.len(),
        "{} of {}",
        gz.len(),
        plain.len()
    );
    assert!(gz_headers.get("vary").is_some_and(|v| v
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("accept-encoding")));
    let (br_headers, br) = fetch(&app, "/v1/openapi.json", Some("br;q=1.0, gzip;q=0.5")).await;
    assert_eq!(encoding(&br_headers).as_deref(), Some("br"));
    assert!(br.len() < plain.len());
    // Neither deflate nor anything unknown.
    let (h, _) = fetch(&app, "/v1/openapi.json", Some("deflate, zstd")).await;
    assert_eq!(encoding(&h), None);
    for asset in ["/static/kassa.css", "/metrics"] {
        let (h, _) = fetch(&app, asset, Some("gzip")).await;
        assert_eq!(encoding(&h).as_deref(), Some("gzip"), "{asset}");
    }
    // HTML carries CSRF tokens next to reflected input (BREACH): never compressed.
    let p = app.partner().await;
    let request = app.create_request(&p, "10.00", "obs-1").await;
    for page in ["/dashboard/login".to_string(), pay_path(&request)] {
        let (h, body) = fetch(&app, &page, Some("gzip, br")).await;
        assert!(
            h.get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
        assert!(body.len() > 1024, "{page} is big enough to be compressed");
        assert_eq!(encoding(&h), None, "{page}");
    }
    // Tiny bodies are sent as they are.
    let (h, _) = fetch(&app, "/healthz", Some("gzip")).await;
    assert_eq!(encoding(&h), None);
}

#[tokio::test]
async fn static_files_carry_an_etag_and_answer_304() {
    let app = TestApp::sqlite().await;
    let p = app.partner().await;
    let brand = format!("/static/brand/{}", p.partner.slug);
    for path in [
        "/static/kassa.css",
        "/static/pay.js",
        "/static/pow.js",
        "/static/dashboard.css",
        "/static/dashboard.js",
        brand.as_str(),
    ] {
        let first = app.get(path).await;
        assert_eq!(first.status, StatusCode::OK, "{path}");
        let etag = first
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag"));
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
            "{path}: {etag}"
        );
        assert!(first.header("cache-control").is_some(), "{path}");
        assert_eq!(
            app.get(path).await.header("etag").as_deref(),
            Some(etag.as_str()),
            "stable"
        );

        let again = app
            .send(
                Request::get(path)
                    .header("if-none-match", &etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.body, "", "{path}");
        assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));

        let other = app
            .send(
                Request::get(path)
                    .header("if-none-match", "\"0000\"")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(other.status, StatusCode::OK, "{path}");
        assert_eq!(other.body, first.body);
    }
    assert_eq!(
        app.get("/static/kassa.css")
            .await
            .header("cache-control")
            .as_deref(),
        Some("no-cache"),
        "unversioned: revalidated"
    );
}

#[test]
fn the_grafana_dashboard_uses_only_metrics_kassa_exports() {
    let text = include_str!("../../../docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(text).expect("valid JSON");
    assert!(dashboard["title"].is_string());
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 9);
    let exported = [
        "kassa_http_request_duration_seconds_bucket",
        "kassa_http_request_duration_seconds_count",
        "kassa_http_request_duration_seconds_sum",
        "kassa_http_responses_total",
        "kassa_payments_total",
        "kassa_payment_attempts_total",
        "kassa_refunds_total",
        "kassa_processor_request_duration_seconds_bucket",
        "kassa_processor_request_duration_seconds_count",
        "kassa_processor_request_duration_seconds_sum",
        "kassa_jobs_queued",
        "kassa_jobs_oldest_age_seconds",
        "kassa_jobs_total",
        "kassa_webhook_deliveries_total",
        "kassa_db_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    ];
    let mut used = std::collections::BTreeSet::new();
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expression");
            let words = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            for word in words.filter(|w| w.starts_with("kassa_") || w.starts_with("process_")) {
                assert!(exported.contains(&word), "{word} in {expr} is not exported");
                used.insert(word.to_string());
            }
        }
    }
    for family in [
        "kassa_http_request_duration_seconds_bucket",
        "kassa_payments_total",
        "kassa_processor_request_duration_seconds_bucket",
        "kassa_jobs_queued",
        "kassa_jobs_oldest_age_seconds",
        "kassa_webhook_deliveries_total",
        "kassa_db_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    ] {
        assert!(used.contains(family), "the dashboard shows no {family}");
    }
}

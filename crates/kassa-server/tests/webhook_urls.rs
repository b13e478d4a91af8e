//! Where webhooks may go (docs/api.md §8, "Webhook endpoint URLs"): every non-public address
//! family and numeric spelling is refused when an endpoint is made (API and dashboard); the check
//! is repeated at every delivery, against what the host resolves to then (DNS rebinding), and
//! Kassa connects only where the check allowed — proved by loopback listeners that must see no
//! connection. Redirects are not followed, and attempts record nothing about the network behind
//! them. `webhooks.allowPrivateNetworks` opens loopback and private addresses, and nothing else.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use common::dns::PUBLIC_ADDRESS;
use common::*;
use kassa_server::admin;
use serde_json::{json, Value};

const NOT_ALLOWED: &str = "url not allowed: the host resolves to a non-public address";

/// The harness allows private networks (its receivers are on 127.0.0.1); these tests mostly run
/// with the default, which does not.
fn public_only(app: TestApp) -> TestApp {
    app.reconfigured(|c| c.webhooks.allow_private_networks = false)
}

/// A listener on 127.0.0.1 that counts the connections it accepts and drops them: where nothing
/// may connect.
struct Trap {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Trap {
    async fn start() -> Trap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let trap = Trap {
            addr: listener.local_addr().unwrap(),
            accepted: Arc::default(),
        };
        let accepted = trap.accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                accepted.fetch_add(1, Ordering::SeqCst);
            }
        });
        trap
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many connections it accepted (after a moment, so a late one is counted too).
    async fn accepted(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.accepted.load(Ordering::SeqCst)
    }
}

/// An HTTP receiver on 127.0.0.1: `/hook` answers 200, `/redirect` a 302 to `location`.
#[derive(Clone)]
struct Receiver {
    port: u16,
    location: String,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(location: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            port: listener.local_addr().unwrap().port(),
            location: location.to_string(),
            paths: Arc::default(),
        };
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    fn received(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

async fn answer(
    axum::extract::State(receiver): axum::extract::State<Receiver>,
    uri: axum::http::Uri,
) -> Response {
    receiver.paths.lock().unwrap().push(uri.path().to_string());
    if uri.path() == "/redirect" {
        let mut resp = StatusCode::FOUND.into_response();
        let location = receiver.location.parse().unwrap();
        resp.headers_mut().insert(header::LOCATION, location);
        return resp;
    }
    StatusCode::OK.into_response()
}

async fn create(app: &TestApp, p: &TestPartner, url: &str) -> Resp {
    app.api(
        &p.key,
        Method::POST,
        "/v1/webhook-endpoints",
        Some(json!({"url": url, "events": ["*"]})),
    )
    .await
}

/// Makes an endpoint; its id.
async fn endpoint(app: &TestApp, p: &TestPartner, url: &str) -> String {
    let r = create(app, p, url).await;
    assert_eq!(r.status, StatusCode::CREATED, "{url}: {}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// An event for every endpoint of `p`, sent.
async fn deliver(app: &TestApp, p: &TestPartner, reference: &str) {
    app.create_request(p, "12.00", reference).await;
    app.run_jobs().await;
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

/// The newest delivery of an endpoint and its only attempt.
async fn last_attempt(app: &TestApp, p: &TestPartner, endpoint: &str) -> (Value, Value) {
    let d = deliveries(app, p, endpoint).await.remove(0);
    assert_eq!(d["attemptCount"], 1, "{d}");
    let attempt = d["attempts"][0].clone();
    (d, attempt)
}

on_both_backends!(every_non_public_address_and_spelling_is_refused, |app| {
    let app = public_only(app);
    let p = app.partner().await;
    app.dns.set("internal.example", &["127.0.0.1"]);
    app.dns.set("metadata.example", &["169.254.169.254"]);
    app.dns.set("office.example", &["192.168.10.20"]);
    app.dns.set("ula.example", &["fd00::10"]);
    app.dns.set("mapped.example", &["::ffff:10.0.0.1"]);
    app.dns.set("mixed.example", &[PUBLIC_ADDRESS, "10.0.0.7"]);
    let refused: &[(&str, &str)] = &[
        // Loopback.
        ("https://127.0.0.1/hook", "url_not_allowed"),
        ("https://127.0.0.2:8443/hook", "url_not_allowed"),
        ("https://[::1]/hook", "url_not_allowed"),
        ("https://localhost/hook", "url_not_allowed"),
        // Private, shared, link-local (the cloud metadata service).
        ("https://10.0.0.1/", "url_not_allowed"),
        ("https://172.16.5.4/", "url_not_allowed"),
        ("https://192.168.1.1/", "url_not_allowed"),
        ("https://[fd12:3456::1]/", "url_not_allowed"),
        ("https://100.64.0.1/", "url_not_allowed"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "url_not_allowed",
        ),
        ("https://[fe80::1]/", "url_not_allowed"),
        // Multicast, unspecified, broadcast, documentation, benchmarking, reserved.
        ("https://224.0.0.1/", "url_not_allowed"),
        ("https://[ff02::1]/", "url_not_allowed"),
        ("https://0.0.0.0/", "url_not_allowed"),
        ("https://[::]/", "url_not_allowed"),
        ("https://255.255.255.255/", "url_not_allowed"),
        ("https://192.0.2.1/", "url_not_allowed"),
        ("https://[2001:db8::1]/", "url_not_allowed"),
        ("https://198.18.0.1/", "url_not_allowed"),
        ("https://240.0.0.1/", "url_not_allowed"),
        // IPv4 in IPv6, and tunnels to a private IPv4 address.
        ("https://[::ffff:127.0.0.1]/", "url_not_allowed"),
        ("https://[::ffff:a9fe:a9fe]/", "url_not_allowed"),
        ("https://[64:ff9b::a00:1]/", "url_not_allowed"),
        ("https://[2002:7f00:1::]/", "url_not_allowed"),
        // Numeric spellings.
        ("https://2130706433/", "url_not_allowed"),
        ("https://0x7f000001/", "url_not_allowed"),
        ("https://0177.0.0.1/", "url_not_allowed"),
        ("https://127.1/", "url_not_allowed"),
        ("https://0x7f.1/", "url_not_allowed"),
        ("https://2852039166/latest/meta-data/", "url_not_allowed"),
        // Names that resolve where Kassa may not go; one such address is enough.
        ("https://internal.example/hook", "url_not_allowed"),
        ("https://metadata.example/latest", "url_not_allowed"),
        ("https://office.example/", "url_not_allowed"),
        ("https://ula.example/", "url_not_allowed"),
        ("https://mapped.example/", "url_not_allowed"),
        ("https://mixed.example/", "url_not_allowed"),
        // A name that does not resolve; plain http, even to a public name.
        ("https://nowhere.invalid/hook", "url_unresolvable"),
        ("http://hooks.example/hook", "insecure_url"),
        ("http://127.0.0.1:9000/hook", "insecure_url"),
    ];
    for (url, code) in refused {
        let r = create(&app, &p, url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.body);
        let errors = r.json()["error"]["errors"].clone();
        assert_eq!(errors.as_array().unwrap().len(), 1, "{url}: {errors}");
        assert_eq!(errors[0]["field"], "url", "{url}");
        assert_eq!(errors[0]["code"], *code, "{url}: {errors}");
        // The answer names no address.
        for leak in ["127.0.0", "10.0.0", "169.254", "192.168", "fd00"] {
            assert!(
                !r.body.contains(leak) || url.contains(leak),
                "{url}: {}",
                r.body
            );
        }
    }
    let r = create(&app, &p, "https://internal.example/hook").await;
    assert_eq!(
        r.json()["error"]["errors"][0]["message"],
        "its host resolves to a non-public address"
    );
    assert!(app.dns.lookups("internal.example") >= 2);
    let listed = app
        .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
        .await
        .json();
    assert!(ids(&listed).is_empty(), "nothing was made: {listed}");

    // Public names and addresses are fine.
    for url in [
        "https://hooks.example/kassa",
        "https://8.8.8.8/kassa",
        "https://[2606:4700:4700::1111]/kassa",
    ] {
        endpoint(&app, &p, url).await;
    }
});

on_both_backends!(
    a_name_rebound_to_loopback_after_creation_is_not_connected_to,
    |app| {
        let app = public_only(app);
        let p = app.partner().await;
        let trap = Trap::start().await;
        // Public when the endpoint is made…
        app.dns.set("rebind.example", &[PUBLIC_ADDRESS]);
        let we = endpoint(
            &app,
            &p,
            &format!("https://rebind.example:{}/hook", trap.port()),
        )
        .await;
        let made = app.dns.lookups("rebind.example");
        // …loopback (alone, or next to a public address) when the event goes out.
        app.dns.set("rebind.example", &["127.0.0.1"]);
        deliver(&app, &p, "REBIND-1").await;
        app.dns
            .set("rebind.example", &[PUBLIC_ADDRESS, "127.0.0.1"]);
        deliver(&app, &p, "REBIND-2").await;

        assert_eq!(trap.accepted().await, 0, "nothing may connect to loopback");
        assert!(
            app.dns.lookups("rebind.example") >= made + 2,
            "looked up again"
        );
        let list = deliveries(&app, &p, &we).await;
        assert_eq!(list.len(), 2);
        for d in &list {
            assert_eq!(d["status"], "failed", "not retried: {d}");
            assert_eq!(d["attemptCount"], 1, "{d}");
            assert!(d["attempts"][0]["statusCode"].is_null());
            assert_eq!(d["attempts"][0]["error"], NOT_ALLOWED);
        }
    }
);

on_both_backends!(
    a_name_answering_loopback_is_reached_only_with_private_networks_allowed,
    |app| {
        // The harness allows private networks: a public-looking name pointing at the receiver works.
        let receiver = Receiver::start("/").await;
        let trap = Trap::start().await;
        app.dns.set("receiver.example", &["127.0.0.1"]);
        let p = app.partner().await;
        let by_name = endpoint(
            &app,
            &p,
            &format!("http://receiver.example:{}/hook", receiver.port),
        )
        .await;
        let by_address =
            endpoint(&app, &p, &format!("http://127.0.0.1:{}/hook", trap.port())).await;
        deliver(&app, &p, "PRIVATE-1").await;
        assert_eq!(receiver.received(), ["/hook"]);
        let (d, _) = last_attempt(&app, &p, &by_name).await;
        assert_eq!(d["status"], "succeeded", "{d}");
        let trapped = trap.accepted().await;
        assert_eq!(trapped, 1, "a loopback address is reached when allowed");
        // Still never: the metadata service, or http to a public address.
        for (url, code) in [
            (
                "http://169.254.169.254/latest/meta-data/",
                "url_not_allowed",
            ),
            ("http://hooks.example/hook", "insecure_url"),
            ("http://2130706433/", "url_not_allowed"),
        ] {
            let r = create(&app, &p, url).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.body);
            assert_eq!(r.json()["error"]["errors"][0]["code"], code, "{url}");
        }

        // The same database, started without private networks: nothing is made or sent there.
        let app = public_only(app);
        for url in [
            format!("https://receiver.example:{}/hook", receiver.port),
            format!("https://127.0.0.1:{}/hook", receiver.port),
        ] {
            let r = create(&app, &p, &url).await;
            assert_eq!(
                r.json()["error"]["errors"][0]["code"],
                "url_not_allowed",
                "{url}"
            );
        }
        deliver(&app, &p, "PRIVATE-2").await;
        assert_eq!(receiver.received(), ["/hook"], "nothing more sent by name");
        assert_eq!(
            trap.accepted().await,
            trapped,
            "nothing more sent by address"
        );
        for we in [&by_name, &by_address] {
            let d = deliveries(&app, &p, we).await.remove(0);
            assert_eq!(d["status"], "failed", "{d}");
            assert_eq!(d["attempts"][0]["error"], NOT_ALLOWED);
        }
    }
);

on_both_backends!(redirects_are_not_followed_and_errors_tell_nothing, |app| {
    let trap = Trap::start().await;
    let receiver = Receiver::start(&format!("http://127.0.0.1:{}/stolen", trap.port())).await;
    let p = app.partner().await;
    let redirected = endpoint(
        &app,
        &p,
        &format!("http://127.0.0.1:{}/redirect", receiver.port),
    )
    .await;
    // Port 1 refuses connections; the trap accepts and hangs up without answering.
    let refused = endpoint(&app, &p, "http://127.0.0.1:1/hook").await;
    let hung_up = endpoint(&app, &p, &format!("http://localhost:{}/hook", trap.port())).await;
    deliver(&app, &p, "REDIRECT-1").await;

    assert_eq!(receiver.received(), ["/redirect"]);
    let (d, attempt) = last_attempt(&app, &p, &redirected).await;
    assert_eq!(d["status"], "failed", "a 3xx is a refusal: {d}");
    assert_eq!(attempt["statusCode"], 302);
    assert_eq!(
        trap.accepted().await,
        1,
        "only the endpoint on the trap itself connected to it"
    );
    let (_, attempt) = last_attempt(&app, &p, &refused).await;
    assert_eq!(attempt["error"], "could not connect");
    let (_, attempt) = last_attempt(&app, &p, &hung_up).await;
    assert_eq!(attempt["error"], "request failed: no valid HTTP answer");
});

on_both_backends!(the_dashboard_refuses_the_same_urls, |app| {
    let app = public_only(app);
    let p = app.partner().await;
    app.dns.set("internal.example", &["10.1.2.3"]);
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "hooks@acme.example",
        "correct horse battery",
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("hooks@acme.example", "correct horse battery")
        .await;
    let page = b.get("/dashboard/webhooks").await;
    assert!(
        page.body.contains("An https URL on the public internet"),
        "{}",
        page.body
    );
    let token = csrf(&page.body);
    for (url, message) in [
        (
            "https://internal.example/hook",
            "Its host resolves to a non-public address.",
        ),
        (
            "https://169.254.169.254/",
            "Must not be a loopback, private, link-local",
        ),
        ("https://0x7f000001/", "Must name its host"),
    ] {
        let r = b
            .post(
                "/dashboard/webhooks",
                &[("csrfToken", &token), ("url", url), ("events", "*")],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(r.body.contains("id=\"url-error\""), "{url}");
        assert!(r.body.contains(message), "{url}: {}", r.body);
        assert!(!r.body.contains("10.1.2.3"));
    }
    let listed = app
        .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
        .await
        .json();
    assert!(ids(&listed).is_empty());
});

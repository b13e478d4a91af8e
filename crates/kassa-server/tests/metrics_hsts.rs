//! Who may read `/metrics` (a bearer token, or an address of its own, else nobody), and
//! `Strict-Transport-Security` on every answer when the public URL is https (docs/api.md §9).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use kassa_core::secret::Secret;
use tower::ServiceExt;

const TOKEN: &str = "metrics-token-0123456789";

async fn metrics(app: &TestApp, auth: Option<&str>) -> Resp {
    let mut req = Request::get("/metrics");
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn without_a_token_or_address_metrics_are_not_found() {
    let app = TestApp::sqlite().await;
    let unknown = app.get("/no-such-page").await;
    for auth in [None, Some("Bearer anything-at-all-here")] {
        let r = metrics(&app, auth).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body, unknown.body, "the page of an unknown path");
    }
    assert!(app.app.metrics_router().is_none());
}

#[tokio::test]
async fn a_token_guards_metrics_on_the_public_listener() {
    let app = TestApp::sqlite()
        .await
        .reconfigured(|c| c.metrics.token = Some(Secret::new(TOKEN.into())));
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Bearer metrics-token-012345678"),
        Some("Basic bWV0cmljczp0b2tlbg=="),
        Some(TOKEN),
    ] {
        let r = metrics(&app, auth).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.body, "", "no detail: {auth:?}");
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    }
    let r = metrics(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("kassa_http_responses_total"), "{}", r.body);
    assert!(!r.body.contains(TOKEN));
    assert!(
        !format!("{:?}", app.app.state().config).contains(TOKEN),
        "never in a config dump"
    );
}

#[tokio::test]
async fn an_address_of_their_own_takes_metrics_off_the_public_listener() {
    let app = TestApp::sqlite().await.reconfigured(|c| {
        c.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
        c.metrics.token = Some(Secret::new(TOKEN.into()));
    });
    // Not on the public listener, not even with the token.
    let r = metrics(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // On their own router, the token still counts when there is one.
    let own = app.app.metrics_router().expect("a router of its own");
    let get = |auth: Option<&str>| {
        let mut req = Request::get("/metrics");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        own.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let ok = get(Some(&format!("Bearer {TOKEN}"))).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // Nothing else is served there.
    let other = own
        .clone()
        .oneshot(Request::get("/v1/partner").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address() {
    let app = TestApp::sqlite()
        .await
        .reconfigured(|c| c.metrics.listen = Some("127.0.0.1:0".parse().unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.app.metrics_router().unwrap();
    let http = app.app.state().config.http.clone();
    let server = tokio::spawn(async move {
        kassa_server::serve(listener, router, &http, std::future::pending()).await;
    });
    let answer = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("kassa_http_responses_total"));
    server.abort();
    // And not on the public router.
    assert_eq!(metrics(&app, None).await.status, StatusCode::NOT_FOUND);
}

/// One answer of each kind: API (success, error, unknown path), page, static file, 405.
async fn answers(app: &TestApp) -> Vec<(String, Option<String>)> {
    let p = app.partner().await;
    let mut out = Vec::new();
    let ok = app.api(&p.key, Method::GET, "/v1/partner", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    out.push(("api".into(), ok.header("strict-transport-security")));
    let unauthorized = app.api("sk_nope", Method::GET, "/v1/partner", None).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    out.push((
        "api error".into(),
        unauthorized.header("strict-transport-security"),
    ));
    for path in [
        "/v1/nope",
        "/dashboard/login",
        "/static/kassa.css",
        "/no-such-page",
        "/healthz",
        "/metrics",
    ] {
        let r = app.get(path).await;
        out.push((
            format!("{path} {}", r.status),
            r.header("strict-transport-security"),
        ));
    }
    let r = app
        .send(
            Request::delete("/dashboard/login")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    out.push(("405".into(), r.header("strict-transport-security")));
    out
}

#[tokio::test]
async fn hsts_on_every_answer_when_the_public_url_is_https() {
    let app = TestApp::sqlite()
        .await
        .reconfigured(|c| c.public_url = Some("https://kassa.test".into()));
    for (what, hsts) in answers(&app).await {
        assert_eq!(hsts.as_deref(), Some("max-age=31536000"), "{what}");
    }
}

#[tokio::test]
async fn no_hsts_when_the_public_url_is_http() {
    let app = TestApp::sqlite().await;
    for (what, hsts) in answers(&app).await {
        assert_eq!(hsts, None, "{what}");
    }
}

//! Logos uploaded to Kassa and served by it (docs/api.md §11): PNG, JPEG and SVG accepted;
//! too large refused while the body streams in; wrong magic bytes, a DOCTYPE or an entity
//! refused; a hostile SVG sanitised; the served headers and caching; pages that show the logo,
//! and the partner's name when there is none; the dashboard's upload and remove.

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body::Frame;
use kassa_server::admin;
use tower::ServiceExt;

/// A minimal PNG header (signature and IHDR) of this size, as the check reads it.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]);
    b
}

/// A JPEG's markers up to its frame header.
fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10];
    b.extend_from_slice(b"JFIF\0");
    b.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
    b.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 8]);
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xff, 0xd9]);
    b
}

const HOSTILE_SVG: &str = r##"<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="50" onload="alert('onload')">
  <script>alert('script')</script>
  <foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">hi<script>alert('fo')</script></div></foreignObject>
  <style>@import url(https://evil.example/x.css);</style>
  <a href="javascript:alert('a')"><rect width="10" height="10"/></a>
  <use xlink:href="https://evil.example/sprite.svg#logo"/>
  <rect width="200" height="50" fill="#0b7a4b" onclick="alert('click')"/>
  <image href="https://evil.example/track.png" width="1" height="1"/>
  <text x="10" y="35" fill="url(javascript:alert(1))">Acme</text>
</svg>"##;

async fn put_logo(app: &TestApp, key: &str, content_type: &str, bytes: Vec<u8>) -> Resp {
    app.send(
        Request::put("/v1/partner/logo")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
            .unwrap(),
    )
    .await
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (Resp, Vec<u8>) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    (
        Resp {
            status,
            headers,
            body,
        },
        bytes,
    )
}

fn path_of(url: &str) -> String {
    url.strip_prefix("http://kassa.test").unwrap().to_string()
}

on_both_backends!(a_png_is_stored_served_and_shown, |app| {
    let p = app.partner().await;
    let bytes = png(440, 96);
    let r = put_logo(&app, &p.key, "image/png", bytes.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let logo = r.json();
    assert_eq!(logo["contentType"], "image/png");
    assert_eq!(
        (logo["width"].as_u64(), logo["height"].as_u64()),
        (Some(440), Some(96))
    );
    let sha = logo["sha256"].as_str().unwrap().to_string();
    let url = logo["url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!("http://kassa.test/static/logo/{}/{sha}", p.partner.slug)
    );
    let partner = app
        .api(&p.key, Method::GET, "/v1/partner", None)
        .await
        .json();
    assert_eq!(partner["logoUrl"], url.as_str());

    // Served as stored, cached for good, and revalidated by its ETag.
    let (served, body) = get_with(&app, &path_of(&url), &[]).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(body, bytes);
    assert_eq!(served.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(
        served.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        served.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let etag = served.header("etag").unwrap();
    assert_eq!(etag, format!("\"{sha}\""));
    let (again, body) = get_with(&app, &path_of(&url), &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // Another hash (an older logo, a guess) or another slug is not found.
    let other = format!("/static/logo/{}/{}", p.partner.slug, "0".repeat(64));
    assert_eq!(app.get(&other).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/static/logo/nobody/{sha}")).await.status,
        StatusCode::NOT_FOUND
    );

    // The pay page draws it in its box, named by the partner, from Kassa only.
    let pr = app.create_request(&p, "10.00", "LOGO-1").await;
    let html = Payer::new(&app).open(&pay_path(&pr)).await.body;
    assert!(
        html.contains(&format!(
            r#"<img class="logo" src="/static/logo/{}/{sha}" alt="Acme Services" width="220" height="48">"#,
            p.partner.slug
        )),
        "{html}"
    );
    assert!(!html.contains("class=\"brand-name\""));

    // Audited as a settings change.
    let events = app
        .api(&p.key, Method::GET, "/v1/audit-events?limit=10", None)
        .await
        .json();
    let changed = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "partner.updated")
        .expect("an audit event");
    assert_eq!(changed["details"]["after"]["logo"], sha.as_str());
    assert_eq!(
        changed["details"]["before"]["logo"],
        serde_json::Value::Null
    );

    // Removed: the name shows again, and the old URL is gone.
    let r = app
        .api(&p.key, Method::DELETE, "/v1/partner/logo", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["deleted"], true);
    assert_eq!(app.get(&path_of(&url)).await.status, StatusCode::NOT_FOUND);
    let html = Payer::new(&app).open(&pay_path(&pr)).await.body;
    assert!(html.contains(r#"<span class="brand-name">Acme Services</span>"#));
    assert!(!html.contains("<img"));
    let r = app
        .api(&p.key, Method::DELETE, "/v1/partner/logo", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let partner = app
        .api(&p.key, Method::GET, "/v1/partner", None)
        .await
        .json();
    assert_eq!(partner["logoUrl"], serde_json::Value::Null);
});

on_both_backends!(a_jpeg_is_accepted_and_served_on_the_billing_host, |app| {
    let p = app.partner_on_host("pay.acme.example").await;
    let r = put_logo(&app, &p.key, "image/jpeg", jpeg(300, 100)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json()["url"].as_str().unwrap().to_string();
    let (served, _) = get_with(&app, &path_of(&url), &[("host", "pay.acme.example")]).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header("content-type").as_deref(), Some("image/jpeg"));
    let (page, _) = get_with(
        &app,
        "/payment-request?amount=5.00&referenceId=HOST-1",
        &[("host", "pay.acme.example")],
    )
    .await;
    let (page, _) = get_with(&app, &page.location(), &[("host", "pay.acme.example")]).await;
    assert!(page.body.contains(&path_of(&url)), "{}", page.body);
    assert!(page.body.contains(r#"width="144" height="48""#));
});

on_both_backends!(a_hostile_svg_is_sanitised_and_sandboxed, |app| {
    let p = app.partner().await;
    let r = put_logo(
        &app,
        &p.key,
        "image/svg+xml",
        HOSTILE_SVG.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let logo = r.json();
    assert_eq!(
        (logo["width"].as_u64(), logo["height"].as_u64()),
        (Some(200), Some(50))
    );
    let (served, _) = get_with(&app, &path_of(logo["url"].as_str().unwrap()), &[]).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(
        served.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
    assert_eq!(
        served.header("content-security-policy").as_deref(),
        Some("default-src 'none'; style-src 'unsafe-inline'; sandbox")
    );
    assert_eq!(
        served.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let svg = served.body;
    for bad in [
        "script",
        "alert",
        "onload",
        "onclick",
        "foreignObject",
        "evil.example",
        "javascript",
        "<style",
        "<image",
        "<a ",
        "xlink",
    ] {
        assert!(!svg.contains(bad), "{bad} survived: {svg}");
    }
    assert!(
        svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50">"#),
        "{svg}"
    );
    assert!(svg.contains(r##"<rect width="200" height="50" fill="#0b7a4b"/>"##));
    assert!(svg.contains(r#"<text x="10" y="35">Acme</text>"#));
});

on_both_backends!(unreadable_or_unwanted_uploads_are_refused, |app| {
    let p = app.partner().await;
    let refused = |r: &Resp, status: StatusCode, code: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{}", r.body);
        assert_eq!(r.json()["error"]["type"], "invalid_request");
    };
    // Bad magic bytes for the type named.
    let r = put_logo(&app, &p.key, "image/png", jpeg(10, 10)).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_logo");
    let r = put_logo(&app, &p.key, "image/jpeg", b"<svg/>".to_vec()).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_logo");
    // Too many pixels.
    let r = put_logo(&app, &p.key, "image/png", png(4096, 10)).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_logo");
    // Not a type Kassa takes.
    let r = put_logo(&app, &p.key, "image/gif", b"GIF89a".to_vec()).await;
    refused(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_logo_type",
    );
    let r = put_logo(&app, &p.key, "text/html", b"<script>".to_vec()).await;
    refused(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_logo_type",
    );
    // An SVG with a DOCTYPE (entities), or an entity it never declared.
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg width="1" height="1"><text>&xxe;</text></svg>"#;
    let r = put_logo(&app, &p.key, "image/svg+xml", xxe.as_bytes().to_vec()).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_logo");
    assert!(r.body.contains("DOCTYPE"));
    let undeclared = r#"<svg width="1" height="1"><text>&xxe;</text></svg>"#;
    let r = put_logo(
        &app,
        &p.key,
        "image/svg+xml",
        undeclared.as_bytes().to_vec(),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_logo");
    // Too large, declared.
    let r = put_logo(&app, &p.key, "image/png", vec![0u8; 256 * 1024 + 1]).await;
    refused(&r, StatusCode::PAYLOAD_TOO_LARGE, "logo_too_large");
    // A key without the settings scope.
    let reader = app
        .key_with(&p, kassa_core::scope::Scopes::parse_list("read").unwrap())
        .await;
    let r = put_logo(&app, &reader, "image/png", png(10, 10)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Nothing was stored by any of them.
    let partner = app
        .api(&p.key, Method::GET, "/v1/partner", None)
        .await
        .json();
    assert_eq!(partner["logoUrl"], serde_json::Value::Null);
});

/// A request body of `chunks` pieces of 64 KB, counting how many were read.
struct Endless {
    left: usize,
    read: Arc<AtomicUsize>,
}

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        self.read.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0x89u8; 64 * 1024])))))
    }
}

on_both_backends!(an_oversized_upload_is_refused_while_it_streams, |app| {
    let p = app.partner().await;
    let read = Arc::new(AtomicUsize::new(0));
    let body = Endless {
        left: 160, // 10 MB, with no Content-Length
        read: read.clone(),
    };
    let r = app
        .send(
            Request::put("/v1/partner/logo")
                .header(header::AUTHORIZATION, format!("Bearer {}", p.key))
                .header(header::CONTENT_TYPE, "image/png")
                .body(Body::new(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "logo_too_large");
    let chunks = read.load(Ordering::SeqCst);
    assert!(chunks <= 6, "read {chunks} chunks of 64 KB before refusing");
});

/// A multipart body with the CSRF token and a file.
fn multipart(token: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----kassa-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrfToken\"\r\n\r\n{token}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

on_both_backends!(the_dashboard_uploads_and_removes_the_logo, |app| {
    let p = app.partner().await;
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        "owner@acme.example",
        "correct horse battery",
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("owner@acme.example", "correct horse battery")
        .await;
    let page = b.get("/dashboard/settings").await;
    assert!(page.body.contains(r#"id="no-logo""#), "{}", page.body);
    assert!(page.body.contains(r#"enctype="multipart/form-data""#));
    assert!(
        !page.body.contains("logoUrl"),
        "no hot-linked logo URL field"
    );
    let token = csrf(&page.body);
    let cookies = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let send = |content_type: String, body: Vec<u8>, path: &'static str| {
        Request::post(path)
            .header(header::COOKIE, cookies.clone())
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };

    // A wrong CSRF token changes nothing.
    let (ct, body) = multipart("forged", "logo.png", "image/png", &png(100, 100));
    let r = app.send(send(ct, body, "/dashboard/settings/logo")).await;
    assert_ne!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.logo_ref(&p.partner.id).await.unwrap(), None);

    // A refused file is said on the page.
    let (ct, body) = multipart(&token, "logo.gif", "image/gif", b"GIF89a");
    let r = app.send(send(ct, body, "/dashboard/settings/logo")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains(r#"id="logo-error""#), "{}", r.body);
    assert!(r.body.contains("PNG, JPEG or SVG"));

    // An SVG saved: shown on the page and in the preview.
    let (ct, body) = multipart(&token, "logo.svg", "image/svg+xml", HOSTILE_SVG.as_bytes());
    let r = app.send(send(ct, body, "/dashboard/settings/logo")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/dashboard/settings?done=logo-saved");
    let logo = app.store.logo_ref(&p.partner.id).await.unwrap().unwrap();
    assert_eq!(logo.content_type, "image/svg+xml");
    let page = b.get(&r.location()).await;
    let src = format!("/static/logo/{}/{}", p.partner.slug, logo.sha256);
    assert!(
        page.body
            .contains(&format!(r#"id="current-logo" src="{src}""#)),
        "{}",
        page.body
    );
    assert!(page.body.contains("Logo saved."));

    // Removed — only from the confirmation step: a form without `confirm=yes` is sent there.
    let post = |fields: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
            .into_bytes()
    };
    let r = app
        .send(send(
            "application/x-www-form-urlencoded".into(),
            post(&[("csrfToken", &token)]),
            "/dashboard/settings/logo/remove",
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/dashboard/settings/logo/remove");
    assert!(
        app.store.logo_ref(&p.partner.id).await.unwrap().is_some(),
        "one click removes nothing"
    );
    let r = app
        .send(send(
            "application/x-www-form-urlencoded".into(),
            post(&[("csrfToken", &token), ("confirm", "yes")]),
            "/dashboard/settings/logo/remove",
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.store.logo_ref(&p.partner.id).await.unwrap(), None);
});

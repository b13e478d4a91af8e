//! Sign-in memory stays bounded (docs/api.md §8, "password hashes computed at once"): each
//! Argon2id check takes about 19 MB, so 40 sign-ins at once used to take the process from
//! 130 MB to 880 MB. With at most 4 hashes at once, 40 concurrent sign-ins keep the peak
//! resident memory of this process (a test binary of its own, so nothing else runs in it) under
//! 300 MB, and every one of them is answered.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

/// The process's peak resident memory (`VmHWM`), in MB.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_sign_ins_stay_under_300_mb() {
    let app = Arc::new(TestApp::sqlite().await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let app = Arc::clone(&app);
        tasks.spawn(async move {
            // Unknown emails from addresses of their own: each one is a full password check
            // (the dummy hash), and no per-email or per-IP limit stops it first.
            let peer = format!("198.51.100.{}", i + 1);
            let page = app
                .send_from(
                    &peer,
                    Request::get("/dashboard/login")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            let cookie = page.header("set-cookie").unwrap();
            let cookie = cookie.split(';').next().unwrap().to_string();
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("csrfToken", csrf(&page.body).as_str()),
                    ("email", &format!("nobody{i}@example.com")),
                    ("password", "not the password"),
                ])
                .finish();
            app.send_from(
                &peer,
                Request::post("/dashboard/login")
                    .header(header::COOKIE, cookie)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .status
        });
    }
    let mut answered = 0;
    while let Some(status) = tasks.join_next().await {
        let status = status.unwrap();
        // Checked and refused, or (if the machine is very slow) told to wait for a slot.
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        answered += 1;
    }
    assert_eq!(answered, 40);
    let peak = peak_rss_mb();
    eprintln!("peak resident memory after 40 concurrent sign-ins: {peak} MB");
    assert!(peak < 300, "peak resident memory {peak} MB");
}

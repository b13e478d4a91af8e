//! Graceful shutdown (docs/api.md §12): `/readyz` answers 503 at once, the listener stops
//! accepting, a webhook delivery in flight finishes and is recorded — so nothing is sent again
//! after a restart — and `App::run` returns. Also the settings instances must share: an instance
//! configured with another payout cut-off than the database's refuses to start.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::slow_receiver::SlowReceiver;
use kassa_core::clock::Clock;
use serde_json::json;

on_both_backends!(a_clean_shutdown_finishes_the_delivery_in_flight, |app| {
    let app = app.reconfigured(|c| {
        c.job_poll_interval = Duration::from_millis(50);
        c.shutdown_grace_period = Duration::from_secs(10);
    });
    let slow = SlowReceiver::start(Some(Duration::from_millis(1500))).await;
    let p = app.partner().await;
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": slow.url(), "events": ["*"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let we = r.json()["id"].as_str().unwrap().to_string();
    app.create_request(&p, "10.00", "BYE-1").await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = app.app.run(listener, async {
        let _ = stopped.await;
    });
    let drive = async {
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        slow.wait_for(1).await;
        // The delivery is in flight: shut down.
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "at once");
        assert_eq!(slow.answered(), 0, "still in flight");
    };
    let (ran, ()) = tokio::join!(run, drive);
    ran.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
    assert_eq!(slow.answered(), 1);
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{we}/deliveries"),
            None,
        )
        .await;
    let d = &r.json()["data"][0];
    assert_eq!(d["status"], "succeeded", "recorded before exiting: {d}");
    assert_eq!(d["attemptCount"], 1);

    // After a restart, nothing is sent again.
    let app = app.restarted();
    app.advance(Duration::from_secs(3600));
    app.run_jobs().await;
    assert_eq!(slow.arrived(), 1, "not re-sent");
});

on_both_backends!(readyz_answers_503_while_draining, |app| {
    let req = || Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(app.send(req()).await.status, StatusCode::OK);
    app.app.state().draining.begin();
    let r = app.send(req()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "shutting down");
    // The liveness check still answers: the process is fine, it is only leaving.
    let r = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
});

on_both_backends!(instances_must_agree_on_the_payout_cutoff, |app| {
    let first = app.reconfigured(|c| c.payout_cutoff = time::macros::time!(17:30));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    first
        .app
        .run(listener, std::future::ready(()))
        .await
        .unwrap();
    // The second instance, at the default 00:00, refuses to start and says why.
    let second = first.another_instance_with(first.config_with(|_| {}), first.clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let err = second
        .run(listener, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "payoutCutoff is 00:00 in this instance's configuration but 17:30 in the database"
        ),
        "{err}"
    );
    assert!(err.contains("kassa payouts cutoff 00:00"), "{err}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "not serving"
    );
    // Its payout chain would follow the database's cut-off anyway.
    second.housekeeping().await.unwrap();
    let third = first.another_instance_with(
        first.config_with(|c| c.payout_cutoff = time::macros::time!(17:30)),
        first.clock.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    third.run(listener, std::future::ready(())).await.unwrap();
    // One chain: the batch at the shared cut-off, none at midnight.
    first.advance(Duration::from_secs(86_400 * 2));
    first.run_jobs().await;
    let due = first
        .store
        .claim_jobs(&kassa_store::Claim {
            worker: "probe",
            kinds: &["payout_batch"],
            now: first.clock.now() + time::Duration::days(2),
            lease: time::Duration::seconds(1),
            limit: 10,
        })
        .await
        .unwrap();
    assert!(!due.is_empty());
    for job in &due {
        let cutoff = job.payload["cutoff"].as_str().unwrap();
        assert!(cutoff.contains("T17:30:00"), "{cutoff}");
    }
});

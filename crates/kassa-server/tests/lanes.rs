//! Background work in lanes (docs/api.md §12): a webhook endpoint that never answers does not
//! delay an ACH settlement, a lane claims again at once while work is due, and a job running
//! longer than its lease keeps it (the heartbeat), so no second worker runs it. Who may finish
//! a job (only its lease holder) is tested on the store (`kassa-store/tests/conformance*.rs`).

mod common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::slow_receiver::SlowReceiver;
use common::*;
use serde_json::{json, Value};

async fn endpoint(app: &TestApp, p: &TestPartner, url: &str) -> String {
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": url, "events": ["*"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn deliveries(app: &TestApp, p: &TestPartner, endpoint: &str) -> Vec<Value> {
    let r = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries?limit=100"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["data"].as_array().unwrap().clone()
}

on_both_backends!(
    a_webhook_endpoint_that_never_answers_does_not_delay_an_ach_settlement,
    |app| {
        let app = app.on_real_clock(|c| {
            c.sandbox.ach_settlement_delay = Duration::from_secs(1);
            c.job_poll_interval = Duration::from_millis(50);
        });
        let silent = SlowReceiver::start(None).await;
        let p = app.partner().await;
        endpoint(&app, &p, &silent.url()).await;
        // More deliveries than the webhook lane has slots, all to the silent endpoint.
        for n in 0..40 {
            app.create_request(&p, "10.00", &format!("HOOK-{n}")).await;
        }
        let worker = app.app.spawn_worker();
        silent.wait_for(1).await;

        let request = app.create_request(&p, "25.00", "ACH-1").await;
        let mut payer = Payer::new(&app);
        let paid = payer.pay_ach(&pay_path(&request), "000123456789").await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        let paid_at = Instant::now();
        let id = request["id"].as_str().unwrap();
        // Due a second after it was paid; settled within a second of that, while every
        // delivery to the silent endpoint is still waiting for an answer.
        while app.get_request(&p, id).await["status"] != "completed" {
            assert!(
                paid_at.elapsed() < Duration::from_secs(2),
                "the settlement waited behind the webhooks"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(silent.answered(), 0);
        assert!(silent.arrived() >= 1);
        worker.abort();
    }
);

on_both_backends!(a_lane_claims_again_at_once_while_work_is_due, |app| {
    // Idle lanes would look again only after an hour.
    let app = app.reconfigured(|c| c.job_poll_interval = Duration::from_secs(3600));
    let fast = SlowReceiver::start(Some(Duration::ZERO)).await;
    let p = app.partner().await;
    let we = endpoint(&app, &p, &fast.url()).await;
    // More than one claim takes (at most 32 in flight to one endpoint, by default).
    for n in 0..60 {
        app.create_request(&p, "10.00", &format!("MANY-{n}")).await;
    }
    let worker = app.app.spawn_worker();
    fast.wait_for(60).await;
    let started = Instant::now();
    loop {
        let all = deliveries(&app, &p, &we).await;
        if all.len() == 60 && all.iter().all(|d| d["status"] == "succeeded") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "deliveries left waiting"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fast.arrived(), 60, "each delivered once");
    worker.abort();
});

on_both_backends!(a_job_running_longer_than_its_lease_keeps_it, |app| {
    // A one-second lease, renewed every third of a second while the delivery waits 2.5 s.
    let app = app.reconfigured(|c| {
        c.job_lease = Duration::from_secs(1);
        c.job_poll_interval = Duration::from_millis(50);
    });
    let slow = SlowReceiver::start(Some(Duration::from_millis(2500))).await;
    let p = app.partner().await;
    let we = endpoint(&app, &p, &slow.url()).await;
    app.create_request(&p, "10.00", "SLOW-1").await;
    let worker = app.app.spawn_worker();
    slow.wait_for(1).await;
    // A second instance on the same database looks for work all the while.
    let other = app.another_instance_with(app.config_with(|_| {}), app.clock.clone());
    while slow.answered() == 0 {
        assert_eq!(other.run_pending_jobs().await.unwrap(), 0, "taken over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    loop {
        let d = deliveries(&app, &p, &we).await;
        if d[0]["status"] == "succeeded" {
            assert_eq!(d[0]["attemptCount"], 1);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(slow.arrived(), 1, "sent once");
    worker.abort();
});

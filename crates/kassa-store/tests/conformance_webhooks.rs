//! Webhook storage, on both backends: events become one delivery per matching endpoint, once,
//! also with several dispatchers at once; attempts are recorded with what follows from them;
//! deleting an endpoint cancels what it had pending; an endpoint failing for days is disabled.
//!
//! Deliveries' jobs are made due in far-off years (see `instant_in`), so the job sweeps other
//! tests run on a shared PostgreSQL database never take them. The tests here take turns
//! ([`SERIAL`]): a dispatcher takes every partner's undispatched events, so one test's
//! dispatcher could otherwise hold another test's event, uncommitted, while that test looks for
//! its delivery, or stamp it with its own clock.

mod common;

use std::sync::Arc;

use common::*;
use kassa_core::id::{JobId, PartnerId, WebhookEndpointId};
use kassa_core::webhook::{DeliveryStatus, EndpointStatus, EventFilter, WebhookUrl};
use kassa_store::{
    AttemptOutcome, AttemptRecord, Claim, CreateEndpointOutcome, NewWebhookEndpoint, Page,
    PageRequest, RetryOutcome, SealedSecret, Store, StoreError, WebhookAttempt, WebhookDelivery,
    WebhookEndpoint,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;

/// Held for the whole of each test in this file.
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn new_endpoint(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    events: EventFilter,
    at: OffsetDateTime,
) -> WebhookEndpoint {
    let new = NewWebhookEndpoint {
        id: WebhookEndpointId::generate(),
        url: WebhookUrl::parse(
            "https://hooks.acme.example/kassa",
            kassa_core::network::Networks::Public,
        )
        .unwrap(),
        description: None,
        events,
        secret: SealedSecret {
            nonce: vec![1; 12],
            ciphertext: b"sealed test secret".to_vec(),
        },
    };
    match store
        .create_webhook_endpoint(partner, &new, 20, &by_at(at))
        .await
        .unwrap_or_else(|e| panic!("[{name}] create endpoint: {e:?}"))
    {
        CreateEndpointOutcome::Created(e) => e,
        other => panic!("[{name}] {other:?}"),
    }
}

/// A `payment_request.created` event of the partner at `at`.
async fn new_event(name: &str, store: &Arc<dyn Store>, partner: &PartnerId, at: OffsetDateTime) {
    store
        .create_payment_request(&request(partner, &reference(), 1_000, at), &by_at(at))
        .await
        .unwrap_or_else(|e| panic!("[{name}] create request: {e:?}"));
}

async fn dispatch_all(name: &str, store: &Arc<dyn Store>, at: OffsetDateTime) {
    while store
        .dispatch_events(50, false, at)
        .await
        .unwrap_or_else(|e| panic!("[{name}] dispatch: {e:?}"))
        .events
        > 0
    {}
}

async fn deliveries_of(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    endpoint: &WebhookEndpoint,
) -> Vec<WebhookDelivery> {
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    match store
        .list_webhook_deliveries(partner, &endpoint.id, None, &page)
        .await
        .unwrap_or_else(|e| panic!("[{name}] list deliveries: {e:?}"))
    {
        Page::Items { data, .. } => data,
        Page::UnknownCursor => panic!("[{name}] unknown cursor"),
    }
}

fn attempt(at: OffsetDateTime, status: u16) -> WebhookAttempt {
    WebhookAttempt {
        attempted_at: at,
        status_code: Some(status),
        error: None,
        latency_ms: 12,
    }
}

fn record(
    d: &WebhookDelivery,
    job: &JobId,
    at: OffsetDateTime,
    status: u16,
    outcome: AttemptOutcome,
) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.id.clone(),
        job_id: job.clone(),
        worker: "conformance".into(),
        attempt: attempt(at, status),
        outcome,
        email_partner: false,
    }
}

/// The delivery's job, leased to the worker [`record`] names (only the holder records).
async fn job_of(name: &str, store: &Arc<dyn Store>, d: &WebhookDelivery) -> JobId {
    lease_deliveries(name, store).await;
    store
        .webhook_delivery_work(&d.id)
        .await
        .unwrap_or_else(|e| panic!("[{name}] work: {e:?}"))
        .expect("the delivery's work")
        .job_id
}

/// Leases every due delivery job to the worker [`record`] names.
async fn lease_deliveries(name: &str, store: &Arc<dyn Store>) {
    store
        .claim_jobs(&Claim {
            worker: "conformance",
            kinds: &["webhook_delivery"],
            now: instant_in(2999),
            lease: Duration::minutes(1),
            limit: 1000,
        })
        .await
        .unwrap_or_else(|e| panic!("[{name}] claim: {e:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_dispatchers_make_one_delivery_per_endpoint_and_event() {
    let _turn = SERIAL.lock().await;
    for (name, store) in backends().await.iter() {
        let at = instant_in(2091);
        let partner = new_partner(name, store).await;
        let all = new_endpoint(name, store, &partner, EventFilter::All, at).await;
        let canceled = new_endpoint(
            name,
            store,
            &partner,
            EventFilter::Only(vec!["payment_request.canceled".into()]),
            at,
        )
        .await;
        for _ in 0..30 {
            new_event(name, store, &partner, at).await;
        }
        let dispatchers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    while store.dispatch_events(7, false, at).await.unwrap().events > 0 {}
                })
            })
            .collect();
        for d in dispatchers {
            d.await.unwrap();
        }
        dispatch_all(name, store, at).await;

        let made = deliveries_of(name, store, &partner, &all).await;
        assert_eq!(made.len(), 30, "[{name}] one delivery per event");
        let mut events: Vec<_> = made.iter().map(|d| d.event_id.clone()).collect();
        events.sort();
        events.dedup();
        assert_eq!(events.len(), 30, "[{name}] never two for one event");
        assert!(made
            .iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempt_count == 0));
        assert!(
            deliveries_of(name, store, &partner, &canceled)
                .await
                .is_empty(),
            "[{name}] the filter holds"
        );
        // An endpoint made after the events gets none of them.
        let later = new_endpoint(
            name,
            store,
            &partner,
            EventFilter::All,
            at + Duration::seconds(1),
        )
        .await;
        dispatch_all(name, store, at).await;
        assert!(deliveries_of(name, store, &partner, &later)
            .await
            .is_empty());
    }
}

#[tokio::test]
async fn attempts_are_recorded_and_deleting_cancels_what_is_pending() {
    let _turn = SERIAL.lock().await;
    for (name, store) in backends().await.iter() {
        let at = instant_in(2092);
        let partner = new_partner(name, store).await;
        let endpoint = new_endpoint(name, store, &partner, EventFilter::All, at).await;
        new_event(name, store, &partner, at).await;
        dispatch_all(name, store, at).await;
        let d = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        let job = job_of(name, store, &d).await;

        // A 500, then a retry that succeeds.
        let retry_at = at + Duration::seconds(30);
        store
            .record_webhook_attempt(
                &record(&d, &job, at, 500, AttemptOutcome::RetryAt(retry_at)),
                at,
            )
            .await
            .unwrap();
        let now = store
            .webhook_delivery(&partner, &d.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.status, DeliveryStatus::Pending);
        assert_eq!(
            (now.attempt_count, now.next_attempt_at),
            (1, Some(retry_at))
        );
        assert_eq!(now.first_attempt_at, Some(at));
        assert_eq!(now.attempts, vec![attempt(at, 500)]);
        let shown = store
            .webhook_endpoint(&partner, &endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shown.failing_since, Some(at), "[{name}]");
        // The retry is due again: leased anew.
        lease_deliveries(name, store).await;
        store
            .record_webhook_attempt(
                &record(&d, &job, retry_at, 200, AttemptOutcome::Delivered),
                retry_at,
            )
            .await
            .unwrap();
        let now = store
            .webhook_delivery(&partner, &d.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.status, DeliveryStatus::Succeeded);
        assert_eq!(now.completed_at, Some(retry_at));
        assert_eq!(now.attempts.len(), 2);
        let shown = store
            .webhook_endpoint(&partner, &endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shown.failing_since, None, "[{name}]");

        // Sent again on demand; another partner cannot.
        let other = new_partner(name, store).await;
        assert_eq!(
            store
                .retry_webhook_delivery(&other, &d.id, &by_at(retry_at))
                .await
                .unwrap(),
            RetryOutcome::NotFound
        );
        match store
            .retry_webhook_delivery(&partner, &d.id, &by_at(retry_at))
            .await
            .unwrap()
        {
            RetryOutcome::Scheduled(again) => {
                assert_eq!(again.status, DeliveryStatus::Pending);
                assert_eq!(again.next_attempt_at, Some(retry_at));
            }
            other => panic!("[{name}] {other:?}"),
        }
        assert!(store
            .webhook_endpoint(&other, &endpoint.id)
            .await
            .unwrap()
            .is_none());

        // Deleting cancels it, and the endpoint and its deliveries are gone for the API.
        let deleted = store
            .delete_webhook_endpoint(&partner, &endpoint.id, &by_at(retry_at))
            .await
            .unwrap();
        assert!(deleted.is_some());
        let left = deliveries_of(name, store, &partner, &endpoint).await;
        assert_eq!(left[0].status, DeliveryStatus::Canceled, "[{name}]");
        assert!(store
            .webhook_delivery(&partner, &d.id)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .webhook_endpoint(&partner, &endpoint.id)
            .await
            .unwrap()
            .is_none());
        let work = store.webhook_delivery_work(&d.id).await.unwrap().unwrap();
        assert!(work.endpoint_deleted);
        assert!(store
            .delete_webhook_endpoint(&partner, &endpoint.id, &by_at(retry_at))
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_disabled() {
    let _turn = SERIAL.lock().await;
    for (name, store) in backends().await.iter() {
        let at = instant_in(2093);
        let partner = new_partner(name, store).await;
        let endpoint = new_endpoint(name, store, &partner, EventFilter::All, at).await;
        new_event(name, store, &partner, at).await;
        new_event(name, store, &partner, at).await;
        dispatch_all(name, store, at).await;
        let both = deliveries_of(name, store, &partner, &endpoint).await;
        let d = &both[0];
        let job = job_of(name, store, d).await;
        let later = at + Duration::days(2);
        let disabled = store
            .record_webhook_attempt(
                &record(d, &job, at, 503, AttemptOutcome::RetryAt(later)),
                at,
            )
            .await
            .unwrap();
        assert!(!disabled);
        lease_deliveries(name, store).await;
        let end = at + Duration::days(3);
        let disabled = store
            .record_webhook_attempt(&record(d, &job, end, 503, AttemptOutcome::Failed), end)
            .await
            .unwrap();
        assert!(disabled, "[{name}]");
        let shown = store
            .webhook_endpoint(&partner, &endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shown.status, EndpointStatus::Disabled);
        let reason = shown.disabled_reason.clone().unwrap();
        assert!(reason.contains("HTTP 503"), "[{name}] {reason}");
        // The other delivery, never attempted, failed with it.
        assert!(deliveries_of(name, store, &partner, &endpoint)
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Failed));
        // Disabled endpoints get no deliveries, and their deliveries are not sent again.
        new_event(name, store, &partner, end).await;
        dispatch_all(name, store, end).await;
        assert_eq!(
            deliveries_of(name, store, &partner, &endpoint).await.len(),
            2
        );
        assert!(matches!(
            store
                .retry_webhook_delivery(&partner, &d.id, &by_at(end))
                .await
                .unwrap(),
            RetryOutcome::EndpointDisabled(_)
        ));
        let enabled = store
            .enable_webhook_endpoint(&partner, &endpoint.id, &by_at(end))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(enabled.status, EndpointStatus::Enabled);
        assert_eq!(
            (enabled.failing_since, enabled.disabled_reason),
            (None, None)
        );
    }
}

#[tokio::test]
async fn a_delivery_can_end_unsent() {
    let _turn = SERIAL.lock().await;
    for (name, store) in backends().await.iter() {
        let at = instant_in(2094);
        let partner = new_partner(name, store).await;
        let endpoint = new_endpoint(name, store, &partner, EventFilter::All, at).await;
        new_event(name, store, &partner, at).await;
        dispatch_all(name, store, at).await;
        let d = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        let job = job_of(name, store, &d).await;
        // A worker without the job's lease changes nothing.
        assert!(matches!(
            store.release_webhook_job(&job, "not-the-holder", at).await,
            Err(StoreError::LeaseLost)
        ));
        assert!(matches!(
            store
                .drop_webhook_delivery(&d.id, &job, "not-the-holder", DeliveryStatus::Canceled, at)
                .await,
            Err(StoreError::LeaseLost)
        ));
        let now = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        assert_eq!(now.status, DeliveryStatus::Pending, "[{name}]");
        assert!(matches!(
            store
                .record_webhook_attempt(
                    &AttemptRecord {
                        worker: "not-the-holder".into(),
                        ..record(&d, &job, at, 200, AttemptOutcome::Delivered)
                    },
                    at
                )
                .await,
            Err(StoreError::LeaseLost)
        ));
        let now = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        assert_eq!(
            (now.status, now.attempts.len()),
            (DeliveryStatus::Pending, 0),
            "[{name}] no attempt recorded"
        );
        // The holder ends it.
        store
            .drop_webhook_delivery(&d.id, &job, "conformance", DeliveryStatus::Canceled, at)
            .await
            .unwrap_or_else(|e| panic!("[{name}] drop: {e:?}"));
        let now = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        assert_eq!(now.status, DeliveryStatus::Canceled, "[{name}]");
        assert_eq!((now.completed_at, now.next_attempt_at), (Some(at), None));
        // Its job is done: ending it again changes nothing.
        assert!(store
            .drop_webhook_delivery(&d.id, &job, "conformance", DeliveryStatus::Failed, at)
            .await
            .is_err());
        let now = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        assert_eq!(now.status, DeliveryStatus::Canceled, "[{name}]");
    }
}

/// Deleting (or disabling) an endpoint ends its pending deliveries' jobs, but one whose attempt
/// is in flight keeps its lease: the attempt is still recorded by the worker that made it.
#[tokio::test]
async fn an_attempt_in_flight_when_its_endpoint_goes_is_still_recorded() {
    let _turn = SERIAL.lock().await;
    for (name, store) in backends().await.iter() {
        let at = instant_in(2093);
        let partner = new_partner(name, store).await;
        let endpoint = new_endpoint(name, store, &partner, EventFilter::All, at).await;
        new_event(name, store, &partner, at).await;
        dispatch_all(name, store, at).await;
        let d = deliveries_of(name, store, &partner, &endpoint)
            .await
            .remove(0);
        let job = job_of(name, store, &d).await;
        // The endpoint is deleted while the POST is on its way.
        store
            .delete_webhook_endpoint(&partner, &endpoint.id, &by_at(at))
            .await
            .unwrap()
            .expect("deleted");
        store
            .record_webhook_attempt(&record(&d, &job, at, 200, AttemptOutcome::Delivered), at)
            .await
            .unwrap_or_else(|e| panic!("[{name}] the holder records its attempt: {e:?}"));
        // The job stays done: nobody claims it again.
        let again = store
            .claim_jobs(&Claim {
                worker: "another",
                kinds: &["webhook_delivery"],
                now: instant_in(2999),
                lease: Duration::minutes(1),
                limit: 1000,
            })
            .await
            .unwrap();
        assert!(again.iter().all(|j| j.id != job), "[{name}]");
    }
}

/// The webhook lane's claim never lets an endpoint have more than `per_endpoint` deliveries in
/// flight, counting those the worker already runs.
#[tokio::test]
async fn a_delivery_claim_counts_what_is_in_flight_per_endpoint() {
    let _turn = SERIAL.lock().await;
    for (name, store) in backends().await.iter() {
        let at = instant_in(2094);
        let partner = new_partner(name, store).await;
        let endpoint = new_endpoint(name, store, &partner, EventFilter::All, at).await;
        for _ in 0..5 {
            new_event(name, store, &partner, at).await;
        }
        dispatch_all(name, store, at).await;
        let ours = endpoint.id.as_str().to_string();
        let claim = Claim {
            worker: "lane",
            kinds: &["webhook_delivery"],
            now: instant_in(2999),
            lease: Duration::minutes(1),
            limit: 1000,
        };
        let count = |claimed: &[kassa_store::DeliveryJob]| {
            claimed.iter().filter(|d| d.endpoint_id == ours).count()
        };
        // Two in flight of three allowed: one more.
        let first = store
            .claim_delivery_jobs(&claim, &[(ours.clone(), 2)], 3)
            .await
            .unwrap();
        assert_eq!(count(&first), 1, "[{name}]");
        // Three in flight: none.
        let second = store
            .claim_delivery_jobs(&claim, &[(ours.clone(), 3)], 3)
            .await
            .unwrap();
        assert_eq!(count(&second), 0, "[{name}]");
        // None in flight: up to three of the four left.
        let third = store.claim_delivery_jobs(&claim, &[], 3).await.unwrap();
        assert_eq!(count(&third), 3, "[{name}]");
    }
}

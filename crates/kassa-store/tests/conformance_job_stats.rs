//! The queue and connection readings behind `/metrics`, on both backends: jobs not done counted
//! by kind with how long the oldest has been due, done jobs left out, and the pool's connections.

mod common;

use common::{backends, instant_in, now};
use kassa_store::{NewJob, QueuedJobs};
use time::Duration;

#[tokio::test]
async fn queued_jobs_are_counted_by_kind_with_the_oldest_due() {
    for (name, store) in backends().await.iter() {
        // Kinds of this run only, so other tests' jobs in a shared database do not count.
        let tag = kassa_core::id::random_base62(10);
        let (slow, later) = (format!("stats_{tag}_a"), format!("stats_{tag}_b"));
        let t = instant_in(2030);
        let job = |kind: &str, run_at| NewJob {
            kind: kind.to_string(),
            payload: serde_json::json!({}),
            run_at,
        };
        for run_at in [t - Duration::seconds(90), t - Duration::seconds(5), t] {
            store.enqueue_job(&job(&slow, run_at), now()).await.unwrap();
        }
        store
            .enqueue_job(&job(&later, t + Duration::hours(1)), now())
            .await
            .unwrap();

        let mine = |all: Vec<QueuedJobs>| -> Vec<QueuedJobs> {
            all.into_iter()
                .filter(|q| q.kind.starts_with(&format!("stats_{tag}")))
                .collect()
        };
        let queued = mine(store.queued_jobs(t).await.unwrap());
        assert_eq!(
            queued,
            vec![
                QueuedJobs {
                    kind: slow.clone(),
                    queued: 3,
                    oldest_due_for: Duration::seconds(90),
                },
                // Waiting for its time is queued, but not late.
                QueuedJobs {
                    kind: later.clone(),
                    queued: 1,
                    oldest_due_for: Duration::ZERO,
                },
            ],
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn connections_are_counted_idle_and_in_use() {
    for (name, store) in backends().await.iter() {
        store.ping().await.unwrap();
        let stats = store.connection_stats();
        assert!(
            stats.idle + stats.in_use >= 1,
            "[{name}] a ping leaves a connection open: {stats:?}"
        );
    }
}

//! Abuse-limit counters, on both backends: a burst is admitted and the next refused with how
//! long to wait; several limits count all or none; a give-back frees one slot; concurrent takes
//! count as they arrive (30 at once against a limit of 5 admit exactly 5); empty buckets are
//! purged.

mod common;

use std::sync::Arc;

use common::*;
use kassa_core::limit::Rate;
use kassa_store::{LimitKey, Store};
use time::Duration;

fn rate(text: &str) -> Rate {
    Rate::parse(text).unwrap()
}

fn key(text: &str) -> String {
    format!("{text}:{}", token())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_is_admitted_then_refused_with_the_wait() {
    for (name, store) in backends().await.iter() {
        let at = now();
        let k = key("burst");
        let limit = LimitKey {
            key: &k,
            rate: rate("5/15m"),
        };
        for i in 0..5 {
            assert_eq!(
                store.limit_take(&[limit], at).await.unwrap(),
                None,
                "[{name}] take {i}"
            );
        }
        // The 6th waits one interval (3 minutes).
        assert_eq!(
            store.limit_take(&[limit], at).await.unwrap(),
            Some(180_000_000),
            "[{name}]"
        );
        // A refusal counts nothing: still one interval later, exactly one more.
        let later = at + Duration::minutes(3);
        assert_eq!(store.limit_take(&[limit], later).await.unwrap(), None);
        assert!(store.limit_take(&[limit], later).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_limits_count_all_or_none_and_give_back_frees_a_slot() {
    for (name, store) in backends().await.iter() {
        let at = now();
        let (a, b) = (key("a"), key("b"));
        let tight = LimitKey {
            key: &a,
            rate: rate("1/1h"),
        };
        let loose = LimitKey {
            key: &b,
            rate: rate("3/1h"),
        };
        assert_eq!(store.limit_take(&[tight, loose], at).await.unwrap(), None);
        // `tight` refuses: `loose` is not counted either.
        let wait = store.limit_take(&[loose, tight], at).await.unwrap();
        assert_eq!(wait, Some(3_600_000_000), "[{name}]");
        assert_eq!(store.limit_take(&[loose], at).await.unwrap(), None);
        assert_eq!(store.limit_take(&[loose], at).await.unwrap(), None);
        assert!(
            store.limit_take(&[loose], at).await.unwrap().is_some(),
            "[{name}] loose took 3, not 4"
        );
        // Giving one back to both frees one slot each.
        store.limit_give_back(&[tight, loose], at).await.unwrap();
        assert_eq!(store.limit_take(&[tight, loose], at).await.unwrap(), None);
        // Giving back more than was taken never makes room for more than the burst.
        for _ in 0..5 {
            store.limit_give_back(&[loose], at).await.unwrap();
        }
        for _ in 0..3 {
            assert_eq!(store.limit_take(&[loose], at).await.unwrap(), None);
        }
        assert!(store.limit_take(&[loose], at).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_takes_count_as_they_arrive() {
    for (name, store) in backends().await.iter() {
        let at = now();
        let k = Arc::new(key("race"));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..30 {
            let store: Arc<dyn Store> = Arc::clone(store);
            let k = Arc::clone(&k);
            tasks.spawn(async move {
                let limit = LimitKey {
                    key: &k,
                    rate: Rate::parse("5/15m").unwrap(),
                };
                store.limit_take(&[limit], at).await.unwrap().is_none()
            });
        }
        let mut admitted = 0;
        while let Some(ok) = tasks.join_next().await {
            admitted += usize::from(ok.unwrap());
        }
        assert_eq!(admitted, 5, "[{name}]");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_buckets_are_purged_and_full_ones_kept() {
    for (name, store) in backends().await.iter() {
        let at = now();
        let (short, long) = (key("short"), key("long"));
        let short = LimitKey {
            key: &short,
            rate: rate("1/1m"),
        };
        let long = LimitKey {
            key: &long,
            rate: rate("1/1d"),
        };
        store.limit_take(&[short, long], at).await.unwrap();
        let purged = store.purge_limits(at + Duration::hours(1)).await.unwrap();
        assert!(purged >= 1, "[{name}] purged {purged}");
        // The day-long refusal survived the purge; the minute-long one is gone (and empty).
        assert!(store
            .limit_take(&[long], at + Duration::hours(1))
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            store
                .limit_take(&[short], at + Duration::hours(1))
                .await
                .unwrap(),
            None
        );
    }
}

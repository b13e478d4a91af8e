//! A webhook receiver on 127.0.0.1 that takes its time: each request is answered 200 after a
//! set delay (or never), and counted as it arrives, so tests can see deliveries in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct SlowReceiver {
    pub base: String,
    arrived: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

impl SlowReceiver {
    /// Answers every request after `delay`; `None`: never answers.
    pub async fn start(delay: Option<Duration>) -> SlowReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = SlowReceiver {
            base: format!("http://{}", listener.local_addr().unwrap()),
            arrived: Default::default(),
            answered: Default::default(),
        };
        let state = receiver.clone();
        let router = axum::Router::new().fallback(move || {
            let state = state.clone();
            async move {
                state.arrived.fetch_add(1, Ordering::SeqCst);
                match delay {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => std::future::pending::<()>().await,
                }
                state.answered.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        });
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    pub fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    /// Requests that arrived (answered or not).
    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived; panics after 20 s.
    pub async fn wait_for(&self, n: usize) {
        let started = std::time::Instant::now();
        while self.arrived() < n {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "only {} of {n} requests arrived",
                self.arrived()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

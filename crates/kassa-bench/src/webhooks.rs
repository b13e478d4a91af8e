//! W5, webhook throughput (docs/api.md §12): while W2 sales run closed-loop, every event they
//! make is delivered to a fast receiver on 127.0.0.1 (an endpoint for `*`). Measured: the API's
//! event rate, the delivery rate during the same seconds, and how long the backlog took to drain
//! after the load stopped. The target is deliveries ≥ events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::loadgen::closed_loop;
use crate::workload::{Target, Workload};

/// Sales in flight during the measurement.
pub(crate) const CONCURRENCY: usize = 16;
/// How long the backlog may take to drain before the run gives up waiting.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct WebhookRun {
    pub seconds: f64,
    /// Events the API recorded while the sales ran.
    pub events: u64,
    /// Deliveries the receiver got in the same seconds.
    pub delivered: u64,
    /// After the load stopped, until every event was delivered; None: not within the limit.
    pub drained_after: Option<f64>,
}

impl WebhookRun {
    pub fn event_rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }

    pub fn delivery_rate(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }
}

/// A receiver that answers 200 at once and counts what it got; its URL.
async fn receiver(count: Arc<AtomicU64>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let router = axum::Router::new().fallback(move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// How many events the database holds.
async fn events_in(database_url: &str) -> anyhow::Result<u64> {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM events";
    let n: i64 = if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        sqlx::query_scalar(sql).fetch_one(&mut conn).await?
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await?;
        sqlx::query_scalar(sql).fetch_one(&mut conn).await?
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Runs W5 against `target`, whose database is at `database_url`.
pub(crate) async fn measure(
    target: &Arc<Target>,
    database_url: &str,
    seconds: f64,
) -> anyhow::Result<WebhookRun> {
    let count = Arc::new(AtomicU64::new(0));
    let url = receiver(count.clone()).await?;
    target
        .create_webhook_endpoint(&url)
        .await
        .map_err(anyhow::Error::msg)
        .context("cannot add the benchmark's webhook endpoint")?;
    let before = events_in(database_url).await?;
    let started = Instant::now();
    closed_loop(target, Workload::Sale, CONCURRENCY, seconds).await;
    let elapsed = started.elapsed().as_secs_f64();
    let delivered = count.load(Ordering::Relaxed);
    let events = events_in(database_url).await? - before;
    let stopped = Instant::now();
    let drained_after = loop {
        if count.load(Ordering::Relaxed) >= events {
            break Some(stopped.elapsed().as_secs_f64());
        }
        if stopped.elapsed() > DRAIN_LIMIT {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Ok(WebhookRun {
        seconds: elapsed,
        events,
        delivered,
        drained_after,
    })
}

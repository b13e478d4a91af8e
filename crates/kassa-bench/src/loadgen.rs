//! How load is offered: a runtime of its own for the client, and closed and open loops of
//! operations that collect [`RunStats`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::stats::RunStats;
use crate::workload::{Target, Workload};

/// The load generator's runtime: one thread of its own beside the server's workers.
pub(crate) struct LoadGen {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoadGen {
    pub(crate) fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-loadgen".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `work` on the load generator's thread; its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    ) -> anyhow::Result<T> {
        self.handle
            .spawn(work)
            .await
            .context("the load generator stopped")?
    }
}

impl Drop for LoadGen {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `concurrency` workers each run operations back to back for `seconds`.
pub(crate) async fn closed_loop(
    target: &Arc<Target>,
    w: Workload,
    concurrency: usize,
    seconds: f64,
) -> RunStats {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let target = target.clone();
        tasks.spawn(async move {
            let mut stats = RunStats::default();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let r = target.op(w).await;
                stats.record(t0, r);
            }
            stats
        });
    }
    let parts = tasks.join_all().await;
    RunStats::merge(parts, started.elapsed())
}

/// Operations start at a fixed rate whether or not earlier ones finished (open loop); latency
/// counts from the scheduled start, so a server falling behind shows up as queueing time.
pub(crate) async fn open_loop(
    target: &Arc<Target>,
    w: Workload,
    rate: f64,
    seconds: f64,
) -> RunStats {
    let started = Instant::now();
    let total = (rate * seconds).floor().max(1.0) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let scheduled = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let target = target.clone();
        tasks.spawn(async move {
            let mut stats = RunStats::default();
            let r = target.op(w).await;
            stats.record(scheduled, r);
            stats
        });
    }
    let parts = tasks.join_all().await;
    RunStats::merge(parts, started.elapsed())
}

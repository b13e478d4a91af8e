//! How load is offered: a runtime of its own for the client, and closed and open loops of
//! operations that collect [`RunStats`]; and the CPU clock that tells Kassa's CPU time from the
//! load generator's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use kassa_server::process_stats::cpu_seconds_of;

use crate::stats::RunStats;
use crate::workload::{Target, Workload};

/// The load generator's runtime: one thread of its own beside the server's workers.
pub(crate) struct LoadGen {
    handle: tokio::runtime::Handle,
    /// The thread's `/proc` entry, to take its CPU time out of the process's.
    thread_proc: Option<PathBuf>,
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
        let (told, proc_entry) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bench-loadgen".into())
            .spawn(move || {
                // `/proc/thread-self` names `<pid>/task/<tid>`: this thread's entry.
                let _ = told.send(
                    std::fs::read_link("/proc/thread-self")
                        .ok()
                        .map(|p| Path::new("/proc").join(p)),
                );
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Self {
            handle,
            thread_proc: proc_entry.recv().ok().flatten(),
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

/// CPU time of the whole process, and of the load generator's thread within it.
#[derive(Debug, Clone)]
pub(crate) struct CpuClock {
    thread_proc: Option<PathBuf>,
}

impl CpuClock {
    /// Seconds of CPU the process has used outside the load generator's thread: Kassa's own
    /// (its runtime, its blocking threads, SQLite's work), or None where `/proc` cannot tell.
    pub(crate) fn kassa_seconds(&self) -> Option<f64> {
        let process = cpu_seconds_of(Path::new("/proc/self"))?;
        let loadgen = cpu_seconds_of(self.thread_proc.as_deref()?)?;
        Some(process - loadgen)
    }
}

impl LoadGen {
    pub(crate) fn cpu_clock(&self) -> CpuClock {
        CpuClock {
            thread_proc: self.thread_proc.clone(),
        }
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

//! `kassa-bench` (the library behind its binary, `src/main.rs`): starts Kassa in-process (the same
//! `App::from_config`, router and job worker `kassa serve` runs) on a fresh SQLite file and, when
//! asked, a fresh PostgreSQL database; drives it over real HTTP with three workloads at several
//! concurrency levels; measures the raw commit rate of the same database with the same durability
//! settings; measures webhook delivery throughput beside the API's event rate (`webhooks`); and
//! writes a Markdown report. This file runs those steps in order; `workload`,
//! `loadgen`, `raw`, `stats` and `report` hold the parts.
//!
//! Client and server share one process (the client on a thread and runtime of its own), so on a
//! small machine the load generator takes CPU from the server; the report says so.

mod loadgen;
mod raw;
mod report;
mod stats;
mod webhooks;
mod workload;

pub use report::{render, BackendReport};
pub use stats::RunStats;
pub use webhooks::WebhookRun;
pub use workload::Workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kassa_core::audit::Caller;
use kassa_core::clock::{Clock, SystemClock};
use kassa_core::scope::Scopes;
use kassa_server::admin::{self, NewPartnerInput};
use kassa_server::process_stats::{peak_resident_bytes, ProcessStats};
use kassa_server::{App, Config};

use crate::loadgen::{closed_loop, open_loop, CpuClock, LoadGen};
use crate::raw::{raw_levels, RawPg, RawSqlite};
use crate::stats::commits_between;
use crate::workload::Target;

/// Issue 19's targets, measured in one run with production settings. SQLite: peak W2 sales/s
/// at least this many times the raw single-connection commit loop…
pub const TARGET_SQLITE_W2_RATIO: f64 = 1.0;
/// …and W1 hosted checkouts/s this share of it.
pub const TARGET_SQLITE_W1_RATIO: f64 = 0.5;
/// PostgreSQL: peak W2 sales/s at least this share of raw commits/s at the same concurrency.
pub const TARGET_POSTGRES_W2_RATIO: f64 = 0.5;
/// p99 of W2 sales at half the peak rate (open loop), in milliseconds, on each backend.
pub const TARGET_P99_MS: f64 = 10.0;
/// Kassa's CPU time per W2 sale (process CPU less the load generator's), in microseconds.
pub const TARGET_CPU_US_PER_SALE: f64 = 150.0;
/// The process's peak resident memory, in MiB.
pub const TARGET_RSS_MIB: f64 = 100.0;
/// Completed sales W4 refunds a cent of at a time, in turn (so that concurrent refunds rarely
/// wait for each other on one payment's row).
const REFUNDABLE_SALES: usize = 64;
/// API keys the load rotates over: at the default 100 calls/s per key (docs/api.md §8), enough
/// for 3,200 calls/s.
const API_KEYS: usize = 32;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Length of every measured run.
    pub seconds: f64,
    /// Concurrency levels (closed loop: this many operations in flight).
    pub concurrency: Vec<usize>,
    /// A PostgreSQL server to benchmark too; a fresh database is made on it and dropped after.
    pub postgres_url: Option<String>,
    /// Where the Markdown report goes.
    pub out: PathBuf,
    /// The command line, for the report.
    pub command: String,
    /// The abuse limits Kassa runs with (the defaults unless configured).
    pub limits: kassa_server::config::LimitsConfig,
    /// The workloads to run (all by default; a subset for profiling one).
    pub workloads: Vec<Workload>,
}

/// Runs the whole benchmark and writes the report to `options.out`; returns the report text.
pub async fn run(options: &BenchOptions) -> anyhow::Result<String> {
    if options.concurrency.is_empty() || options.concurrency.contains(&0) {
        bail!("--concurrency needs one or more levels, each at least 1");
    }
    if options.seconds.is_nan() || options.seconds <= 0.0 {
        bail!("--seconds must be positive");
    }
    if options.workloads.is_empty() {
        bail!("--workloads needs one or more of W1, W2, W3, W4");
    }
    let started = Instant::now();
    let mut backends = Vec::new();
    eprintln!("bench: SQLite");
    backends.push(bench_sqlite(options).await?);
    if let Some(url) = &options.postgres_url {
        eprintln!("bench: PostgreSQL");
        backends.push(bench_postgres(options, url).await?);
    }
    let report = render(options, &backends, started.elapsed());
    if let Some(parent) = options.out.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&options.out, &report)
        .with_context(|| format!("cannot write {}", options.out.display()))?;
    Ok(report)
}

async fn bench_sqlite(options: &BenchOptions) -> anyhow::Result<BackendReport> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("kassa.db").display());
    let mut report = bench_backend(options, "SQLite", &url, dir.path().to_path_buf()).await?;
    let raw = RawSqlite::open(&url).await?;
    report.durability = raw.settings().await?;
    report.raw = raw_levels(options, |c| raw.run(c, options.seconds)).await?;
    Ok(report)
}

async fn bench_postgres(options: &BenchOptions, server_url: &str) -> anyhow::Result<BackendReport> {
    use sqlx::Connection;
    let db = format!(
        "kassa_bench_{}",
        kassa_core::id::random_base62(10).to_lowercase()
    );
    let url = with_database(server_url, &db)?;
    let mut admin_conn = sqlx::PgConnection::connect(server_url)
        .await
        .context("cannot reach PostgreSQL at --postgres-url")?;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin_conn)
        .await
        .with_context(|| format!("cannot create the database {db}"))?;
    let dir = tempfile::tempdir()?;
    let result = async {
        let mut report =
            bench_backend(options, "PostgreSQL", &url, dir.path().to_path_buf()).await?;
        let raw = RawPg::open(&url).await?;
        report.durability = raw.settings().await?;
        report.raw = raw_levels(options, |c| raw.run(c, options.seconds)).await?;
        raw.pool.close().await;
        anyhow::Ok(report)
    }
    .await;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut admin_conn)
        .await;
    let report = result?;
    dropped.with_context(|| format!("cannot drop the database {db}"))?;
    Ok(report)
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .context("a PostgreSQL URL looks like postgres://…")?
        + 3;
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    })
}

async fn bench_backend(
    options: &BenchOptions,
    name: &'static str,
    url: &str,
    data_dir: PathBuf,
) -> anyhow::Result<BackendReport> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let mut config = Config {
        data_dir,
        listen: addr,
        ..Config::default()
    };
    config.set("databaseUrl", url)?;
    config.limits = options.limits.clone();
    // The load generator is the loopback "proxy" every payer comes through (see `Target`).
    config.set("trustedProxies", "127.0.0.1")?;
    // W5's receiver is on this machine.
    config.set("webhooks.allowPrivateNetworks", "true")?;
    let base = config.public_base();
    let (app, _key_source) = App::from_config(config)
        .await
        .context("cannot start Kassa")?;
    let partner = admin::create_partner(
        app.state().store.as_ref(),
        &app.state().vault,
        NewPartnerInput {
            name: "Bench Services".into(),
            slug: format!("bench-{}", kassa_core::id::random_base62(8).to_lowercase()),
            ..Default::default()
        },
        &Caller::cli("kassa-bench", SystemClock.now()),
    )
    .await?;
    let store = app.state().store.clone();
    let mut keys = vec![partner.api_key.expose().clone()];
    for n in 1..API_KEYS {
        let (_, key) = admin::create_api_key(
            store.as_ref(),
            &partner.partner.id,
            &format!("bench {n}"),
            Scopes::default_for_new_key(),
            &Caller::cli("kassa-bench", SystemClock.now()),
        )
        .await?;
        keys.push(key.expose().clone());
    }
    let worker = app.spawn_worker();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router();
    // The accept loop `kassa serve` runs, with its connection limits.
    let http = app.state().config.http.clone();
    let server = tokio::spawn(async move {
        kassa_server::serve(listener, router, &http, async {
            let _ = stopped.await;
        })
        .await
    });
    let max_c = options.concurrency.iter().copied().max().unwrap_or(1);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(max_c * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let target = Target {
        base,
        keys,
        client,
        seq: AtomicU64::new(0),
        run_id: kassa_core::id::random_base62(6),
        open_pages: Vec::new(),
        sales: Vec::new(),
    };
    // The load generator runs on a thread and runtime of its own, as a separate process would:
    // its timing is then not at the mercy of the server's task queues.
    let loadgen = LoadGen::start()?;
    let run = Run {
        options: options.clone(),
        store,
        name,
        database_url: url.to_string(),
        cpu: loadgen.cpu_clock(),
    };
    let result = loadgen.run(drive(target, run)).await;
    drop(loadgen);
    let _ = stop.send(());
    let _ = server.await;
    worker.abort();
    result
}

/// What [`drive`] runs against, besides the target.
struct Run {
    options: BenchOptions,
    store: Arc<dyn kassa_store::Store>,
    name: &'static str,
    database_url: String,
    cpu: CpuClock,
}

impl Run {
    /// One measured run of `measure`, with the commits it shared, Kassa's CPU time and the
    /// resident memory after it.
    async fn measured(&self, measure: impl std::future::Future<Output = RunStats>) -> RunStats {
        let commits = self.store.group_commit_stats();
        let cpu = self.cpu.kassa_seconds();
        let mut stats = measure.await;
        stats.commits = commits_between(commits, self.store.group_commit_stats());
        // Both clocks tick in 10 ms steps and are read one after the other: never below zero.
        stats.cpu_seconds = cpu
            .zip(self.cpu.kassa_seconds())
            .map(|(a, b)| (b - a).max(0.0));
        stats.rss_bytes = ProcessStats::read().resident_memory_bytes;
        stats
    }

    /// Refreshes PostgreSQL's planner statistics: the tables grow from nothing during the run,
    /// and a plan made for an empty table is not the one production would use.
    async fn analyze(&self) -> anyhow::Result<()> {
        if !self.database_url.starts_with("postgres") {
            return Ok(());
        }
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.database_url).await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }
}

/// Runs every chosen workload against `target` (on the load generator's runtime): the data
/// they need, warm-up, the closed loops at each concurrency, then the open loop at half the
/// peak sale rate and the webhook run.
async fn drive(mut target: Target, run: Run) -> anyhow::Result<BackendReport> {
    let (options, name) = (&run.options, run.name);
    for _ in 0..8 {
        let page = target.create_request().await.map_err(anyhow::Error::msg)?;
        target.open_pages.push(page);
    }
    if options.workloads.contains(&Workload::Refund) {
        for _ in 0..REFUNDABLE_SALES {
            let sale = target.completed_sale().await.map_err(anyhow::Error::msg)?;
            target.sales.push(sale);
        }
    }
    let target = Arc::new(target);
    // Warm up: connections, caches, prepared statements.
    for &w in &options.workloads {
        for _ in 0..5 {
            target.op(w).await.map_err(anyhow::Error::msg)?;
        }
    }
    run.analyze().await?;
    let mut workloads = Vec::new();
    for &w in &options.workloads {
        run.analyze().await?;
        let mut levels = Vec::new();
        for &c in &options.concurrency {
            let stats = run
                .measured(closed_loop(&target, w, c, options.seconds))
                .await;
            eprintln!(
                "  {name:<10} {} c={c:<3} {:>9.1}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  cpu {:>6.0} µs/op  errors {}",
                w.code(),
                stats.rate(),
                stats.p50_ms(),
                stats.p99_ms(),
                stats.cpu_us_per_op().unwrap_or(f64::NAN),
                stats.errors
            );
            levels.push((c, stats));
        }
        workloads.push((w, levels));
    }
    let peak = workloads
        .iter()
        .find(|(w, _)| *w == Workload::Sale)
        .map(|(_, l)| l.iter().map(|(_, s)| s.rate()).fold(0.0, f64::max))
        .unwrap_or(0.0);
    if peak == 0.0 {
        return anyhow::Ok(BackendReport {
            name,
            durability: Vec::new(),
            workloads,
            raw: Vec::new(),
            half_peak: None,
            webhooks: None,
            peak_rss_bytes: peak_resident_bytes(),
        });
    }
    let rate = peak / 2.0;
    let stats = run
        .measured(open_loop(&target, Workload::Sale, rate, options.seconds))
        .await;
    eprintln!(
        "  {name:<10} W2 open loop at {rate:.1}/s: p50 {:.2} ms  p99 {:.2} ms  errors {}",
        stats.p50_ms(),
        stats.p99_ms(),
        stats.errors
    );
    let half_peak = Some((rate, stats));
    let webhooks = webhooks::measure(&target, &run.database_url, options.seconds).await?;
    eprintln!(
        "  {name:<10} W5 webhooks: events {:.1}/s, delivered {:.1}/s, drained {}",
        webhooks.event_rate(),
        webhooks.delivery_rate(),
        webhooks
            .drained_after
            .map_or("not within the limit".into(), |s| format!("{s:.1} s after")),
    );
    anyhow::Ok(BackendReport {
        name,
        durability: Vec::new(),
        workloads,
        raw: Vec::new(),
        half_peak,
        webhooks: Some(webhooks),
        peak_rss_bytes: peak_resident_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "b").unwrap(),
            "postgres://h/b"
        );
    }
}

//! `kassa bench`: starts Kassa in-process (the same `App::from_config`, router and job worker
//! `kassa serve` runs) on a fresh SQLite file and, when asked, a fresh PostgreSQL database; drives
//! it over real HTTP with three workloads at several concurrency levels; measures the raw commit
//! rate of the same database with the same durability settings; and writes a Markdown report.
//!
//! Client and server share one process and one Tokio runtime, so on a small machine the load
//! generator takes CPU from the server; the report says so.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kassa_core::clock::{Clock, SystemClock};
use kassa_server::admin::{self, NewPartnerInput};
use kassa_server::{App, Config};
use kassa_store::GroupCommitStats;
use reqwest::header;
use reqwest::StatusCode;
use sqlx::ConnectOptions as _;

/// The target from issue 7: API sales reach at least this share of the raw commit rate.
pub const TARGET_RATIO: f64 = 0.5;
/// The target from issue 7: p99 of API sales at half the peak rate, in milliseconds.
pub const TARGET_P99_MS: f64 = 25.0;

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
}

/// One measured run: completed operations, their latencies, failures.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of each successful operation in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    pub first_error: Option<String>,
    /// Write transactions and the commits they shared during the run (SQLite's group commit).
    pub commits: Option<GroupCommitStats>,
}

impl RunStats {
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ops as f64 / self.elapsed.as_secs_f64()
        }
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[idx] as f64 / 1000.0
    }

    pub fn p50_ms(&self) -> f64 {
        self.percentile_ms(50.0)
    }

    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(99.0)
    }

    pub fn max_ms(&self) -> f64 {
        self.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0
    }

    fn merge(parts: Vec<RunStats>, elapsed: Duration) -> RunStats {
        let mut all = RunStats {
            elapsed,
            ..RunStats::default()
        };
        for p in parts {
            all.ops += p.ops;
            all.errors += p.errors;
            all.latencies_us.extend(p.latencies_us);
            if all.first_error.is_none() {
                all.first_error = p.first_error;
            }
        }
        all.latencies_us.sort_unstable();
        all
    }

    fn record(&mut self, started: Instant, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.ops += 1;
                self.latencies_us.push(started.elapsed().as_micros() as u64);
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// W1: create a payment request, open its pay page, pay by card.
    Checkout,
    /// W2: API sale with a three-line invoice and a new card.
    Sale,
    /// W3: GET a pre-made open request's pay page.
    PayPage,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Checkout, Workload::Sale, Workload::PayPage];

    fn title(self) -> &'static str {
        match self {
            Workload::Checkout => {
                "W1 hosted checkout (create request + GET page + POST card → 303)"
            }
            Workload::Sale => {
                "W2 API sale (POST /v1/payments/sale, 3-line invoice, new card → 201)"
            }
            Workload::PayPage => "W3 hosted pay page GET (pre-made open requests)",
        }
    }
}

/// What one backend's run measured.
#[derive(Debug, Clone)]
pub struct BackendReport {
    pub name: &'static str,
    pub durability: Vec<(String, String)>,
    /// Per workload, per concurrency level.
    workloads: Vec<(Workload, Vec<(usize, RunStats)>)>,
    /// Raw single-row INSERT transactions per concurrency level (level 1 = one connection).
    pub raw: Vec<(usize, RunStats)>,
    /// W2 open loop at half its peak rate: (offered rate, stats).
    pub half_peak: Option<(f64, RunStats)>,
}

impl BackendReport {
    fn workload(&self, w: Workload) -> &[(usize, RunStats)] {
        self.workloads
            .iter()
            .find(|(x, _)| *x == w)
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[])
    }

    pub fn sales(&self) -> &[(usize, RunStats)] {
        self.workload(Workload::Sale)
    }

    fn raw_at(&self, c: usize) -> Option<&RunStats> {
        self.raw.iter().find(|(x, _)| *x == c).map(|(_, s)| s)
    }

    fn total_errors(&self) -> u64 {
        self.workloads
            .iter()
            .flat_map(|(_, r)| r.iter())
            .map(|(_, s)| s.errors)
            .sum::<u64>()
            + self.half_peak.as_ref().map(|(_, s)| s.errors).unwrap_or(0)
    }
}

/// Runs the whole benchmark and writes the report to `options.out`; returns the report text.
pub async fn run(options: &BenchOptions) -> anyhow::Result<String> {
    if options.concurrency.is_empty() || options.concurrency.contains(&0) {
        bail!("--concurrency needs one or more levels, each at least 1");
    }
    if options.seconds.is_nan() || options.seconds <= 0.0 {
        bail!("--seconds must be positive");
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

async fn raw_levels<F, Fut>(
    options: &BenchOptions,
    run: F,
) -> anyhow::Result<Vec<(usize, RunStats)>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<RunStats>>,
{
    let mut levels = vec![1];
    levels.extend(options.concurrency.iter().copied().filter(|&c| c != 1));
    let mut out = Vec::new();
    for c in levels {
        let stats = run(c).await?;
        eprintln!(
            "  raw commits  c={c:<3} {:>9.1}/s  p99 {:>7.2} ms  errors {}",
            stats.rate(),
            stats.p99_ms(),
            stats.errors
        );
        out.push((c, stats));
    }
    Ok(out)
}

/// A running in-process Kassa and a partner on it.
struct Target {
    base: String,
    key: String,
    client: reqwest::Client,
    seq: AtomicU64,
    run_id: String,
    open_pages: Vec<String>,
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
    let base = config.public_base();
    let (app, _key_source) = App::from_config(config)
        .await
        .context("cannot start Kassa")?;
    let partner = admin::create_partner(
        app.state().store.as_ref(),
        NewPartnerInput {
            name: "Bench Services".into(),
            slug: format!("bench-{}", kassa_core::id::random_base62(8).to_lowercase()),
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await?;
    let store = app.state().store.clone();
    let worker = app.spawn_worker();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
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
        key: partner.api_key.expose().clone(),
        client,
        seq: AtomicU64::new(0),
        run_id: kassa_core::id::random_base62(6),
        open_pages: Vec::new(),
    };
    // The load generator runs on a thread and runtime of its own, as a separate process would:
    // its timing is then not at the mercy of the server's task queues.
    let loadgen = LoadGen::start()?;
    let result = loadgen
        .run(drive(target, options.clone(), store, name))
        .await;
    drop(loadgen);
    let _ = stop.send(());
    let _ = server.await;
    worker.abort();
    let _ = worker.await;
    result
}

/// Runs every workload against `target` (on the load generator's runtime): warm-up, the
/// closed loops at each concurrency, then the open loop at half the peak sale rate.
async fn drive(
    mut target: Target,
    options: BenchOptions,
    store: Arc<dyn kassa_store::Store>,
    name: &'static str,
) -> anyhow::Result<BackendReport> {
    for _ in 0..8 {
        let page = target.create_request().await.map_err(anyhow::Error::msg)?;
        target.open_pages.push(page);
    }
    let target = Arc::new(target);
    // Warm up: connections, caches, prepared statements.
    for w in Workload::ALL {
        for _ in 0..5 {
            target.op(w).await.map_err(anyhow::Error::msg)?;
        }
    }
    let mut workloads = Vec::new();
    for w in Workload::ALL {
        let mut levels = Vec::new();
        for &c in &options.concurrency {
            let before = store.group_commit_stats();
            let mut stats = closed_loop(&target, w, c, options.seconds).await;
            stats.commits = commits_between(before, store.group_commit_stats());
            eprintln!(
                "  {name:<10} {:?} c={c:<3} {:>9.1}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
                w,
                stats.rate(),
                stats.p50_ms(),
                stats.p99_ms(),
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
    let half_peak = if peak > 0.0 {
        let rate = peak / 2.0;
        let before = store.group_commit_stats();
        let mut stats = open_loop(&target, Workload::Sale, rate, options.seconds).await;
        stats.commits = commits_between(before, store.group_commit_stats());
        eprintln!(
            "  {name:<10} Sale open loop at {rate:.1}/s: p50 {:.2} ms  p99 {:.2} ms  errors {}",
            stats.p50_ms(),
            stats.p99_ms(),
            stats.errors
        );
        Some((rate, stats))
    } else {
        None
    };
    anyhow::Ok(BackendReport {
        name,
        durability: Vec::new(),
        workloads,
        raw: Vec::new(),
        half_peak,
    })
}

/// The load generator's runtime: one thread of its own beside the server's workers.
struct LoadGen {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoadGen {
    fn start() -> anyhow::Result<Self> {
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
    async fn run<T: Send + 'static>(
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

impl Target {
    fn next_ref(&self) -> String {
        format!(
            "BENCH-{}-{}",
            self.run_id,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    async fn op(&self, w: Workload) -> Result<(), String> {
        match w {
            Workload::Checkout => self.checkout().await,
            Workload::Sale => self.sale().await,
            Workload::PayPage => {
                let n = self.seq.fetch_add(1, Ordering::Relaxed) as usize;
                let page = &self.open_pages[n % self.open_pages.len()];
                self.open_page(page).await.map(|_| ())
            }
        }
    }

    async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(StatusCode, String), String> {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| format!("POST {path}: {e}"))?;
        Ok((status, text))
    }

    /// Creates an open payment request; returns its pay page path.
    async fn create_request(&self) -> Result<String, String> {
        let reference = self.next_ref();
        let (status, text) = self
            .post_json(
                "/v1/payment-requests",
                serde_json::json!({"amount": "25.00", "referenceId": reference,
                                   "description": "Benchmark"}),
            )
            .await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "POST /v1/payment-requests: {status}: {}",
                snippet(&text)
            ));
        }
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let url = v["url"].as_str().ok_or("no url in the payment request")?;
        let path = url
            .find("/p/")
            .map(|i| url[i..].to_string())
            .ok_or_else(|| format!("unexpected url {url}"))?;
        Ok(path)
    }

    /// GETs a pay page; returns (CSRF token, cookie).
    async fn open_page(&self, path: &str) -> Result<(String, Option<String>), String> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("GET pay page: {e}"))?;
        let status = resp.status();
        let cookie = resp
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string());
        let text = resp
            .text()
            .await
            .map_err(|e| format!("GET pay page: {e}"))?;
        if status != StatusCode::OK {
            return Err(format!("GET pay page: {status}: {}", snippet(&text)));
        }
        let token = extract(&text, "name=\"csrfToken\" value=\"", "\"")
            .ok_or("no csrfToken on the pay page")?;
        Ok((token, cookie))
    }

    async fn checkout(&self) -> Result<(), String> {
        let page = self.create_request().await?;
        let (token, cookie) = self.open_page(&page).await?;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("csrfToken", token.as_str()),
                ("method", "card"),
                ("cardholderName", "Jo Payer"),
                ("cardNumber", "4242424242424242"),
                ("expiry", "12/30"),
                ("cvc", "739"),
                ("postalCode", "94107"),
            ])
            .finish();
        let mut req = self
            .client
            .post(format!("{}{page}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("POST pay page: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("POST pay page: {e}"))?;
        if status != StatusCode::SEE_OTHER {
            return Err(format!("POST pay page: {status}: {}", snippet(&text)));
        }
        Ok(())
    }

    async fn sale(&self) -> Result<(), String> {
        let reference = self.next_ref();
        let body = serde_json::json!({
            "firstName": "Ada", "lastName": "Lovelace", "merchantCustomerRefId": reference,
            "paymentMethod": {"billingFirstName": "Ada", "billingLastName": "Lovelace",
                "creditCard": {"paymentAccountNumber": "4242424242424242",
                               "expirationDate": "12/2030", "securityCode": "123"}},
            "invoice": {"merchantInvoiceRefId": reference, "invoiceLineItems": [
                {"name": "Consulting", "description": "Two hours", "value": "121.00", "valueType": "Standard"},
                {"name": "Materials", "value": "35.50", "valueType": "Standard"},
                {"name": "Loyalty", "value": "5.00", "valueType": "Discount"}]}
        });
        let (status, text) = self.post_json("/v1/payments/sale", body).await?;
        if status != StatusCode::CREATED || !text.contains("\"status\":\"completed\"") {
            return Err(format!(
                "POST /v1/payments/sale: {status}: {}",
                snippet(&text)
            ));
        }
        Ok(())
    }
}

/// What happened between two readings of the group-commit counters.
fn commits_between(
    before: Option<GroupCommitStats>,
    after: Option<GroupCommitStats>,
) -> Option<GroupCommitStats> {
    let (before, after) = (before?, after?);
    Some(GroupCommitStats {
        transactions: after.transactions - before.transactions,
        commits: after.commits - before.commits,
    })
}

/// "1.00" writes per commit, or "—" when not counted (PostgreSQL).
fn per_commit(stats: &RunStats) -> String {
    match stats.commits {
        Some(c) if c.commits > 0 => format!("{:.2}", c.transactions as f64 / c.commits as f64),
        _ => "—".into(),
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(200).collect()
}

fn extract(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_string())
}

/// `concurrency` workers each run operations back to back for `seconds`.
async fn closed_loop(
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
async fn open_loop(target: &Arc<Target>, w: Workload, rate: f64, seconds: f64) -> RunStats {
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

/// Single-row INSERT transactions on the SQLite file Kassa used, with the store's own settings.
struct RawSqlite {
    url: String,
}

impl RawSqlite {
    async fn open(url: &str) -> anyhow::Result<Self> {
        let pool = self_pool_sqlite(url, 1).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_scratch (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             payload TEXT NOT NULL, created_at TEXT NOT NULL)",
        )
        .execute(&pool)
        .await?;
        pool.close().await;
        Ok(Self {
            url: url.to_string(),
        })
    }

    async fn settings(&self) -> anyhow::Result<Vec<(String, String)>> {
        let pool = self_pool_sqlite(&self.url, 1).await?;
        let mut out = Vec::new();
        for pragma in [
            "journal_mode",
            "synchronous",
            "busy_timeout",
            "foreign_keys",
        ] {
            use sqlx::Row;
            let row = sqlx::query(&format!("PRAGMA {pragma}"))
                .fetch_one(&pool)
                .await
                .with_context(|| format!("PRAGMA {pragma}"))?;
            let v = row
                .try_get::<String, _>(0)
                .or_else(|_| row.try_get::<i64, _>(0).map(|i| i.to_string()))?;
            let v = match (pragma, v.as_str()) {
                ("synchronous", "2") => "2 (FULL)".to_string(),
                ("synchronous", "1") => "1 (NORMAL)".to_string(),
                ("busy_timeout", ms) => format!("{ms} ms"),
                _ => v,
            };
            out.push((pragma.to_string(), v));
        }
        out.push((
            "writer".into(),
            "one connection for all writes (Kassa); raw loop: one connection at c=1, a pool of c connections above".into(),
        ));
        pool.close().await;
        Ok(out)
    }

    async fn run(&self, concurrency: usize, seconds: f64) -> anyhow::Result<RunStats> {
        let pool = self_pool_sqlite(&self.url, concurrency as u32).await?;
        let p = pool.clone();
        let stats = raw_loop(concurrency, seconds, move || {
            let pool = p.clone();
            async move {
                let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
                sqlx::query("INSERT INTO bench_scratch (payload, created_at) VALUES (?, ?)")
                    .bind("x".repeat(64))
                    .bind("2026-01-01T00:00:00Z")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())
            }
        })
        .await;
        pool.close().await;
        Ok(stats)
    }
}

async fn self_pool_sqlite(url: &str, connections: u32) -> anyhow::Result<sqlx::SqlitePool> {
    Ok(sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(connections)
        .connect_with(kassa_store::sqlite_connect_options(url)?.disable_statement_logging())
        .await?)
}

/// Single-row INSERT transactions on the benchmark database, with the server's settings.
struct RawPg {
    url: String,
    pool: sqlx::PgPool,
}

impl RawPg {
    async fn open(url: &str) -> anyhow::Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_scratch (id BIGSERIAL PRIMARY KEY, \
             payload TEXT NOT NULL, created_at TEXT NOT NULL)",
        )
        .execute(&pool)
        .await?;
        Ok(Self {
            url: url.to_string(),
            pool,
        })
    }

    async fn settings(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let version: (String,) = sqlx::query_as("SELECT version()")
            .fetch_one(&self.pool)
            .await?;
        out.push((
            "server".into(),
            version
                .0
                .split(" on ")
                .next()
                .unwrap_or(&version.0)
                .to_string(),
        ));
        for setting in [
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "full_page_writes",
            "commit_delay",
        ] {
            let v: (String,) = sqlx::query_as(&format!("SHOW {setting}"))
                .fetch_one(&self.pool)
                .await?;
            out.push((setting.to_string(), v.0));
        }
        out.push((
            "pool".into(),
            format!(
                "Kassa: {} connections (`databaseMaxConnections`, default); raw loop: c connections",
                Config::default().database_max_connections
            ),
        ));
        Ok(out)
    }

    async fn run(&self, concurrency: usize, seconds: f64) -> anyhow::Result<RunStats> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(concurrency as u32)
            .min_connections(concurrency as u32)
            .connect_with(
                sqlx::postgres::PgConnectOptions::from_str(&self.url)?.disable_statement_logging(),
            )
            .await?;
        let p = pool.clone();
        let stats = raw_loop(concurrency, seconds, move || {
            let pool = p.clone();
            async move {
                let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
                sqlx::query("INSERT INTO bench_scratch (payload, created_at) VALUES ($1, $2)")
                    .bind("x".repeat(64))
                    .bind("2026-01-01T00:00:00Z")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())
            }
        })
        .await;
        pool.close().await;
        Ok(stats)
    }
}

async fn raw_loop<F, Fut>(concurrency: usize, seconds: f64, op: F) -> RunStats
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let op = op.clone();
        tasks.spawn(async move {
            let mut stats = RunStats::default();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let r = op().await;
                stats.record(t0, r);
            }
            stats
        });
    }
    let parts = tasks.join_all().await;
    RunStats::merge(parts, started.elapsed())
}

fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| k.trim().to_string());
    let mut s = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    if let Some(p) = pretty {
        let _ = write!(s, ", {p}");
    }
    if let Some(k) = kernel {
        let _ = write!(s, ", kernel {k}");
    }
    s
}

fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    })
}

fn yes_no(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

/// The Markdown report.
pub fn render(options: &BenchOptions, backends: &[BackendReport], took: Duration) -> String {
    let mut md = String::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let _ = writeln!(md, "# Kassa benchmarks\n");
    let _ = writeln!(
        md,
        "Made by `kassa bench`; where the time goes, and what would go faster, is in \
         `docs/performance.md`. Kassa runs in-process on 127.0.0.1 with the same \
         `App::from_config`, router and job worker as `kassa serve`, and is driven over HTTP/1.1 \
         by reqwest from the same process, on a thread and Tokio runtime of its own (as a \
         separate process would be) — so the load generator still competes with the server for \
         the same cores. *Writes per commit* is how many write transactions \
         shared each SQLite commit (group commit; two per sale).\n"
    );
    let _ = writeln!(md, "## Machine and settings\n");
    let _ = writeln!(md, "- Cores (available_parallelism): {cores}");
    if let Some(cpu) = cpu_model() {
        let _ = writeln!(md, "- CPU: {cpu}");
    }
    let _ = writeln!(md, "- OS: {}", os_description());
    let _ = writeln!(
        md,
        "- Build: {}",
        if cfg!(debug_assertions) {
            "debug (numbers are not representative)"
        } else {
            "release"
        }
    );
    let _ = writeln!(md, "- Command: `{}`", options.command);
    let _ = writeln!(
        md,
        "- Each run: {} s; concurrency levels: {} (closed loop: that many operations in flight); \
         5 warm-up operations per workload first",
        options.seconds,
        options
            .concurrency
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(md, "- Whole run took {:.0} s\n", took.as_secs_f64());
    let _ = writeln!(
        md,
        "Workloads (one operation each, latency per operation):\n"
    );
    for w in Workload::ALL {
        let _ = writeln!(md, "- {}", w.title());
    }
    let _ = writeln!(
        md,
        "- Raw commits: one single-row `INSERT` transaction (`BEGIN; INSERT; COMMIT`) into a \
         scratch table of the same database, same connection settings; c=1 is one connection, \
         higher levels a pool of c connections with c tasks.\n"
    );
    let _ = writeln!(
        md,
        "Targets: peak W2 sales/s ≥ {TARGET_RATIO} × the raw commit loop's commits/s (one \
         connection committing single-row transactions back to back); W2 p99 < {TARGET_P99_MS} ms \
         at half the peak W2 rate (open loop, latency from the scheduled start); zero errors. The \
         ratio to the raw rate at the same concurrency (c connections) is shown beside it.\n"
    );

    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(
        md,
        "| Backend | Peak W2 sales/s | Raw commit loop/s (1 conn) | Best raw commits/s (c conns) | W2 peak ÷ raw loop | W2 peak ÷ raw (same c) | W2 p99 at half peak | Errors | Ratio target (vs loop) | p99 target | Zero errors |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|");
    for b in backends {
        let (peak_c, peak) = b
            .sales()
            .iter()
            .max_by(|a, b| a.1.rate().total_cmp(&b.1.rate()))
            .map(|(c, s)| (*c, s.rate()))
            .unwrap_or((1, 0.0));
        let raw1 = b.raw_at(1).map(RunStats::rate).unwrap_or(0.0);
        let raw_best = b.raw.iter().map(|(_, s)| s.rate()).fold(0.0, f64::max);
        let ratio_same = b
            .raw_at(peak_c)
            .map(|r| peak / r.rate().max(f64::MIN_POSITIVE))
            .unwrap_or(0.0);
        let ratio_loop = peak / raw1.max(f64::MIN_POSITIVE);
        let p99 = b.half_peak.as_ref().map(|(_, s)| s.p99_ms());
        let errors = b.total_errors();
        let _ = writeln!(
            md,
            "| {} | {:.1} (c={}) | {:.1} | {:.1} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
            b.name,
            peak,
            peak_c,
            raw1,
            raw_best,
            ratio_loop,
            ratio_same,
            p99.map(|p| format!("{p:.2} ms")).unwrap_or("—".into()),
            errors,
            yes_no(ratio_loop >= TARGET_RATIO),
            yes_no(p99.is_some_and(|p| p < TARGET_P99_MS)),
            yes_no(errors == 0),
        );
    }
    let _ = writeln!(md);

    for b in backends {
        let _ = writeln!(md, "## {}\n", b.name);
        let _ = writeln!(
            md,
            "Durability and connection settings (as read back from the database):\n"
        );
        for (k, v) in &b.durability {
            let _ = writeln!(md, "- `{k}`: {v}");
        }
        let _ = writeln!(md);
        for w in Workload::ALL {
            let _ = writeln!(md, "### {}\n", w.title());
            let _ = writeln!(
                md,
                "| Concurrency | Ops | Ops/s | p50 ms | p99 ms | max ms | Errors | Writes per commit |"
            );
            let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (c, s) in b.workload(w) {
                let _ = writeln!(
                    md,
                    "| {c} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} |",
                    s.ops,
                    s.rate(),
                    s.p50_ms(),
                    s.p99_ms(),
                    s.max_ms(),
                    s.errors,
                    per_commit(s)
                );
            }
            let errs: Vec<_> = b
                .workload(w)
                .iter()
                .filter_map(|(c, s)| s.first_error.as_ref().map(|e| (c, e)))
                .collect();
            for (c, e) in errs {
                let _ = writeln!(md, "\nFirst error at c={c}: `{}`", e.replace('`', "'"));
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(md, "### Raw commit rate (single-row INSERT transactions)\n");
        let _ = writeln!(
            md,
            "| Concurrency | Commits | Commits/s | p50 ms | p99 ms | max ms | Errors |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|");
        for (c, s) in &b.raw {
            let _ = writeln!(
                md,
                "| {c} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
                s.ops,
                s.rate(),
                s.p50_ms(),
                s.p99_ms(),
                s.max_ms(),
                s.errors
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "### W2 sales ÷ raw commits\n");
        let _ = writeln!(
            md,
            "| Concurrency | W2 sales/s | Raw commits/s (same c) | Ratio | Raw commits/s (1 conn) | Ratio | Target ≥ {TARGET_RATIO} |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---|");
        let raw1 = b.raw_at(1).map(RunStats::rate).unwrap_or(0.0);
        for (c, s) in b.sales() {
            let raw_c = b.raw_at(*c).map(RunStats::rate).unwrap_or(0.0);
            let ratio = s.rate() / raw_c.max(f64::MIN_POSITIVE);
            let ratio1 = s.rate() / raw1.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                md,
                "| {c} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {} |",
                s.rate(),
                raw_c,
                ratio,
                raw1,
                ratio1,
                yes_no(ratio >= TARGET_RATIO)
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "### W2 at half the peak rate (open loop)\n");
        match &b.half_peak {
            Some((rate, s)) => {
                let _ = writeln!(md, "| Offered/s | Completed | Achieved/s | p50 ms | p99 ms | max ms | Errors | p99 < {TARGET_P99_MS} ms |");
                let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---|");
                let _ = writeln!(
                    md,
                    "| {rate:.1} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} |",
                    s.ops,
                    s.rate(),
                    s.p50_ms(),
                    s.p99_ms(),
                    s.max_ms(),
                    s.errors,
                    yes_no(s.p99_ms() < TARGET_P99_MS)
                );
                if let Some(e) = &s.first_error {
                    let _ = writeln!(md, "\nFirst error: `{}`", e.replace('`', "'"));
                }
            }
            None => {
                let _ = writeln!(md, "Not run: W2 completed no sale.");
            }
        }
        let _ = writeln!(md);
    }
    md
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

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = RunStats {
            ops: 100,
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
            elapsed: Duration::from_secs(1),
            ..RunStats::default()
        };
        assert_eq!(s.p50_ms(), 50.0);
        assert_eq!(s.p99_ms(), 99.0);
        assert_eq!(s.max_ms(), 100.0);
        assert_eq!(s.rate(), 100.0);
    }
}

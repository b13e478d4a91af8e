//! The database's own commit rate: single-row INSERT transactions in a loop on the benchmark's
//! database with the server's settings, the yardstick the API's rate is compared with.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use kassa_server::Config;
use sqlx::ConnectOptions as _;

use crate::stats::RunStats;
use crate::BenchOptions;

pub(crate) async fn raw_levels<F, Fut>(
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

/// Single-row INSERT transactions on the SQLite file Kassa used, with the store's own settings.
pub(crate) struct RawSqlite {
    url: String,
}

impl RawSqlite {
    pub(crate) async fn open(url: &str) -> anyhow::Result<Self> {
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

    pub(crate) async fn settings(&self) -> anyhow::Result<Vec<(String, String)>> {
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

    pub(crate) async fn run(&self, concurrency: usize, seconds: f64) -> anyhow::Result<RunStats> {
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
pub(crate) struct RawPg {
    url: String,
    pub(crate) pool: sqlx::PgPool,
}

impl RawPg {
    pub(crate) async fn open(url: &str) -> anyhow::Result<Self> {
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

    pub(crate) async fn settings(&self) -> anyhow::Result<Vec<(String, String)>> {
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
            "shared_buffers",
            "autovacuum",
            "max_connections",
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

    pub(crate) async fn run(&self, concurrency: usize, seconds: f64) -> anyhow::Result<RunStats> {
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

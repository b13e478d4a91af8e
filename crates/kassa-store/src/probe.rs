//! A look at a database that changes nothing in it, on one connection of its own: is it there,
//! is it Kassa's, which migrations it has, which server it is and what time it says, and how
//! long a durable commit takes where it lives. `kassa doctor` reads all of it; every CLI command
//! but `serve` and `migrate` asks it first, so none of them makes an empty database by mistake.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use kassa_core::clock::from_micros;
use sqlx::migrate::Migrate;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::SqliteConnection;
use sqlx::{ConnectOptions as _, Connection as _};
use time::OffsetDateTime;

use crate::migrations::{MigrationStatus, POSTGRES, SQLITE};
use crate::{Result, StoreError};

/// One connection to a database that already exists.
pub struct Probe {
    conn: ProbeConn,
}

enum ProbeConn {
    Sqlite {
        conn: SqliteConnection,
        file: PathBuf,
    },
    Postgres(PgConnection),
}

/// Which database server a [`Probe`] reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Sqlite => "SQLite",
            BackendKind::Postgres => "PostgreSQL",
        })
    }
}

/// The file a `sqlite:` URL names (as written: relative paths stay relative); None for another
/// URL or an in-memory database.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = crate::sqlite_connect_options(url).ok()?;
    let file = options.get_filename();
    (!file.as_os_str().is_empty() && file != Path::new(":memory:")).then(|| file.to_path_buf())
}

impl Probe {
    /// Connects without creating anything; None when the SQLite file does not exist.
    pub async fn open(url: &str) -> Result<Option<Probe>> {
        if url.starts_with("sqlite:") {
            let Some(file) = sqlite_file(url) else {
                return Err(StoreError::UnsupportedUrl);
            };
            if !file.exists() {
                return Ok(None);
            }
            let options = crate::sqlite_connect_options(url)?.create_if_missing(false);
            let conn = SqliteConnection::connect_with(&options).await?;
            Ok(Some(Probe {
                conn: ProbeConn::Sqlite { conn, file },
            }))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let conn = PgConnectOptions::from_str(url)?.connect().await?;
            Ok(Some(Probe {
                conn: ProbeConn::Postgres(conn),
            }))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub fn backend(&self) -> BackendKind {
        match self.conn {
            ProbeConn::Sqlite { .. } => BackendKind::Sqlite,
            ProbeConn::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The server's version: SQLite's library, PostgreSQL's `server_version`.
    pub async fn server_version(&mut self) -> Result<String> {
        Ok(match &mut self.conn {
            ProbeConn::Sqlite { conn, .. } => {
                sqlx::query_scalar("SELECT sqlite_version()")
                    .fetch_one(conn)
                    .await?
            }
            ProbeConn::Postgres(conn) => {
                sqlx::query_scalar("SHOW server_version")
                    .fetch_one(conn)
                    .await?
            }
        })
    }

    /// What the database recorded of its migrations against this binary's; all pending (and
    /// [`MigrationStatus::is_empty`]) for a database Kassa never migrated.
    pub async fn migrations(&mut self) -> Result<MigrationStatus> {
        let exists_sql = match self.conn {
            ProbeConn::Sqlite { .. } => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            ProbeConn::Postgres(_) => {
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = '_sqlx_migrations' \
                 AND schemaname = ANY (current_schemas(false))"
            }
        };
        let (exists, set): (i64, _) = match &mut self.conn {
            ProbeConn::Sqlite { conn, .. } => (
                sqlx::query_scalar(exists_sql).fetch_one(&mut *conn).await?,
                SQLITE,
            ),
            ProbeConn::Postgres(conn) => (
                sqlx::query_scalar(exists_sql).fetch_one(&mut *conn).await?,
                POSTGRES,
            ),
        };
        if exists == 0 {
            return Ok(MigrationStatus::of(set, &[], None));
        }
        let (recorded, failed) = match &mut self.conn {
            ProbeConn::Sqlite { conn, .. } => (
                conn.list_applied_migrations().await?,
                conn.dirty_version().await?,
            ),
            ProbeConn::Postgres(conn) => (
                conn.list_applied_migrations().await?,
                conn.dirty_version().await?,
            ),
        };
        Ok(MigrationStatus::of(set, &recorded, failed))
    }

    /// The vault key check stored on first use; None when the database was never opened with a
    /// key (or is not Kassa's).
    pub async fn vault_key_check(&mut self) -> Result<Option<String>> {
        let sql = "SELECT vault_key_check FROM installation WHERE id = 1";
        let exists_sql = match self.conn {
            ProbeConn::Sqlite { .. } => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'installation'"
            }
            ProbeConn::Postgres(_) => {
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'installation' \
                 AND schemaname = ANY (current_schemas(false))"
            }
        };
        Ok(match &mut self.conn {
            ProbeConn::Sqlite { conn, .. } => {
                let exists: i64 = sqlx::query_scalar(exists_sql).fetch_one(&mut *conn).await?;
                match exists {
                    0 => None,
                    _ => sqlx::query_scalar(sql).fetch_optional(&mut *conn).await?,
                }
            }
            ProbeConn::Postgres(conn) => {
                let exists: i64 = sqlx::query_scalar(exists_sql).fetch_one(&mut *conn).await?;
                match exists {
                    0 => None,
                    _ => sqlx::query_scalar(sql).fetch_optional(&mut *conn).await?,
                }
            }
        })
    }

    /// The database server's clock (PostgreSQL); None for SQLite, which reads this machine's.
    pub async fn database_time(&mut self) -> Result<Option<OffsetDateTime>> {
        match &mut self.conn {
            ProbeConn::Sqlite { .. } => Ok(None),
            ProbeConn::Postgres(conn) => {
                let micros: i64 = sqlx::query_scalar(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
                )
                .fetch_one(conn)
                .await?;
                Ok(Some(from_micros(micros)))
            }
        }
    }

    /// How long each of `commits` small durable commits took where the database lives. SQLite:
    /// a scratch database beside it, with the store's own settings (WAL, `synchronous=FULL`),
    /// removed afterwards. PostgreSQL: a write that changes nothing (the installation row set to
    /// itself), which still makes the server flush its WAL; none when that row does not exist yet.
    pub async fn commit_latency(&mut self, commits: usize) -> Result<Vec<Duration>> {
        match &mut self.conn {
            ProbeConn::Sqlite { file, .. } => sqlite_commit_latency(file, commits).await,
            ProbeConn::Postgres(conn) => {
                let mut times = Vec::with_capacity(commits);
                for _ in 0..commits {
                    let started = Instant::now();
                    let done = sqlx::query(
                        "UPDATE installation SET vault_key_check = vault_key_check WHERE id = 1",
                    )
                    .execute(&mut *conn)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(Vec::new());
                    }
                    times.push(started.elapsed());
                }
                Ok(times)
            }
        }
    }
}

async fn sqlite_commit_latency(file: &Path, commits: usize) -> Result<Vec<Duration>> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let scratch = dir.join(format!(".kassa-doctor-{}.db", std::process::id()));
    let url = format!("sqlite://{}", scratch.display());
    let measured = async {
        let options = crate::sqlite_connect_options(&url)?.create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::query("CREATE TABLE probe (n INTEGER NOT NULL)")
            .execute(&mut conn)
            .await?;
        let mut times = Vec::with_capacity(commits);
        for n in 0..commits {
            let started = Instant::now();
            sqlx::query("INSERT INTO probe (n) VALUES ($1)")
                .bind(n as i64)
                .execute(&mut conn)
                .await?;
            times.push(started.elapsed());
        }
        conn.close().await?;
        Ok::<_, StoreError>(times)
    }
    .await;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = scratch.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    measured
}

//! `kassa doctor`: what an operator checks first at 3 a.m., one line per check — the database
//! (reachable, which server), its migrations (all applied, none from a newer Kassa), the vault
//! key (there, the database's, private), the data directory's and database files' permissions,
//! the commit latency where the database lives, and the clock against the database's. Each
//! line is ok, warn or fail; any fail makes the exit code non-zero. It changes nothing (the
//! latency probe writes a scratch file, or a row set to itself) and prints no secret.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kassa_server::config::Config;
use kassa_server::vault::{KeySource, Vault};
use kassa_store::{MigrationStatus, Probe};
use time::OffsetDateTime;

use crate::database::Database;

/// How many commits the latency probe times.
const COMMITS: usize = 5;
/// A median commit slower than this makes every payment wait: warn.
const SLOW_COMMIT: Duration = Duration::from_millis(20);
/// Clocks further apart than this disagree on when things are due: warn; far beyond, fail.
const SKEW_WARN: Duration = Duration::from_secs(1);
const SKEW_FAIL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, PartialEq, Eq)]
struct Check {
    level: Level,
    name: &'static str,
    detail: String,
}

impl Check {
    fn new(level: Level, name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            level,
            name,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{level:<5} {:<12} {}", self.name, self.detail)
    }
}

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mut worst = Level::Ok;
    let mut report = |check: Check| {
        println!("{check}");
        worst = worst.max(check.level);
    };
    let database = Database::of(config);
    let probe = match Probe::open(database.url()).await {
        Ok(Some(probe)) => Some(probe),
        Ok(None) => {
            report(Check::new(
                Level::Fail,
                "database",
                format!("no database at {database}"),
            ));
            None
        }
        Err(e) => {
            report(Check::new(
                Level::Fail,
                "database",
                format!("cannot connect to {database}: {}", error_chain(&e)),
            ));
            None
        }
    };
    let mut stored_key_check = None;
    if let Some(mut probe) = probe {
        match probe.server_version().await {
            Ok(version) => report(Check::new(
                Level::Ok,
                "database",
                format!("{} {version} at {database}", probe.backend()),
            )),
            Err(e) => report(Check::new(Level::Fail, "database", error_chain(&e))),
        }
        report(match probe.migrations().await {
            Ok(status) => migrations_check(&status),
            Err(e) => Check::new(Level::Fail, "migrations", error_chain(&e)),
        });
        match probe.vault_key_check().await {
            Ok(check) => stored_key_check = Some(check),
            Err(e) => report(Check::new(Level::Fail, "vault key", error_chain(&e))),
        }
        report(match probe.commit_latency(COMMITS).await {
            Ok(times) => latency_check(&times),
            Err(e) => Check::new(
                Level::Warn,
                "commit",
                format!("not measured: {}", error_chain(&e)),
            ),
        });
        let before = OffsetDateTime::now_utc();
        let started = Instant::now();
        report(match probe.database_time().await {
            Ok(Some(db)) => {
                let local = before + started.elapsed() / 2;
                skew_check(db - local)
            }
            Ok(None) => Check::new(
                Level::Ok,
                "clock",
                "SQLite reads this machine's clock: nothing to compare",
            ),
            Err(e) => Check::new(
                Level::Warn,
                "clock",
                format!("not compared: {}", error_chain(&e)),
            ),
        });
    }
    if let Some(stored) = stored_key_check {
        report(vault_check(config, stored.as_deref()));
    }
    for check in permission_checks(config, &database) {
        report(check);
    }
    Ok(match worst {
        Level::Fail => ExitCode::FAILURE,
        Level::Ok | Level::Warn => ExitCode::SUCCESS,
    })
}

/// An error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn migrations_check(status: &MigrationStatus) -> Check {
    let name = "migrations";
    let list = |names: &[kassa_store::MigrationName]| {
        names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(version) = status.failed {
        return Check::new(
            Level::Fail,
            name,
            format!("migration {version} started and did not finish"),
        );
    }
    if !status.unknown.is_empty() {
        let versions: Vec<String> = status.unknown.iter().map(|v| format!("{v:04}")).collect();
        return Check::new(
            Level::Fail,
            name,
            format!(
                "the database has migrations this binary does not know ({}): a newer Kassa \
                 migrated it; run that version",
                versions.join(", ")
            ),
        );
    }
    if !status.changed.is_empty() {
        return Check::new(
            Level::Fail,
            name,
            format!(
                "applied migrations differ from this binary's: {}",
                list(&status.changed)
            ),
        );
    }
    if status.is_empty() {
        return Check::new(
            Level::Fail,
            name,
            "none applied: this is not a Kassa database yet (kassa migrate creates one)",
        );
    }
    if !status.pending.is_empty() {
        return Check::new(
            Level::Warn,
            name,
            format!(
                "{} of {} applied; pending: {} (kassa migrate or kassa serve applies them)",
                status.applied,
                status.applied + status.pending.len(),
                list(&status.pending)
            ),
        );
    }
    Check::new(Level::Ok, name, format!("all {} applied", status.applied))
}

fn latency_check(times: &[Duration]) -> Check {
    let name = "commit";
    if times.is_empty() {
        return Check::new(
            Level::Warn,
            name,
            "not measured: the database has no installation row yet (start kassa serve once)",
        );
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let detail = format!(
        "{} durable commits: median {:.1} ms, slowest {:.1} ms",
        times.len(),
        ms(median),
        ms(max)
    );
    if median > SLOW_COMMIT {
        Check::new(
            Level::Warn,
            name,
            format!(
                "{detail}; above {} ms every payment waits on the disk (a local SSD takes a few ms)",
                SLOW_COMMIT.as_millis()
            ),
        )
    } else {
        Check::new(Level::Ok, name, detail)
    }
}

fn skew_check(skew: time::Duration) -> Check {
    let name = "clock";
    let abs = skew.unsigned_abs();
    let detail = format!(
        "this machine is {:.3} s {} the database server",
        abs.as_secs_f64(),
        if skew.is_negative() {
            "ahead of"
        } else {
            "behind"
        }
    );
    let level = if abs > SKEW_FAIL {
        Level::Fail
    } else if abs > SKEW_WARN {
        Level::Warn
    } else {
        Level::Ok
    };
    match level {
        Level::Ok => Check::new(level, name, detail),
        _ => Check::new(level, name, format!("{detail}: synchronise it (NTP)")),
    }
}

/// The vault key against the key check the database stored (None: never opened with a key).
fn vault_check(config: &Config, stored: Option<&str>) -> Check {
    let name = "vault key";
    let file = kassa_server::vault::key_file(&config.data_dir);
    let loaded = match Vault::read(config.vault_key.as_ref(), &config.data_dir) {
        Ok(loaded) => loaded,
        Err(e) => return Check::new(Level::Fail, name, e.to_string()),
    };
    match (loaded, stored) {
        (None, Some(_)) => Check::new(
            Level::Fail,
            name,
            format!(
                "missing: KASSA_VAULT_KEY is not set and there is no {}, but the database holds \
                 sealed secrets; restore the file or set KASSA_VAULT_KEY",
                file.display()
            ),
        ),
        (None, None) => Check::new(
            Level::Warn,
            name,
            format!(
                "none yet: kassa serve generates {} on its first start; back it up",
                file.display()
            ),
        ),
        (Some((vault, source)), stored) => {
            let from = match &source {
                KeySource::Configured => "KASSA_VAULT_KEY".to_string(),
                KeySource::File(path) | KeySource::Generated(path) => path.clone(),
            };
            match stored {
                Some(check) if check == vault.key_check() => {
                    Check::new(Level::Ok, name, format!("{from} is this database's key"))
                }
                Some(_) => Check::new(
                    Level::Fail,
                    name,
                    format!("{from} is not the key this database was last used with"),
                ),
                None => Check::new(
                    Level::Ok,
                    name,
                    format!("{from} is there; the database has not been opened with a key yet"),
                ),
            }
        }
    }
}

/// The data directory (0700) and the files holding secrets (0600): the database's on SQLite,
/// and the vault key file.
fn permission_checks(config: &Config, database: &Database) -> Vec<Check> {
    let mut checks = Vec::new();
    let dir = std::path::absolute(&config.data_dir).unwrap_or(config.data_dir.clone());
    if dir.exists() {
        checks.push(mode_check("data dir", &dir, 0o700));
    }
    let mut files = Vec::new();
    if config.vault_key.is_none() {
        files.push(kassa_server::vault::key_file(&dir));
    }
    if let Some(db) = database.file() {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = db.as_os_str().to_owned();
            path.push(suffix);
            files.push(path.into());
        }
    }
    for file in files.iter().filter(|f| f.exists()) {
        checks.push(mode_check("files", file, 0o600));
    }
    checks
}

#[cfg(unix)]
fn mode_check(name: &'static str, path: &Path, want: u32) -> Check {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) => mode_verdict(name, path, meta.permissions().mode() & 0o777, want),
        Err(e) => Check::new(
            Level::Fail,
            name,
            format!("cannot read {}: {e}", path.display()),
        ),
    }
}

#[cfg(not(unix))]
fn mode_check(name: &'static str, path: &Path, _want: u32) -> Check {
    Check::new(
        Level::Ok,
        name,
        format!(
            "{}: permissions are not checked on this system",
            path.display()
        ),
    )
}

/// Group or other access to a private file is a failure (its secrets are readable); to the
/// directory, a warning (`kassa serve` tightens both at start).
#[cfg_attr(not(unix), allow(dead_code))]
fn mode_verdict(name: &'static str, path: &Path, mode: u32, want: u32) -> Check {
    if mode & 0o077 == 0 {
        return Check::new(Level::Ok, name, format!("{} is {mode:o}", path.display()));
    }
    let level = if want == 0o700 {
        Level::Warn
    } else {
        Level::Fail
    };
    Check::new(
        level,
        name,
        format!(
            "{} is {mode:o}, open to other users; want {want:o} (chmod {want:o}, or start kassa serve, which tightens it)",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_store::MigrationName;

    #[test]
    fn migrations_pass_only_when_all_are_applied_and_known() {
        let current = MigrationStatus {
            applied: 17,
            ..MigrationStatus::default()
        };
        assert_eq!(migrations_check(&current).level, Level::Ok);
        assert_eq!(migrations_check(&current).detail, "all 17 applied");
        let pending = MigrationStatus {
            applied: 16,
            pending: vec![MigrationName {
                version: 17,
                description: "partner logos",
            }],
            ..MigrationStatus::default()
        };
        let check = migrations_check(&pending);
        assert_eq!(check.level, Level::Warn);
        assert!(
            check.detail.contains("pending: 0017_partner_logos"),
            "{}",
            check.detail
        );
        let newer = MigrationStatus {
            applied: 17,
            unknown: vec![18],
            ..MigrationStatus::default()
        };
        let check = migrations_check(&newer);
        assert_eq!(check.level, Level::Fail);
        assert!(check.detail.contains("(0018)"), "{}", check.detail);
        assert_eq!(
            migrations_check(&MigrationStatus::default()).level,
            Level::Fail
        );
        let failed = MigrationStatus {
            applied: 3,
            failed: Some(4),
            ..MigrationStatus::default()
        };
        assert_eq!(migrations_check(&failed).level, Level::Fail);
    }

    #[test]
    fn slow_commits_and_skewed_clocks_warn() {
        let ms = Duration::from_millis;
        assert_eq!(
            latency_check(&[ms(2), ms(3), ms(40), ms(2), ms(3)]).level,
            Level::Ok
        );
        let slow = latency_check(&[ms(30), ms(35), ms(25)]);
        assert_eq!(slow.level, Level::Warn);
        assert!(slow
            .detail
            .starts_with("3 durable commits: median 30.0 ms, slowest 35.0 ms"));
        assert_eq!(latency_check(&[]).level, Level::Warn);
        assert_eq!(
            skew_check(time::Duration::milliseconds(200)).level,
            Level::Ok
        );
        let ahead = skew_check(time::Duration::seconds(-5));
        assert_eq!(ahead.level, Level::Warn);
        assert!(ahead.detail.starts_with("this machine is 5.000 s ahead of"));
        assert_eq!(skew_check(time::Duration::minutes(2)).level, Level::Fail);
    }

    #[test]
    fn open_files_fail_and_an_open_directory_warns() {
        let p = Path::new("/srv/kassa-data/vault.key");
        assert_eq!(mode_verdict("files", p, 0o600, 0o600).level, Level::Ok);
        assert_eq!(mode_verdict("files", p, 0o400, 0o600).level, Level::Ok);
        assert_eq!(mode_verdict("files", p, 0o644, 0o600).level, Level::Fail);
        assert_eq!(mode_verdict("data dir", p, 0o755, 0o700).level, Level::Warn);
    }

    #[test]
    fn a_line_says_its_level_check_and_detail() {
        let line = Check::new(Level::Fail, "vault key", "missing").to_string();
        assert_eq!(line, "FAIL  vault key    missing");
    }
}

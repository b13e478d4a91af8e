//! Driving the built `kassa` binary in a scratch directory, as an operator would: no `KASSA_*`
//! variable of the test's own environment leaks in, and the log is kept quiet.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// A `kassa` command run in `dir`, with `env` set.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kassa"));
    cmd.current_dir(dir).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("KASSA_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("KASSA_LOG", "warn");
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

/// What a finished command printed and how it ended.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok: {}\n--- stdout\n{}--- stderr\n{}",
            self.ok, self.stdout, self.stderr
        )
    }
}

/// Runs `kassa args…` in `dir` to the end.
pub fn kassa(dir: &Path, args: &[&str]) -> Run {
    kassa_env(dir, args, &[])
}

pub fn kassa_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    command(dir, args, env)
        .output()
        .expect("the kassa binary runs")
        .into()
}

/// A fresh PostgreSQL schema of `KASSA_TEST_POSTGRES_URL` as a URL; None when no server is
/// configured (a failure instead when `KASSA_REQUIRE_POSTGRES=1`).
pub fn postgres_url() -> Option<String> {
    let url = match std::env::var("KASSA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("KASSA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "KASSA_REQUIRE_POSTGRES=1 but KASSA_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping the PostgreSQL run: KASSA_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let schema = format!(
        "cli_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at KASSA_TEST_POSTGRES_URL: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

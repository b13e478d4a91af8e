//! The first hour with the `kassa` binary, as a new user following the README meets it: which
//! database a command finds (and that it never makes an empty one by mistake), `kassa migrate`
//! naming what it applied, `kassa partner list`, `kassa doctor`, and a missing vault key file.

mod common;

use std::path::Path;

use common::*;

const NO_DATABASE: &str = "run this where `kassa serve` runs, or pass --database-url";

/// The names `kassa migrate` prints on a new database, as `0001_foundation`.
fn applied_names(stdout: &str) -> Vec<String> {
    let first = stdout.lines().next().unwrap_or_default();
    first
        .strip_prefix("applied ")
        .unwrap_or_else(|| panic!("not a list of applied migrations: {stdout}"))
        .split(", ")
        .map(String::from)
        .collect()
}

fn migrate_twice(dir: &Path, db: &[&str], backend_url: &str) {
    let args: Vec<&str> = db.iter().copied().chain(["migrate"]).collect();
    let first = kassa(dir, &args);
    assert!(first.ok, "{first:?}");
    let names = applied_names(&first.stdout);
    assert_eq!(
        names.len(),
        kassa_store::known_migrations(backend_url),
        "{first:?}"
    );
    assert_eq!(names[0], "0001_foundation");
    assert!(
        names.contains(&"0017_partner_logos".to_string()),
        "{names:?}"
    );
    let second = kassa(dir, &args);
    assert!(second.ok, "{second:?}");
    assert_eq!(
        second.stdout.lines().next().unwrap(),
        format!(
            "already up to date: {} migrations",
            kassa_store::known_migrations(backend_url)
        )
    );
    assert!(second.stdout.contains("database: "), "{second:?}");
}

#[test]
fn migrate_names_what_it_applied_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    migrate_twice(dir.path(), &[], "sqlite://kassa-data/kassa.db");
    let again = kassa(dir.path(), &["migrate"]);
    assert!(
        again.stdout.contains(&format!(
            "database: {} (sqlite://kassa-data/kassa.db)",
            dir.path().join("kassa-data/kassa.db").display()
        )),
        "{again:?}"
    );
}

#[test]
fn migrate_names_what_it_applied_on_postgres() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    migrate_twice(dir.path(), &["--database-url", &url], &url);
}

#[test]
fn a_command_run_elsewhere_finds_no_database_and_makes_none() {
    let dir = tempfile::tempdir().unwrap();
    let expected = format!(
        "no Kassa database at {} (sqlite://kassa-data/kassa.db); {NO_DATABASE}",
        dir.path().join("kassa-data/kassa.db").display()
    );
    for args in [
        &["fees", "show", "--partner", "acme"][..],
        &["partner", "list"],
        &["partner", "create", "--name", "Acme", "--slug", "acme"],
        &["payouts", "run"],
    ] {
        let run = kassa(dir.path(), args);
        assert!(!run.ok, "{args:?}: {run:?}");
        assert!(run.stderr.contains(&expected), "{args:?}: {run:?}");
        assert!(!run.stderr.contains("no partner"), "{args:?}: {run:?}");
        assert!(
            !dir.path().join("kassa-data").exists(),
            "{args:?} made a database"
        );
    }
    // An empty file (left by an older Kassa that did make one) is no Kassa database either.
    std::fs::create_dir(dir.path().join("kassa-data")).unwrap();
    std::fs::write(dir.path().join("kassa-data/kassa.db"), "").unwrap();
    let run = kassa(dir.path(), &["fees", "show", "--partner", "acme"]);
    assert!(!run.ok && run.stderr.contains(&expected), "{run:?}");
}

#[test]
fn an_empty_postgres_database_is_not_a_kassa_database() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = kassa(dir.path(), &["--database-url", &url, "partner", "list"]);
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr.contains("no Kassa database at postgres://"),
        "{run:?}"
    );
    assert!(run.stderr.contains(NO_DATABASE), "{run:?}");
    // Still empty: the command created no table.
    let doctor = kassa(dir.path(), &["--database-url", &url, "doctor"]);
    assert!(doctor.stdout.contains("none applied"), "{doctor:?}");
}

#[test]
fn a_password_in_the_url_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://kassa:hunter2-secret@127.0.0.1:1/kassa?connect_timeout=2";
    for args in [
        &["--database-url", url, "partner", "list"][..],
        &["--database-url", url, "migrate"],
        &["--database-url", url, "doctor"],
    ] {
        let run = kassa(dir.path(), args);
        assert!(!run.ok, "{args:?}: {run:?}");
        assert!(
            !run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"),
            "{run:?}"
        );
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            all.contains("postgres://***@127.0.0.1:1/kassa"),
            "{args:?}: {run:?}"
        );
    }
}

#[test]
fn not_found_names_the_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kassa(dir.path(), &["migrate"]).ok);
    let run = kassa(dir.path(), &["fees", "show", "--partner", "nobody"]);
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr.contains("no partner with slug \"nobody\""),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "database: {} (sqlite://kassa-data/kassa.db)",
            dir.path().join("kassa-data/kassa.db").display()
        )),
        "{run:?}"
    );
}

#[test]
fn partner_list_shows_every_partner() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kassa(dir.path(), &["migrate"]).ok);
    let empty = kassa(dir.path(), &["partner", "list"]);
    assert!(empty.ok, "{empty:?}");
    assert!(empty.stdout.starts_with("no partners yet"), "{empty:?}");
    for (name, slug) in [("Acme Services", "acme"), ("Bright & Co", "bright")] {
        let made = kassa(
            dir.path(),
            &["partner", "create", "--name", name, "--slug", slug],
        );
        assert!(made.ok, "{made:?}");
    }
    let list = kassa(dir.path(), &["partner", "list"]);
    assert!(list.ok, "{list:?}");
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{list:?}");
    assert!(
        lines[0].starts_with("SLUG    NAME           CREATED (UTC)"),
        "{list:?}"
    );
    assert!(
        lines[1].starts_with("acme    Acme Services  20"),
        "{list:?}"
    );
    assert!(
        lines[2].starts_with("bright  Bright & Co    20"),
        "{list:?}"
    );
    assert!(lines[1].contains("sandbox"), "{list:?}");
    let json = kassa(dir.path(), &["partner", "list", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
    assert_eq!(parsed[1]["slug"], "bright");
    assert_eq!(parsed[1]["name"], "Bright & Co");
    assert!(
        parsed[0]["partnerId"].as_str().unwrap().starts_with("par_"),
        "{parsed}"
    );
}

#[test]
fn doctor_reports_each_check_and_fails_on_an_open_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = kassa(dir.path(), &["doctor"]);
    assert!(!missing.ok, "{missing:?}");
    assert!(
        missing
            .stdout
            .contains("FAIL  database     no database at "),
        "{missing:?}"
    );
    assert!(
        !dir.path().join("kassa-data").exists(),
        "doctor made a database"
    );

    assert!(kassa(dir.path(), &["migrate"]).ok);
    let fresh = kassa(dir.path(), &["doctor"]);
    assert!(fresh.ok, "warnings only: {fresh:?}");
    assert!(
        fresh.stdout.contains("warn  vault key    none yet"),
        "{fresh:?}"
    );

    assert!(
        kassa(
            dir.path(),
            &["partner", "create", "--name", "Acme", "--slug", "acme"]
        )
        .ok
    );
    let run = kassa(dir.path(), &["doctor"]);
    assert!(run.ok, "{run:?}");
    let out = &run.stdout;
    assert!(out.contains("ok    database     SQLite 3."), "{run:?}");
    let known = kassa_store::known_migrations("sqlite:");
    assert!(
        out.contains(&format!("ok    migrations   all {known} applied")),
        "{run:?}"
    );
    assert!(out.contains("ok    vault key    "), "{run:?}");
    assert!(out.contains("vault.key is this database's key"), "{run:?}");
    assert!(
        out.contains("commit       5 durable commits: median "),
        "{run:?}"
    );
    assert!(
        out.contains("ok    clock        SQLite reads this machine's clock"),
        "{run:?}"
    );
    assert!(out.contains("ok    data dir     "), "{run:?}");
    assert!(out.contains("kassa.db is 600"), "{run:?}");
    let key = std::fs::read_to_string(dir.path().join("kassa-data/vault.key")).unwrap();
    assert!(!out.contains(key.trim()), "the key is never printed");
    // Nothing left behind by the latency probe.
    let scratch: Vec<_> = std::fs::read_dir(dir.path().join("kassa-data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("doctor"))
        .collect();
    assert!(scratch.is_empty(), "{scratch:?}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join("kassa-data/vault.key");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = kassa(dir.path(), &["doctor"]);
        assert!(!open.ok, "{open:?}");
        assert!(open.stdout.contains("FAIL  files        "), "{open:?}");
        assert!(
            open.stdout
                .contains("vault.key is 644, open to other users"),
            "{open:?}"
        );
        // Doctor only reads: the file is still as it was.
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    // Another key than the database's fails.
    let other = kassa_env(
        dir.path(),
        &["doctor"],
        &[("KASSA_VAULT_KEY", &"ab".repeat(32))],
    );
    assert!(!other.ok, "{other:?}");
    assert!(
        other
            .stdout
            .contains("FAIL  vault key    KASSA_VAULT_KEY is not the key this database"),
        "{other:?}"
    );
}

#[test]
fn doctor_on_postgres_compares_clocks() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = ["--database-url", url.as_str()];
    assert!(kassa(dir.path(), &[&db[..], &["migrate"]].concat()).ok);
    let run = kassa(dir.path(), &[&db[..], &["doctor"]].concat());
    assert!(
        run.stdout.contains("ok    database     PostgreSQL "),
        "{run:?}"
    );
    assert!(run.stdout.contains("migrations   all "), "{run:?}");
    assert!(
        run.stdout.contains("clock        this machine is "),
        "{run:?}"
    );
    assert!(run.stdout.contains("commit "), "{run:?}");
}

#[test]
fn a_missing_key_file_beside_sealed_data_stops_every_command() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kassa(dir.path(), &["migrate"]).ok);
    assert!(
        kassa(
            dir.path(),
            &["partner", "create", "--name", "Acme", "--slug", "acme"]
        )
        .ok
    );
    let file = dir.path().join("kassa-data/vault.key");
    std::fs::remove_file(&file).unwrap();
    let expected = format!("the vault key file {} is missing", file.display());
    let run = kassa(
        dir.path(),
        &["partner", "create", "--name", "B", "--slug", "b"],
    );
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains(&expected), "{run:?}");
    assert!(
        run.stderr
            .contains("Restore the file from your backup, or set KASSA_VAULT_KEY"),
        "{run:?}"
    );
    assert!(!file.exists(), "no new key was generated");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let listen = format!("127.0.0.1:{port}");
    let serve = kassa(dir.path(), &["serve", "--listen", &listen]);
    assert!(!serve.ok, "{serve:?}");
    assert!(serve.stderr.contains(&expected), "{serve:?}");
    assert!(!file.exists(), "no new key was generated");
}

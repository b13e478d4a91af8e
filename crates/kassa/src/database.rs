//! Which database a command works on, and opening it. Every command finds it the way
//! `kassa serve` does — the configuration file, `KASSA_DATABASE_URL` or `--database-url`, else
//! `dataDir`'s `kassa.db` — and names it in its errors: the URL without its password, and for
//! SQLite the absolute file as well, since a relative path depends on where the command runs.
//! Only `serve` and `migrate` may create a database; every other command refuses one that is
//! missing or empty, rather than make it and then find nothing in it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use kassa_core::clock::{Clock, SystemClock};
use kassa_server::config::Config;
use kassa_server::key_rotation::load_vault;
use kassa_server::vault::{KeySource, Vault};
use kassa_store::Probe;

/// The configured database, as messages name it.
#[derive(Debug, Clone)]
pub struct Database {
    url: String,
    /// For SQLite, the file as an absolute path.
    file: Option<PathBuf>,
}

impl Database {
    pub fn of(config: &Config) -> Database {
        let url = config.database_url();
        let file = kassa_store::sqlite_file(&url).map(|f| std::path::absolute(&f).unwrap_or(f));
        Database { url, file }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file, absolute; None for PostgreSQL.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }
}

impl std::fmt::Display for Database {
    /// `/srv/kassa/kassa-data/kassa.db (sqlite://kassa-data/kassa.db)`, or the URL without its
    /// password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{} ({})", file.display(), redact_url(&self.url)),
            None => f.write_str(&redact_url(&self.url)),
        }
    }
}

/// The store of the configured database, which must be a Kassa database already (migrated on
/// connect, as `kassa serve` would); its data directory made private first.
pub async fn connect(config: &Config) -> anyhow::Result<Arc<dyn kassa_store::Store>> {
    let database = Database::of(config);
    let probe = Probe::open(database.url())
        .await
        .with_context(|| format!("cannot open the database {database}"))?;
    let empty = match probe {
        None => true,
        Some(mut probe) => probe
            .migrations()
            .await
            .with_context(|| format!("cannot read the database {database}"))?
            .is_empty(),
    };
    if empty {
        bail!(
            "no Kassa database at {database}; run this where `kassa serve` runs, or pass \
             --database-url (`kassa migrate` creates a new one here)"
        );
    }
    kassa_server::data_dir::prepare(config).with_context(|| {
        format!(
            "cannot prepare the data directory {}",
            config.data_dir.display()
        )
    })?;
    kassa_store::connect(database.url(), &config.connect_options())
        .await
        .with_context(|| format!("cannot open the database {database}"))
}

/// The store and the vault key, loaded as `kassa serve` loads it (`KASSA_VAULT_KEY`, else
/// `dataDir/vault.key`) and opened against the database (a key it was not last used with is
/// refused, and so is a missing key file beside sealed data), for the commands that seal or open
/// secrets; and where the key came from.
pub async fn connect_with_vault(
    config: &Config,
) -> anyhow::Result<(Arc<dyn kassa_store::Store>, Vault, KeySource)> {
    let store = connect(config).await?;
    let (vault, source) = load_vault(
        store.as_ref(),
        config.vault_key.as_ref(),
        &config.data_dir,
        SystemClock.now(),
    )
    .await?;
    Ok((store, vault, source))
}

/// The URL without a password, for messages: no `user:password@`, and no query parameter that
/// may carry one (`password`, `sslpassword`, `passfile`; PostgreSQL takes them there too).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &base[..s], &base[at..]),
        _ => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| {
                let name = param.split('=').next().unwrap_or_default();
                if ["password", "sslpassword", "passfile"]
                    .iter()
                    .any(|secret| name.eq_ignore_ascii_case(secret))
                {
                    format!("{name}=***")
                } else {
                    param.to_string()
                }
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_its_credentials() {
        assert_eq!(
            redact_url("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://***@127.0.0.1:5432/db"
        );
        assert_eq!(
            redact_url("sqlite://kassa-data/kassa.db"),
            "sqlite://kassa-data/kassa.db"
        );
        assert_eq!(
            redact_url("postgres://db/kassa?user=k&password=secret&sslmode=require"),
            "postgres://db/kassa?user=k&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:p@db/kassa?PASSWORD=x&sslpassword=y&passfile=/z"),
            "postgres://***@db/kassa?PASSWORD=***&sslpassword=***&passfile=***"
        );
        assert_eq!(
            redact_url("postgres://db/kassa?password"),
            "postgres://db/kassa?password=***"
        );
    }

    #[test]
    fn a_database_is_named_by_its_absolute_file_and_its_url() {
        let config = Config::default();
        let shown = Database::of(&config).to_string();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            shown,
            format!(
                "{} (sqlite://kassa-data/kassa.db)",
                cwd.join("kassa-data").join("kassa.db").display()
            )
        );
        let config = Config {
            database_url: Some("postgres://kassa:hunter2@db.internal/kassa".into()),
            ..Config::default()
        };
        let shown = Database::of(&config).to_string();
        assert_eq!(shown, "postgres://***@db.internal/kassa");
        assert!(Database::of(&config).file().is_none());
    }
}

//! Typed configuration: defaults, then an optional TOML file, then `KASSA_*` environment
//! variables; the binary applies its command-line flags last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kassa_core::money::{parse_amount, DEFAULT_MAX_AMOUNT_MINOR};
use kassa_core::secret::Secret;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Set explicitly; else the SQLite file `kassa.db` in `data_dir` (see [`Config::database_url`]).
    pub database_url: Option<String>,
    /// Connections to the database: PostgreSQL's pool for everything; SQLite's readers (its
    /// writes share one connection and group commit).
    pub database_max_connections: u32,
    /// Base of the links Kassa prints and serves (`url` of a payment request), e.g.
    /// `https://kassa.example`. Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Where the default SQLite file lives and where a generated vault key is kept.
    pub data_dir: PathBuf,
    /// 32 bytes as 64 hex characters; encrypts card and account numbers.
    pub vault_key: Option<Secret<String>>,
    /// Largest amount accepted, in cents.
    pub max_amount_minor: i64,
    pub sandbox: SandboxConfig,
    /// The daily time of day (UTC) at which each partner's payout batch is cut.
    pub payout_cutoff: time::Time,
    /// How often the job worker looks for due work.
    pub job_poll_interval: Duration,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// How long an ACH debit stays pending before the sandbox clears or returns it.
    pub ach_settlement_delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            database_max_connections: 16,
            public_url: None,
            data_dir: PathBuf::from("kassa-data"),
            vault_key: None,
            max_amount_minor: DEFAULT_MAX_AMOUNT_MINOR,
            sandbox: SandboxConfig {
                ach_settlement_delay: Duration::from_secs(300),
            },
            payout_cutoff: time::Time::MIDNIGHT,
            job_poll_interval: Duration::from_secs(1),
            log_format: LogFormat::Text,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("invalid value for {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// The TOML file's shape; every key optional, camelCase like the API.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    database_max_connections: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    vault_key: Option<String>,
    max_amount: Option<String>,
    payout_cutoff: Option<String>,
    job_poll_interval: Option<String>,
    log_format: Option<String>,
    #[serde(default)]
    sandbox: FileSandbox,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileSandbox {
    ach_settlement_delay: Option<String>,
}

impl Config {
    /// The last payout cut-off at or before `now`.
    pub fn last_payout_cutoff(&self, now: time::OffsetDateTime) -> time::OffsetDateTime {
        let today = now.replace_time(self.payout_cutoff);
        if today <= now {
            today
        } else {
            today - time::Duration::days(1)
        }
    }

    /// Defaults, then `file` (or `KASSA_CONFIG`), then `KASSA_*` variables read through `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env("KASSA_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Toml {
                path: path.clone(),
                message: e.to_string(),
            })?;
            config.apply_file(parsed)?;
        }
        let vars: [(&str, &'static str); 11] = [
            ("KASSA_LISTEN", "listen"),
            ("KASSA_DATABASE_URL", "databaseUrl"),
            ("KASSA_DATABASE_MAX_CONNECTIONS", "databaseMaxConnections"),
            ("KASSA_PUBLIC_URL", "publicUrl"),
            ("KASSA_DATA_DIR", "dataDir"),
            ("KASSA_VAULT_KEY", "vaultKey"),
            ("KASSA_MAX_AMOUNT", "maxAmount"),
            ("KASSA_PAYOUT_CUTOFF", "payoutCutoff"),
            ("KASSA_JOB_POLL_INTERVAL", "jobPollInterval"),
            ("KASSA_LOG_FORMAT", "logFormat"),
            (
                "KASSA_SANDBOX_ACH_SETTLEMENT_DELAY",
                "sandbox.achSettlementDelay",
            ),
        ];
        for (var, key) in vars {
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                config.set(key, &value)?;
            }
        }
        Ok(config)
    }

    fn apply_file(&mut self, f: FileConfig) -> Result<(), ConfigError> {
        let pairs = [
            ("listen", f.listen),
            ("databaseUrl", f.database_url),
            ("databaseMaxConnections", f.database_max_connections),
            ("publicUrl", f.public_url),
            (
                "dataDir",
                f.data_dir.map(|p| p.to_string_lossy().into_owned()),
            ),
            ("vaultKey", f.vault_key),
            ("maxAmount", f.max_amount),
            ("payoutCutoff", f.payout_cutoff),
            ("jobPollInterval", f.job_poll_interval),
            ("logFormat", f.log_format),
            ("sandbox.achSettlementDelay", f.sandbox.ach_settlement_delay),
        ];
        for (key, value) in pairs {
            if let Some(value) = value {
                self.set(key, &value)?;
            }
        }
        Ok(())
    }

    /// Sets one setting by its file key; flags and variables go through here too.
    pub fn set(&mut self, key: &'static str, value: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { name: key, message };
        match key {
            "listen" => {
                self.listen = value.parse().map_err(|_| {
                    invalid(format!("{value:?} is not an address like 127.0.0.1:8080"))
                })?
            }
            "databaseUrl" => self.database_url = Some(value.to_string()),
            "databaseMaxConnections" => {
                self.database_max_connections = value
                    .parse()
                    .ok()
                    .filter(|n| (2..=1000).contains(n))
                    .ok_or_else(|| invalid("must be a number from 2 to 1000".into()))?
            }
            "publicUrl" => {
                let v = value.trim_end_matches('/');
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    return Err(invalid("must start with http:// or https://".into()));
                }
                self.public_url = Some(v.to_string());
            }
            "dataDir" => self.data_dir = PathBuf::from(value),
            "vaultKey" => self.vault_key = Some(Secret::new(value.to_string())),
            "maxAmount" => {
                self.max_amount_minor = parse_amount(value)
                    .ok()
                    .filter(|m| *m > 0)
                    .ok_or_else(|| invalid("must be a positive amount like 999999.99".into()))?
            }
            "payoutCutoff" => {
                let parsed = value.split_once(':').and_then(|(h, m)| {
                    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
                    (h < 24 && m < 60 && value.len() == 5).then_some((h, m))
                });
                let (h, m) = parsed.ok_or_else(|| {
                    invalid("must be a UTC time of day like 00:00 or 17:30".into())
                })?;
                self.payout_cutoff = time::Time::from_hms(h, m, 0).expect("checked above");
            }
            "jobPollInterval" => {
                self.job_poll_interval = parse_duration(value)
                    .ok()
                    .filter(|d| (Duration::from_millis(10)..=Duration::from_secs(3600)).contains(d))
                    .ok_or_else(|| invalid("must be a duration from 10ms to 1h".into()))?
            }
            "logFormat" => {
                self.log_format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(invalid("must be text or json".into())),
                }
            }
            "sandbox.achSettlementDelay" => {
                self.sandbox.ach_settlement_delay = parse_duration(value).map_err(invalid)?
            }
            _ => return Err(invalid("unknown setting".into())),
        }
        Ok(())
    }

    /// How the store connects: [`Config::database_max_connections`], migrating on connect.
    pub fn connect_options(&self) -> kassa_store::ConnectOptions {
        kassa_store::ConnectOptions {
            max_connections: self.database_max_connections,
            ..kassa_store::ConnectOptions::default()
        }
    }

    /// The database to use: the configured URL, else `sqlite://{dataDir}/kassa.db`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("kassa.db").display()),
        }
    }

    /// How long a sandbox ACH debit stays pending (bounded when configured, so this cannot overflow).
    pub fn ach_settlement_delay(&self) -> time::Duration {
        time::Duration::try_from(self.sandbox.ach_settlement_delay)
            .unwrap_or(time::Duration::days(30))
    }

    /// The base URL links are built on.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => {
                let host = if self.listen.ip().is_unspecified() {
                    SocketAddr::from(([127, 0, 0, 1], self.listen.port())).to_string()
                } else {
                    self.listen.to_string()
                };
                format!("http://{host}")
            }
        }
    }
}

/// "300", "300s", "5m", "2h", "1d", "250ms".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 300s, 5m or 1h"))?;
    let secs = |k: u64| n.checked_mul(k).map(Duration::from_secs);
    match unit {
        "" | "s" => secs(1),
        "ms" => Some(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{s:?} is not a duration like 300s, 5m or 1h"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_no_other_service() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://kassa-data/kassa.db");
        let moved = Config::load(None, env(&[("KASSA_DATA_DIR", "/var/lib/kassa")])).unwrap();
        assert_eq!(moved.database_url(), "sqlite:///var/lib/kassa/kassa.db");
        assert_eq!(c.public_base(), "http://127.0.0.1:8080");
        assert_eq!(c.sandbox.ach_settlement_delay, Duration::from_secs(300));
    }

    #[test]
    fn file_then_env_take_precedence_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\npublicUrl = \"https://pay.example/\"\n[sandbox]\nachSettlementDelay = \"2m\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), env(&[("KASSA_LISTEN", "127.0.0.1:9100")])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.public_base(), "https://pay.example");
        assert_eq!(c.sandbox.ach_settlement_delay, Duration::from_secs(120));
    }

    #[test]
    fn database_connections_are_set_by_file_or_variable_within_bounds() {
        assert_eq!(Config::default().connect_options().max_connections, 16);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(&path, "databaseMaxConnections = \"40\"\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(c.connect_options().max_connections, 40);
        let c = Config::load(
            Some(&path),
            env(&[("KASSA_DATABASE_MAX_CONNECTIONS", "24")]),
        )
        .unwrap();
        assert_eq!(c.database_max_connections, 24);
        for bad in ["0", "1", "1001", "many", "-3"] {
            let err =
                Config::load(None, env(&[("KASSA_DATABASE_MAX_CONNECTIONS", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("databaseMaxConnections"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let err = Config::load(None, env(&[("KASSA_LISTEN", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err =
            Config::load(None, env(&[("KASSA_SANDBOX_ACH_SETTLEMENT_DELAY", "soon")])).unwrap_err();
        assert!(err.to_string().contains("achSettlementDelay"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), env(&[])),
            Err(ConfigError::Toml { .. })
        ));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("-5s").is_err());
    }
}

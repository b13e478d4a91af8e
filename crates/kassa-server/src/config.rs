//! Typed configuration: defaults, then an optional TOML file, then `KASSA_*` environment
//! variables; the binary applies its command-line flags last. Each key is one row of [`KEYS`],
//! which all four read.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use kassa_core::money::parse_amount;
use kassa_core::secret::Secret;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

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

/// One configuration key. Everything about a key is its row in [`KEYS`]: its default, its TOML
/// name, its environment variable, its flag and how its text parses are each written once there,
/// and [`Config::default`], [`Config::load`], [`Config::set`] and the binary's flags all read it.
/// (A new key is a row here and a field of [`Config`] to hold it.)
pub struct Key {
    /// The name in TOML (`section.name` for a key in a TOML table) and in error messages.
    pub name: &'static str,
    /// The environment variable that sets it; empty values are ignored.
    pub env: &'static str,
    /// The value before any file, variable or flag, written as a user would; `None`: unset.
    pub default: Option<&'static str>,
    /// The `kassa` command-line flag (its long name) that sets it, if any.
    pub flag: Option<&'static str>,
    /// What the TOML value must be.
    file_value: FileValue,
    /// Parses the text into the field; the error is the message of [`ConfigError::Invalid`].
    parse: fn(&mut Config, &str) -> Result<(), String>,
}

/// The TOML type a key takes: a string, or a path (a string too; only serde's wording of a
/// wrong type differs, "expected path string").
#[derive(Clone, Copy)]
enum FileValue {
    Text,
    Path,
}

/// Every configuration key, in the order the file, the variables and the flags apply them.
pub const KEYS: &[Key] = &[
    Key {
        name: "listen",
        env: "KASSA_LISTEN",
        default: Some("127.0.0.1:8080"),
        flag: Some("listen"),
        file_value: FileValue::Text,
        parse: |c, v| {
            c.listen = v
                .parse()
                .map_err(|_| format!("{v:?} is not an address like 127.0.0.1:8080"))?;
            Ok(())
        },
    },
    Key {
        name: "databaseUrl",
        env: "KASSA_DATABASE_URL",
        default: None,
        flag: Some("database-url"),
        file_value: FileValue::Text,
        parse: |c, v| {
            c.database_url = Some(v.to_string());
            Ok(())
        },
    },
    Key {
        name: "databaseMaxConnections",
        env: "KASSA_DATABASE_MAX_CONNECTIONS",
        default: Some("16"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.database_max_connections = v
                .parse()
                .ok()
                .filter(|n| (2..=1000).contains(n))
                .ok_or("must be a number from 2 to 1000")?;
            Ok(())
        },
    },
    Key {
        name: "publicUrl",
        env: "KASSA_PUBLIC_URL",
        default: None,
        flag: Some("public-url"),
        file_value: FileValue::Text,
        parse: |c, v| {
            let v = v.trim_end_matches('/');
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err("must start with http:// or https://".into());
            }
            c.public_url = Some(v.to_string());
            Ok(())
        },
    },
    Key {
        name: "dataDir",
        env: "KASSA_DATA_DIR",
        default: Some("kassa-data"),
        flag: None,
        file_value: FileValue::Path,
        parse: |c, v| {
            c.data_dir = PathBuf::from(v);
            Ok(())
        },
    },
    Key {
        name: "vaultKey",
        env: "KASSA_VAULT_KEY",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.vault_key = Some(Secret::new(v.to_string()));
            Ok(())
        },
    },
    Key {
        name: "maxAmount",
        env: "KASSA_MAX_AMOUNT",
        // kassa_core::money::DEFAULT_MAX_AMOUNT_MINOR (a test holds them equal).
        default: Some("999999.99"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.max_amount_minor = parse_amount(v)
                .ok()
                .filter(|m| *m > 0)
                .ok_or("must be a positive amount like 999999.99")?;
            Ok(())
        },
    },
    Key {
        name: "payoutCutoff",
        env: "KASSA_PAYOUT_CUTOFF",
        default: Some("00:00"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.payout_cutoff =
                parse_time_of_day(v).ok_or("must be a UTC time of day like 00:00 or 17:30")?;
            Ok(())
        },
    },
    Key {
        name: "jobPollInterval",
        env: "KASSA_JOB_POLL_INTERVAL",
        default: Some("1s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.job_poll_interval = parse_duration(v)
                .ok()
                .filter(|d| (Duration::from_millis(10)..=Duration::from_secs(3600)).contains(d))
                .ok_or("must be a duration from 10ms to 1h")?;
            Ok(())
        },
    },
    Key {
        name: "logFormat",
        env: "KASSA_LOG_FORMAT",
        default: Some("text"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.log_format = match v {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err("must be text or json".into()),
            };
            Ok(())
        },
    },
    Key {
        name: "sandbox.achSettlementDelay",
        env: "KASSA_SANDBOX_ACH_SETTLEMENT_DELAY",
        default: Some("5m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.sandbox.ach_settlement_delay = parse_duration(v)?;
            Ok(())
        },
    },
];

impl Default for Config {
    /// Every key at its default in [`KEYS`].
    fn default() -> Self {
        let mut config = Config::unset();
        for key in KEYS {
            if let Some(value) = key.default {
                if let Err(e) = (key.parse)(&mut config, value) {
                    panic!("the default of {} does not parse: {e}", key.name);
                }
            }
        }
        config
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

impl Config {
    /// The storage before the defaults: placeholders that [`KEYS`]' defaults overwrite (keys
    /// without a default stay `None`).
    fn unset() -> Config {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            database_url: None,
            database_max_connections: 0,
            public_url: None,
            data_dir: PathBuf::new(),
            vault_key: None,
            max_amount_minor: 0,
            sandbox: SandboxConfig {
                ach_settlement_delay: Duration::ZERO,
            },
            payout_cutoff: time::Time::MIDNIGHT,
            job_poll_interval: Duration::ZERO,
            log_format: LogFormat::Text,
        }
    }

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
            let FileValues(values) = toml::from_str(&text).map_err(|e| ConfigError::Toml {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for (key, value) in KEYS.iter().zip(values) {
                if let Some(value) = value {
                    config.set(key.name, &value)?;
                }
            }
        }
        for key in KEYS {
            if let Some(value) = env(key.env).filter(|v| !v.is_empty()) {
                config.set(key.name, &value)?;
            }
        }
        Ok(config)
    }

    /// Sets one key by its name in [`KEYS`]; the file, variables and flags all go through here.
    pub fn set(&mut self, key: &'static str, value: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { name: key, message };
        let row = KEYS
            .iter()
            .find(|k| k.name == key)
            .ok_or_else(|| invalid("unknown setting".into()))?;
        (row.parse)(self, value).map_err(invalid)
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

/// "HH:MM", 24-hour.
fn parse_time_of_day(value: &str) -> Option<time::Time> {
    let (h, m) = value.split_once(':')?;
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60 && value.len() == 5).then(|| time::Time::from_hms(h, m, 0).expect("checked"))
}

/// A TOML file's values, one per [`KEYS`] row, camelCase like the API. Read by walking the
/// document against [`KEYS`] rather than into a derived struct, with the derive's checks and
/// wording: unknown keys and non-string values are refused with the same messages as before.
struct FileValues(Vec<Option<String>>);

impl<'de> Deserialize<'de> for FileValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut values = vec![None; KEYS.len()];
        deserializer.deserialize_struct(
            "FileConfig",
            names_in(None),
            FileTable {
                section: None,
                values: &mut values,
            },
        )?;
        Ok(FileValues(values))
    }
}

/// `name` split into its TOML table (if any) and its name in that table.
fn split_name(name: &'static str) -> (Option<&'static str>, &'static str) {
    match name.split_once('.') {
        Some((section, name)) => (Some(section), name),
        None => (None, name),
    }
}

/// The names a TOML table may hold (`None`: the top level, whose sections count as names), in
/// [`KEYS`] order: serde's "expected one of" lists them.
fn names_in(section: Option<&str>) -> &'static [&'static str] {
    type Names = Vec<(Option<&'static str>, Vec<&'static str>)>;
    static NAMES: OnceLock<Names> = OnceLock::new();
    let all = NAMES.get_or_init(|| {
        let mut all: Names = vec![(None, Vec::new())];
        let mut add = |section: Option<&'static str>, name: &'static str| {
            let at = match all.iter().position(|(s, _)| *s == section) {
                Some(at) => at,
                None => {
                    all.push((section, Vec::new()));
                    all.len() - 1
                }
            };
            if !all[at].1.contains(&name) {
                all[at].1.push(name);
            }
        };
        for key in KEYS {
            let (section, name) = split_name(key.name);
            if let Some(section) = section {
                add(None, section);
            }
            add(section, name);
        }
        all
    });
    all.iter()
        .find(|(s, _)| *s == section)
        .map_or(&[], |(_, names)| names.as_slice())
}

/// One TOML table of the file: the top level or a section such as `[sandbox]`.
struct FileTable<'a> {
    section: Option<&'static str>,
    values: &'a mut [Option<String>],
}

/// What a key of a TOML table names.
enum Entry {
    /// The row of [`KEYS`].
    Key(usize),
    /// A section (top level only).
    Section(&'static str),
}

impl<'de> DeserializeSeed<'de> for FileTable<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let section = self.section.expect("only sections are nested");
        deserializer.deserialize_struct(section, names_in(Some(section)), self)
    }
}

impl<'de> Visitor<'de> for FileTable<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // The derived structs' names, as serde worded it before: "struct FileSandbox".
        let section = self.section.unwrap_or("config");
        let mut chars = section.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase());
        write!(
            f,
            "struct File{}{}",
            first.unwrap_or_default(),
            chars.as_str()
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(entry) = map.next_key_seed(EntryName(self.section))? {
            match entry {
                Entry::Key(row) => {
                    self.values[row] = Some(match KEYS[row].file_value {
                        FileValue::Text => map.next_value::<String>()?,
                        FileValue::Path => {
                            map.next_value::<PathBuf>()?.to_string_lossy().into_owned()
                        }
                    })
                }
                Entry::Section(section) => map.next_value_seed(FileTable {
                    section: Some(section),
                    values: &mut *self.values,
                })?,
            }
        }
        Ok(())
    }
}

/// Reads a key of the table `.0` into an [`Entry`]; an unknown key is serde's `unknown_field`.
struct EntryName(Option<&'static str>);

impl<'de> DeserializeSeed<'de> for EntryName {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Entry, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for EntryName {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
        if let Some(row) = KEYS.iter().position(|k| split_name(k.name) == (self.0, v)) {
            return Ok(Entry::Key(row));
        }
        // At the top level, a name that is no key is a section.
        let section = names_in(None).iter().find(|n| **n == v);
        match (self.0, section) {
            (None, Some(section)) => Ok(Entry::Section(section)),
            _ => Err(E::unknown_field(v, names_in(self.0))),
        }
    }
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
    fn defaults_are_the_documented_values() {
        let c = Config::default();
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(c.database_url, None);
        assert_eq!(c.database_max_connections, 16);
        assert_eq!(c.public_url, None);
        assert_eq!(c.data_dir, PathBuf::from("kassa-data"));
        assert!(c.vault_key.is_none());
        assert_eq!(
            c.max_amount_minor,
            kassa_core::money::DEFAULT_MAX_AMOUNT_MINOR
        );
        assert_eq!(c.payout_cutoff, time::Time::MIDNIGHT);
        assert_eq!(c.job_poll_interval, Duration::from_secs(1));
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.sandbox.ach_settlement_delay, Duration::from_secs(300));
    }

    /// A value for each key that differs from its default.
    fn sample(key: &str) -> &'static str {
        match key {
            "listen" => "0.0.0.0:9000",
            "databaseUrl" => "postgres://u@h/db",
            "databaseMaxConnections" => "40",
            "publicUrl" => "https://pay.example",
            "dataDir" => "/var/lib/kassa",
            "vaultKey" => "00ff",
            "maxAmount" => "500.00",
            "payoutCutoff" => "17:30",
            "jobPollInterval" => "250ms",
            "logFormat" => "json",
            "sandbox.achSettlementDelay" => "2m",
            other => panic!("no sample value for {other}: add one"),
        }
    }

    #[test]
    fn every_key_is_reachable_from_toml_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        let default = format!("{:?}", Config::default());
        for key in KEYS {
            let value = sample(key.name);
            let mut expected = Config::default();
            expected.set(key.name, value).unwrap();
            let expected = format!("{expected:?}");
            assert_ne!(expected, default, "{} changes nothing", key.name);

            let doc = match key.name.split_once('.') {
                Some((section, name)) => format!("[{section}]\n{name} = \"{value}\"\n"),
                None => format!("{} = \"{value}\"\n", key.name),
            };
            std::fs::write(&path, &doc).unwrap();
            let from_file = Config::load(Some(&path), env(&[])).unwrap();
            assert_eq!(format!("{from_file:?}"), expected, "TOML {doc:?}");

            let from_env = Config::load(None, env(&[(key.env, value)])).unwrap();
            assert_eq!(format!("{from_env:?}"), expected, "{}={value}", key.env);
            // An empty variable is no setting.
            let empty = Config::load(None, env(&[(key.env, "")])).unwrap();
            assert_eq!(format!("{empty:?}"), default, "{}=", key.env);
        }
    }

    #[test]
    fn toml_errors_read_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        let top = "`listen`, `databaseUrl`, `databaseMaxConnections`, `publicUrl`, `dataDir`, \
                   `vaultKey`, `maxAmount`, `payoutCutoff`, `jobPollInterval`, `logFormat`, \
                   `sandbox`";
        let cases = [
            (
                "lisen = \"x\"\n",
                format!(
                    "TOML parse error at line 1, column 1\n  |\n1 | lisen = \"x\"\n  | ^^^^^\n\
                     unknown field `lisen`, expected one of {top}\n"
                ),
            ),
            (
                "[other]\n",
                format!(
                    "TOML parse error at line 1, column 2\n  |\n1 | [other]\n  |  ^^^^^\n\
                     unknown field `other`, expected one of {top}\n"
                ),
            ),
            (
                "databaseMaxConnections = 40\n",
                "TOML parse error at line 1, column 26\n  |\n1 | databaseMaxConnections = 40\n  \
                 |                          ^^\ninvalid type: integer `40`, expected a string\n"
                    .into(),
            ),
            (
                "dataDir = 5\n",
                "TOML parse error at line 1, column 11\n  |\n1 | dataDir = 5\n  |           ^\n\
                 invalid type: integer `5`, expected path string\n"
                    .into(),
            ),
            (
                "sandbox = \"x\"\n",
                "TOML parse error at line 1, column 11\n  |\n1 | sandbox = \"x\"\n  |           ^^^\n\
                 invalid type: string \"x\", expected struct FileSandbox\n"
                    .into(),
            ),
            (
                "[sandbox]\nachSettlementDela = \"1s\"\n",
                "TOML parse error at line 2, column 1\n  |\n2 | achSettlementDela = \"1s\"\n  \
                 | ^^^^^^^^^^^^^^^^^\nunknown field `achSettlementDela`, expected \
                 `achSettlementDelay`\n"
                    .into(),
            ),
            (
                "[sandbox]\nachSettlementDelay = 1\n",
                "TOML parse error at line 2, column 22\n  |\n2 | achSettlementDelay = 1\n  \
                 |                      ^\ninvalid type: integer `1`, expected a string\n"
                    .into(),
            ),
            (
                "listen = [1]\n",
                "TOML parse error at line 1, column 10\n  |\n1 | listen = [1]\n  |          ^^^\n\
                 invalid type: sequence, expected a string\n"
                    .into(),
            ),
            (
                "listen = { a = 1 }\n",
                "TOML parse error at line 1, column 10\n  |\n1 | listen = { a = 1 }\n  \
                 |          ^^^^^^^^^\ninvalid type: map, expected a string\n"
                    .into(),
            ),
        ];
        for (doc, expected) in cases {
            std::fs::write(&path, doc).unwrap();
            match Config::load(Some(&path), env(&[])) {
                Err(ConfigError::Toml { message, .. }) => assert_eq!(message, expected, "{doc:?}"),
                other => panic!("{doc:?}: {other:?}"),
            }
        }
        // Values are checked in the order of the keys, whatever their order in the file.
        std::fs::write(&path, "logFormat = \"y\"\nlisten = \"x\"\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for listen: \"x\" is not an address like 127.0.0.1:8080"
        );
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

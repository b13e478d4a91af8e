//! Typed configuration: defaults, then an optional TOML file, then `KASSA_*` environment
//! variables; the binary applies its command-line flags last. Each key is one row of [`KEYS`],
//! which all four read.

mod file;
mod keys;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use kassa_core::limit::Rate;
use kassa_core::secret::Secret;

use file::FileValues;
use keys::FileValue;
pub use keys::{Key, KEYS};
pub use values::parse_duration;

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
    /// How often an idle job lane looks for due work.
    pub job_poll_interval: Duration,
    /// How long a claimed job is its worker's before another may take it over; renewed every
    /// third of it while the job runs.
    pub job_lease: Duration,
    /// How long requests and jobs in flight get to finish once shutdown begins.
    pub shutdown_grace_period: Duration,
    pub log_format: LogFormat,
    pub limits: LimitsConfig,
    /// Peers whose `X-Forwarded-For` is believed (docs/api.md §8, client IP).
    pub trusted_proxies: Vec<IpNet>,
    /// A dashboard session unused for this long ends (docs/api.md §9); 12 hours is the most any
    /// session lasts (`sign_in::SESSION_LIFETIME`).
    pub session_idle_timeout: Duration,
    pub http: HttpConfig,
    pub webhooks: WebhooksConfig,
    pub recovery: RecoveryConfig,
    pub dns: DnsConfig,
    pub metrics: MetricsConfig,
    pub smtp: SmtpConfig,
}

/// Where email goes out (docs/api.md §11); with no `url`, Kassa sends none.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://host:port` (plain, or `?tls=required` for STARTTLS) or `smtps://user:pass@host:465`;
    /// it may carry a password, so it is a secret.
    pub url: Option<Secret<String>>,
    /// The `From` address, e.g. `Kassa <no-reply@pay.example.com>`; by default `no-reply@` the
    /// public URL's host.
    pub from: Option<String>,
}

/// The DNS lookups Kassa makes itself (billing host TXT records, docs/api.md §9).
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// One nameserver to ask (UDP, then TCP), e.g. `127.0.0.1:5353`; None: the system's
    /// (`/etc/resolv.conf`).
    pub resolver: Option<SocketAddr>,
}

/// Who may read `/metrics` (docs/api.md §9): with a token, `Authorization: Bearer <token>` on
/// the public listener; with an address, a listener of its own (and none on the public one);
/// with neither, nobody (404).
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub token: Option<Secret<String>>,
    pub listen: Option<SocketAddr>,
}

/// The abuse limits of docs/api.md §8; `None` is a limit turned off (`"off"`).
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// API calls per API key, kept by each instance.
    pub api_calls: Option<Rate>,
    /// Burst of [`LimitsConfig::api_calls`].
    pub api_call_burst: u32,
    /// Failed API authentications (missing, unknown or revoked key) per client IP.
    pub failed_authentications: Option<Rate>,
    pub unsigned_links_per_ip: Option<Rate>,
    pub unsigned_links_per_partner: Option<Rate>,
    /// Failed payment attempts on one link (the link is locked, not the client).
    pub failed_attempts_per_link: Rate,
    /// Declined attempts on pay pages per client IP, across links and partners.
    pub declines_per_ip: Option<Rate>,
    /// Declined attempts per card (keyed fingerprint), across links and partners.
    pub declines_per_card: Option<Rate>,
    pub sign_in_failures_per_email: Option<Rate>,
    pub sign_in_failures_per_ip: Option<Rate>,
    /// Password hashes computed at once; the rest wait up to [`PASSWORD_HASH_WAIT`], then 429.
    pub password_hashes: u32,
    /// Declines on a partner's pay pages within the window that switch on challenge mode (when
    /// they are also more than half of the attempts); `None`: never.
    pub challenge_declines: Option<Rate>,
    /// How long challenge mode lasts once switched on.
    pub challenge_duration: Duration,
    /// Leading zero bits the proof-of-work must find.
    pub challenge_difficulty: u8,
}

/// How long a sign-in waits for one of the [`LimitsConfig::password_hashes`] slots.
pub const PASSWORD_HASH_WAIT: Duration = Duration::from_secs(5);

/// Connection limits (`http.*`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The request head must arrive within this.
    pub header_timeout: Duration,
    /// The whole body must arrive within this.
    pub body_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Allows `http` and loopback or private addresses, for development (on with `serve --demo`).
    pub allow_private_networks: bool,
    /// Deliveries one instance makes at once.
    pub concurrency: usize,
    /// Of those, at most this many to any one endpoint, so a slow endpoint holds only its own.
    pub endpoint_concurrency: usize,
}

/// The recovery sweep (docs/api.md §8).
#[derive(Debug, Clone)]
pub struct RecoveryConfig {
    /// A record still awaiting its processor after this is asked about by the sweep. At least
    /// 2 minutes: a processor call waits at most half of it (and 60 s), and the lookup must not
    /// race a call still in flight, nor clocks that differ a little between instances.
    pub attempt_timeout: Duration,
    /// How often the sweep (and the rest of housekeeping) runs.
    pub sweep_interval: Duration,
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
            job_lease: Duration::ZERO,
            shutdown_grace_period: Duration::ZERO,
            log_format: LogFormat::Text,
            limits: LimitsConfig {
                api_calls: None,
                api_call_burst: 0,
                failed_authentications: None,
                unsigned_links_per_ip: None,
                unsigned_links_per_partner: None,
                failed_attempts_per_link: Rate::new(1, Duration::from_secs(1)),
                declines_per_ip: None,
                declines_per_card: None,
                sign_in_failures_per_email: None,
                sign_in_failures_per_ip: None,
                password_hashes: 0,
                challenge_declines: None,
                challenge_duration: Duration::ZERO,
                challenge_difficulty: 0,
            },
            trusted_proxies: Vec::new(),
            session_idle_timeout: Duration::ZERO,
            http: HttpConfig {
                header_timeout: Duration::ZERO,
                body_timeout: Duration::ZERO,
                idle_timeout: Duration::ZERO,
                max_connections: 0,
            },
            webhooks: WebhooksConfig {
                allow_private_networks: false,
                concurrency: 0,
                endpoint_concurrency: 0,
            },
            recovery: RecoveryConfig {
                attempt_timeout: Duration::ZERO,
                sweep_interval: Duration::ZERO,
            },
            dns: DnsConfig { resolver: None },
            metrics: MetricsConfig {
                token: None,
                listen: None,
            },
            smtp: SmtpConfig {
                url: None,
                from: None,
            },
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

    /// The failed attempts that lock a payment link (`limits.failedAttemptsPerLink`): that many
    /// within the window, counted from the link's payments.
    pub fn failed_attempt_limit(&self) -> kassa_core::payment_request::FailedAttemptLimit {
        let rate = self.limits.failed_attempts_per_link;
        kassa_core::payment_request::FailedAttemptLimit {
            max: i64::from(rate.count),
            window: time::Duration::try_from(rate.per).unwrap_or(time::Duration::days(30)),
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
        assert_eq!(c.session_idle_timeout, Duration::from_secs(15 * 60));
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.sandbox.ach_settlement_delay, Duration::from_secs(300));
        // docs/api.md §8, row by row.
        let l = &c.limits;
        let rate = |s: &str| Some(Rate::parse(s).unwrap());
        assert_eq!((l.api_calls, l.api_call_burst), (rate("100/1s"), 200));
        assert_eq!(l.failed_authentications, rate("20/1m"));
        assert_eq!(l.unsigned_links_per_ip, rate("30/1m"));
        assert_eq!(l.unsigned_links_per_partner, rate("1000/1h"));
        assert_eq!(Some(l.failed_attempts_per_link), rate("10/1h"));
        assert_eq!(
            c.failed_attempt_limit(),
            kassa_core::payment_request::FAILED_ATTEMPT_LIMIT
        );
        assert_eq!(l.declines_per_ip, rate("10/10m"));
        assert_eq!(l.declines_per_card, rate("5/1h"));
        assert_eq!(l.sign_in_failures_per_email, rate("5/15m"));
        assert_eq!(l.sign_in_failures_per_ip, rate("20/15m"));
        assert_eq!(l.password_hashes, 4);
        assert_eq!(l.challenge_declines, rate("30/10m"));
        assert_eq!(l.challenge_duration, Duration::from_secs(3600));
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.http.header_timeout, Duration::from_secs(10));
        assert_eq!(c.http.body_timeout, Duration::from_secs(30));
        assert_eq!(c.http.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.http.max_connections, 10_000);
        assert!(!c.webhooks.allow_private_networks);
        assert_eq!(c.recovery.attempt_timeout, Duration::from_secs(300));
        assert_eq!(c.recovery.sweep_interval, Duration::from_secs(60));
    }

    #[test]
    fn trusted_proxies_are_an_array_or_a_list_and_limits_can_be_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.toml");
        std::fs::write(
            &path,
            "trustedProxies = [\"10.0.0.0/8\", \"2001:db8::1\"]\n[limits]\ndeclinesPerIp = \"off\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "2001:db8::1/128"]);
        assert_eq!(c.limits.declines_per_ip, None);
        let c = Config::load(
            None,
            env(&[("KASSA_TRUSTED_PROXIES", "10.1.2.3/8, 127.0.0.1")]),
        )
        .unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32"]);
        for (var, bad) in [
            ("KASSA_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("KASSA_TRUSTED_PROXIES", "proxy.example"),
            ("KASSA_LIMITS_DECLINES_PER_IP", "10"),
            ("KASSA_LIMITS_FAILED_ATTEMPTS_PER_LINK", "off"),
            ("KASSA_LIMITS_PASSWORD_HASHES", "0"),
            ("KASSA_HTTP_HEADER_TIMEOUT", "0s"),
            ("KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "yes"),
            ("KASSA_RECOVERY_ATTEMPT_TIMEOUT", "90s"),
        ] {
            assert!(
                Config::load(None, env(&[(var, bad)])).is_err(),
                "{var}={bad}"
            );
        }
    }

    #[test]
    fn the_smtp_password_is_never_shown() {
        let c = Config::load(
            None,
            env(&[
                (
                    "KASSA_SMTP_URL",
                    "smtps://mailer:s3cret-pw@mail.example:465",
                ),
                ("KASSA_SMTP_FROM", "Acme Billing <billing@acme.example>"),
            ]),
        )
        .unwrap();
        assert!(c.smtp.url.is_some());
        assert!(!format!("{c:?}").contains("s3cret"));
        for bad in [
            "http://mailer:s3cret-pw@mail.example",
            "smtp://mailer:s3cret-pw@mail example",
        ] {
            let e = Config::load(None, env(&[("KASSA_SMTP_URL", bad)])).unwrap_err();
            assert!(!e.to_string().contains("s3cret"), "{e}");
            assert!(
                e.to_string().starts_with("invalid value for smtp.url"),
                "{e}"
            );
        }
        let e = Config::load(None, env(&[("KASSA_SMTP_FROM", "not an address")])).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid value for smtp.from"),
            "{e}"
        );
    }

    #[test]
    fn the_metrics_token_is_never_shown() {
        let c = Config::load(
            None,
            env(&[
                ("KASSA_METRICS_TOKEN", "s3cret-metrics-token-value"),
                ("KASSA_METRICS_LISTEN", "127.0.0.1:9090"),
                ("KASSA_DNS_RESOLVER", "127.0.0.1:5353"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.metrics.token.as_ref().map(|t| t.expose().as_str()),
            Some("s3cret-metrics-token-value")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.metrics.listen.unwrap().to_string(), "127.0.0.1:9090");
        assert_eq!(c.dns.resolver.unwrap().to_string(), "127.0.0.1:5353");
        let e = Config::load(None, env(&[("KASSA_METRICS_TOKEN", "short s3cret")])).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(
            e.to_string().starts_with("invalid value for metrics.token"),
            "{e}"
        );
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
            "jobLease" => "2m",
            "shutdownGracePeriod" => "10s",
            "webhooks.concurrency" => "128",
            "webhooks.endpointConcurrency" => "2",
            "logFormat" | "log.format" => "json",
            "sandbox.achSettlementDelay" => "2m",
            "trustedProxies" => "10.0.0.0/8,192.0.2.7",
            "sessionIdleTimeout" => "30m",
            "limits.apiCalls" => "50/1s",
            "limits.apiCallBurst" => "80",
            "limits.failedAuthentications" => "off",
            "limits.unsignedLinksPerIp" => "5/1m",
            "limits.unsignedLinksPerPartner" => "10/1h",
            "limits.failedAttemptsPerLink" => "3/1h",
            "limits.declinesPerIp" => "3/10m",
            "limits.declinesPerCard" => "2/1h",
            "limits.signInFailuresPerEmail" => "3/15m",
            "limits.signInFailuresPerIp" => "off",
            "limits.passwordHashes" => "2",
            "limits.challengeDeclines" => "5/10m",
            "limits.challengeDuration" => "2h",
            "limits.challengeDifficulty" => "12",
            "http.headerTimeout" => "5s",
            "http.bodyTimeout" => "15s",
            "http.idleTimeout" => "20s",
            "http.maxConnections" => "500",
            "webhooks.allowPrivateNetworks" => "true",
            "recovery.attemptTimeout" => "2m",
            "recovery.sweepInterval" => "30s",
            "dns.resolver" => "127.0.0.1:5353",
            "metrics.token" => "metrics-token-0123456789",
            "metrics.listen" => "127.0.0.1:9090",
            "smtp.url" => "smtp://127.0.0.1:1025",
            "smtp.from" => "Kassa <no-reply@pay.example.com>",
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
                   `vaultKey`, `maxAmount`, `payoutCutoff`, `jobPollInterval`, `jobLease`, \
                   `shutdownGracePeriod`, `logFormat`, `log`, \
                   `trustedProxies`, `sessionIdleTimeout`, `sandbox`, `limits`, `http`, `webhooks`, `recovery`, `dns`, `metrics`, `smtp`";
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

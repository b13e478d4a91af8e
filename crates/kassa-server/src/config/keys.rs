//! The configuration's keys, one row each: the single place a key's name, variable, flag, default
//! and parsing are written (see [`Key`]). `mod.rs` holds the typed [`Config`] they fill.

use std::time::Duration;

use kassa_core::limit::Rate;
use kassa_core::money::parse_amount;
use kassa_core::secret::Secret;

use super::values::{http_timeout, parse_count, parse_duration_within, parse_rate_or_off};
use super::*;

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
    pub(super) file_value: FileValue,
    /// Parses the text into the field; the error is the message of [`ConfigError::Invalid`].
    pub(super) parse: fn(&mut Config, &str) -> Result<(), String>,
}

/// The TOML type a key takes: a string, or a path (a string too; only serde's wording of a
/// wrong type differs, "expected path string").
#[derive(Clone, Copy)]
pub(super) enum FileValue {
    Text,
    Path,
    /// An array of strings, or one string of comma-separated items (as in the variable).
    List,
}

/// `log.format` (and its old name `logFormat`): `text` or `json`.
fn parse_log_format(c: &mut Config, v: &str) -> Result<(), String> {
    c.log_format = match v {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        _ => return Err("must be text or json".into()),
    };
    Ok(())
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
            c.payout_cutoff = kassa_core::payout::parse_cutoff(v)
                .ok_or("must be a UTC time of day like 00:00 or 17:30")?;
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
        name: "jobLease",
        env: "KASSA_JOB_LEASE",
        default: Some("60s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.job_lease = parse_duration_within(
                v,
                Duration::from_secs(1),
                Duration::from_secs(3600),
                "1s",
                "1h",
            )?;
            Ok(())
        },
    },
    Key {
        name: "shutdownGracePeriod",
        env: "KASSA_SHUTDOWN_GRACE_PERIOD",
        default: Some("30s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.shutdown_grace_period =
                parse_duration_within(v, Duration::ZERO, Duration::from_secs(3600), "0s", "1h")?;
            Ok(())
        },
    },
    // The name before `log.format`, still read: the same setting.
    Key {
        name: "logFormat",
        env: "KASSA_LOG_FORMAT",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        parse: parse_log_format,
    },
    Key {
        name: "log.format",
        env: "KASSA_LOG_FORMAT",
        default: Some("text"),
        flag: None,
        file_value: FileValue::Text,
        parse: parse_log_format,
    },
    Key {
        name: "trustedProxies",
        env: "KASSA_TRUSTED_PROXIES",
        default: Some(""),
        flag: None,
        file_value: FileValue::List,
        parse: |c, v| {
            c.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map(|n| n.trunc())
                        .map_err(|_| format!("{s:?} is not an address or CIDR like 10.0.0.0/8"))
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Key {
        name: "sessionIdleTimeout",
        env: "KASSA_SESSION_IDLE_TIMEOUT",
        default: Some("15m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.session_idle_timeout = parse_duration_within(
                v,
                Duration::from_secs(60),
                Duration::from_secs(12 * 3600),
                "1m",
                "12h",
            )?;
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
    Key {
        name: "limits.apiCalls",
        env: "KASSA_LIMITS_API_CALLS",
        default: Some("100/1s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.api_calls = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.apiCallBurst",
        env: "KASSA_LIMITS_API_CALL_BURST",
        default: Some("200"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.api_call_burst = parse_count(v, 1, 1_000_000)?;
            Ok(())
        },
    },
    Key {
        name: "limits.failedAuthentications",
        env: "KASSA_LIMITS_FAILED_AUTHENTICATIONS",
        default: Some("20/1m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.failed_authentications = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.unsignedLinksPerIp",
        env: "KASSA_LIMITS_UNSIGNED_LINKS_PER_IP",
        default: Some("30/1m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.unsigned_links_per_ip = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.unsignedLinksPerPartner",
        env: "KASSA_LIMITS_UNSIGNED_LINKS_PER_PARTNER",
        default: Some("1000/1h"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.unsigned_links_per_partner = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.failedAttemptsPerLink",
        env: "KASSA_LIMITS_FAILED_ATTEMPTS_PER_LINK",
        default: Some("10/1h"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.failed_attempts_per_link = Rate::parse(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.declinesPerIp",
        env: "KASSA_LIMITS_DECLINES_PER_IP",
        default: Some("10/10m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.declines_per_ip = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.declinesPerCard",
        env: "KASSA_LIMITS_DECLINES_PER_CARD",
        default: Some("5/1h"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.declines_per_card = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.signInFailuresPerEmail",
        env: "KASSA_LIMITS_SIGN_IN_FAILURES_PER_EMAIL",
        default: Some("5/15m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.sign_in_failures_per_email = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.signInFailuresPerIp",
        env: "KASSA_LIMITS_SIGN_IN_FAILURES_PER_IP",
        default: Some("20/15m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.sign_in_failures_per_ip = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.passwordHashes",
        env: "KASSA_LIMITS_PASSWORD_HASHES",
        default: Some("4"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.password_hashes = parse_count(v, 1, 256)?;
            Ok(())
        },
    },
    Key {
        name: "limits.challengeDeclines",
        env: "KASSA_LIMITS_CHALLENGE_DECLINES",
        default: Some("30/10m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.challenge_declines = parse_rate_or_off(v)?;
            Ok(())
        },
    },
    Key {
        name: "limits.challengeDuration",
        env: "KASSA_LIMITS_CHALLENGE_DURATION",
        default: Some("1h"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.challenge_duration = parse_duration_within(
                v,
                Duration::from_secs(1),
                Duration::from_secs(7 * 86_400),
                "1s",
                "7d",
            )?;
            Ok(())
        },
    },
    Key {
        name: "limits.challengeDifficulty",
        env: "KASSA_LIMITS_CHALLENGE_DIFFICULTY",
        default: Some("18"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.limits.challenge_difficulty = parse_count(v, 1, 32)? as u8;
            Ok(())
        },
    },
    Key {
        name: "http.headerTimeout",
        env: "KASSA_HTTP_HEADER_TIMEOUT",
        default: Some("10s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.http.header_timeout = http_timeout(v)?;
            Ok(())
        },
    },
    Key {
        name: "http.bodyTimeout",
        env: "KASSA_HTTP_BODY_TIMEOUT",
        default: Some("30s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.http.body_timeout = http_timeout(v)?;
            Ok(())
        },
    },
    Key {
        name: "http.idleTimeout",
        env: "KASSA_HTTP_IDLE_TIMEOUT",
        default: Some("60s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.http.idle_timeout = http_timeout(v)?;
            Ok(())
        },
    },
    Key {
        name: "http.maxConnections",
        env: "KASSA_HTTP_MAX_CONNECTIONS",
        default: Some("10000"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.http.max_connections = parse_count(v, 1, 1_000_000)? as usize;
            Ok(())
        },
    },
    Key {
        name: "webhooks.allowPrivateNetworks",
        env: "KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
        default: Some("false"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.webhooks.allow_private_networks = match v {
                "true" => true,
                "false" => false,
                _ => return Err("must be true or false".into()),
            };
            Ok(())
        },
    },
    Key {
        name: "webhooks.concurrency",
        env: "KASSA_WEBHOOKS_CONCURRENCY",
        default: Some("64"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.webhooks.concurrency = parse_count(v, 1, 1024)? as usize;
            Ok(())
        },
    },
    Key {
        name: "webhooks.endpointConcurrency",
        env: "KASSA_WEBHOOKS_ENDPOINT_CONCURRENCY",
        default: Some("32"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.webhooks.endpoint_concurrency = parse_count(v, 1, 1024)? as usize;
            Ok(())
        },
    },
    Key {
        name: "recovery.attemptTimeout",
        env: "KASSA_RECOVERY_ATTEMPT_TIMEOUT",
        default: Some("5m"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.recovery.attempt_timeout = parse_duration_within(
                v,
                Duration::from_secs(120),
                Duration::from_secs(86_400),
                "2m",
                "1d",
            )?;
            Ok(())
        },
    },
    Key {
        name: "recovery.sweepInterval",
        env: "KASSA_RECOVERY_SWEEP_INTERVAL",
        default: Some("60s"),
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.recovery.sweep_interval = parse_duration_within(
                v,
                Duration::from_millis(100),
                Duration::from_secs(86_400),
                "100ms",
                "1d",
            )?;
            Ok(())
        },
    },
    Key {
        name: "dns.resolver",
        env: "KASSA_DNS_RESOLVER",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.dns.resolver = Some(
                v.parse()
                    .map_err(|_| format!("{v:?} is not an address like 127.0.0.1:53"))?,
            );
            Ok(())
        },
    },
    Key {
        name: "metrics.token",
        env: "KASSA_METRICS_TOKEN",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        // Never echoed: a bad value's message does not repeat it.
        parse: |c, v| {
            if v.len() < 16 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err("must be at least 16 printable characters without spaces".into());
            }
            c.metrics.token = Some(Secret::new(v.to_string()));
            Ok(())
        },
    },
    Key {
        name: "smtp.url",
        env: "KASSA_SMTP_URL",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        // Never echoed: it may carry the SMTP password.
        parse: |c, v| {
            let scheme_ok = v.starts_with("smtp://") || v.starts_with("smtps://");
            let usable = scheme_ok
                && lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(v).is_ok();
            if !usable || v.len() > 2048 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(
                    "must be an smtp:// or smtps:// URL such as smtp://127.0.0.1:1025".into(),
                );
            }
            c.smtp.url = Some(Secret::new(v.to_string()));
            Ok(())
        },
    },
    Key {
        name: "smtp.from",
        env: "KASSA_SMTP_FROM",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            if v.len() > 320 || v.parse::<lettre::message::Mailbox>().is_err() {
                return Err("must be an address such as Kassa <no-reply@pay.example.com>".into());
            }
            c.smtp.from = Some(v.to_string());
            Ok(())
        },
    },
    Key {
        name: "metrics.listen",
        env: "KASSA_METRICS_LISTEN",
        default: None,
        flag: None,
        file_value: FileValue::Text,
        parse: |c, v| {
            c.metrics.listen = Some(
                v.parse()
                    .map_err(|_| format!("{v:?} is not an address like 127.0.0.1:9090"))?,
            );
            Ok(())
        },
    },
];

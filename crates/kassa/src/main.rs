//! `kassa`: run the service and administer an installation. This file is the command line's
//! top level and dispatch; each command group lives in a module of its own.

mod apikey;
mod audit;
mod database;
mod doctor;
mod fees;
mod migrate;
mod openapi;
mod partner;
mod payouts;
mod processor;
mod serve;
mod tax;
mod user;
mod vault;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use kassa_core::audit::Caller;
use kassa_core::clock::{Clock, SystemClock};
use kassa_server::config::{Config, ConfigError, LogFormat, KEYS};

#[derive(Parser)]
#[command(
    name = "kassa",
    version,
    about = "Kassa: self-hosted payments for partners and their clients"
)]
struct Cli {
    /// TOML configuration file (also KASSA_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    // A configuration key's flag: applied through `config::KEYS` by `apply_flags`, not read.
    /// Database URL: sqlite://path or postgres://… (also KASSA_DATABASE_URL).
    #[arg(long, global = true)]
    #[allow(dead_code)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrations run at start).
    Serve(serve::ServeArgs),
    /// Run the database migrations (creating the database if it is missing), say which ones
    /// were applied, and exit.
    Migrate,
    /// Check the installation: database, migrations, vault key, file permissions, commit
    /// latency and clock skew; one line per check, non-zero exit when one fails.
    Doctor,
    /// Manage partners.
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(apikey::ApiKeyCommand),
    /// Manage a partner's tax rates (per tax code, applied to invoice line items).
    #[command(subcommand)]
    Tax(tax::TaxCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Cut payout batches now.
    #[command(subcommand)]
    Payouts(payouts::PayoutsCommand),
    /// Set what a partner pays per payment.
    #[command(subcommand)]
    Fees(fees::FeesCommand),
    /// Manage the vault key that seals every secret.
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// Choose a partner's processor (sandbox, stripe, authorize_net) and store its keys.
    #[command(subcommand)]
    Processor(processor::ProcessorCommand),
    /// Print the OpenAPI document of the JSON API (what GET /v1/openapi.json serves) and exit.
    Openapi,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli =
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
    let config =
        Config::load(cli.config.as_deref(), |k| std::env::var(k).ok()).and_then(|mut c| {
            apply_flags(&mut c, &Cli::command(), &matches)?;
            Ok(c)
        });
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(config.log_format);
    let database = database::Database::of(&config);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli.command, config)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error_message(&e, &database));
            ExitCode::FAILURE
        }
    }
}

/// An error as the command line shows it: its whole chain on one line, and the database it was
/// working on when the message does not name it already.
fn error_message(e: &anyhow::Error, database: &database::Database) -> String {
    let message = format!("error: {e:#}");
    let name = database.to_string();
    if message.contains(&name) {
        message
    } else {
        format!("{message}\n  database: {name}")
    }
}

/// Flags last, over the file and the variables: every [`KEYS`] row with a flag that was given,
/// at whichever level of the command line clap declares it, as the text the user typed.
fn apply_flags(
    config: &mut Config,
    command: &clap::Command,
    matches: &ArgMatches,
) -> Result<(), ConfigError> {
    for key in KEYS {
        let Some(flag) = key.flag else { continue };
        let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(flag)) else {
            continue;
        };
        if let Some(value) = matches
            .get_raw(arg.get_id().as_str())
            .and_then(|mut values| values.next_back())
        {
            config.set(key.name, &value.to_string_lossy())?;
        }
    }
    if let Some((name, sub_matches)) = matches.subcommand() {
        if let Some(sub) = command.find_subcommand(name) {
            apply_flags(config, sub, sub_matches)?;
        }
    }
    Ok(())
}

/// The operating-system account running the command, as the audit log names it.
fn operator_account() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Logs to stderr in `log.format`, with colours only on a terminal (`kassa_server::logging`).
fn init_tracing(format: LogFormat) {
    kassa_server::logging::init(format);
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now();
    // Who the audit log names for what a command changes: the operator's account.
    let by = Caller::cli(&operator_account(), now);
    match command {
        // The one command whose exit code says more than success or failure.
        Command::Doctor => return doctor::run(&config).await,
        Command::Serve(args) => serve::run(args, config).await,
        Command::Migrate => migrate::run(&config).await,
        Command::Partner(cmd) => partner::run(cmd, &config, &by).await,
        Command::Apikey(cmd) => apikey::run(cmd, &config, &by).await,
        Command::User(cmd) => user::run(cmd, &config, &by).await,
        Command::Payouts(cmd) => payouts::run(cmd, &config, now).await,
        Command::Fees(cmd) => fees::run(cmd, &config, &by).await,
        Command::Tax(cmd) => tax::run(cmd, &config, &by).await,
        Command::Audit(cmd) => audit::run(cmd, &config).await,
        Command::Vault(cmd) => vault::run(cmd, &config, &by).await,
        Command::Processor(cmd) => processor::run(cmd, &config, &by).await,
        Command::Openapi => openapi::run(),
    }?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(args: &[&str]) -> Result<Config, ConfigError> {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let mut config = Config::default();
        apply_flags(&mut config, &Cli::command(), &matches)?;
        Ok(config)
    }

    #[test]
    fn flags_set_their_keys_wherever_they_stand() {
        let c = config_from(&[
            "kassa",
            "--database-url",
            "postgres://db/kassa",
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--public-url",
            "https://pay.example/",
        ])
        .unwrap();
        assert_eq!(c.database_url(), "postgres://db/kassa");
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.public_base(), "https://pay.example");
        // A global flag after the subcommand.
        let c = config_from(&[
            "kassa",
            "tax",
            "list",
            "--partner",
            "acme",
            "--database-url",
            "sqlite://x.db",
        ])
        .unwrap();
        assert_eq!(c.database_url(), "sqlite://x.db");
        let c = config_from(&["kassa", "migrate"]).unwrap();
        assert_eq!(c.database_url(), Config::default().database_url());
        let err = config_from(&["kassa", "serve", "--public-url", "ftp://x"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for publicUrl: must start with http:// or https://"
        );
    }

    /// Every flag in the table is on the command line, says its variable, and every flag that
    /// says a variable (but `--config`, which names the file) is in the table.
    #[test]
    fn the_config_flags_are_the_tables() {
        fn args(command: &clap::Command, out: &mut Vec<(String, String)>) {
            for a in command.get_arguments() {
                if let Some(long) = a.get_long() {
                    let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                    out.push((long.to_string(), help));
                }
            }
            for sub in command.get_subcommands() {
                args(sub, out);
            }
        }
        let mut all = Vec::new();
        args(&Cli::command(), &mut all);
        for key in KEYS {
            let Some(flag) = key.flag else { continue };
            let (_, help) = all
                .iter()
                .find(|(long, _)| long == flag)
                .unwrap_or_else(|| panic!("--{flag} of {} is not on the command line", key.name));
            assert!(
                help.contains(&format!("(also {})", key.env)),
                "--{flag}: {help}"
            );
        }
        for (long, help) in &all {
            if help.contains("(also KASSA_") && long != "config" {
                assert!(
                    KEYS.iter().any(|k| k.flag == Some(long.as_str())),
                    "--{long} is not a flag in config::KEYS"
                );
            }
        }
    }

    /// Every subcommand and every option says what it is for in `--help`.
    #[test]
    fn every_command_and_option_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in command.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in command.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(name.clone());
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "kassa", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
    }

    #[test]
    fn errors_name_the_database_once() {
        let database = database::Database::of(&Config::default());
        let e = anyhow::anyhow!("no partner with slug \"acme\"");
        let shown = error_message(&e, &database);
        assert!(
            shown.starts_with("error: no partner with slug \"acme\"\n  database: /"),
            "{shown}"
        );
        assert!(
            shown.ends_with("kassa-data/kassa.db (sqlite://kassa-data/kassa.db)"),
            "{shown}"
        );
        let e = anyhow::anyhow!("no Kassa database at {database}").context("cannot start");
        let shown = error_message(&e, &database);
        assert_eq!(shown.matches("kassa.db (sqlite:").count(), 1, "{shown}");
        assert!(
            shown.starts_with("error: cannot start: no Kassa database at /"),
            "{shown}"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

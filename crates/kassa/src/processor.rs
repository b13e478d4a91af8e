//! `kassa processor set|show` (docs/api.md §10): which processor a partner's payments go through,
//! and its account there. Secret keys are read from standard input, one per line in the order of
//! their flags, never from the command line; none is ever printed.

use std::io::BufRead;

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use kassa_core::audit::Caller;
use kassa_core::processor::Connector;
use kassa_server::admin;
use kassa_server::config::Config;
use kassa_server::processors::{self, Credentials, NewProcessor};

use crate::database::connect_with_vault;

#[derive(Subcommand)]
pub enum ProcessorCommand {
    /// Choose a partner's processor and store its account (keys sealed with the vault key).
    /// Secret keys are read from standard input, one per line, in the order of their flags.
    Set {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// sandbox (the default of every partner), stripe or authorize_net.
        #[arg(long, value_enum)]
        connector: ConnectorArg,
        /// Stripe: read the secret key (sk_live_… or sk_test_…) from standard input.
        #[arg(long)]
        secret_key_stdin: bool,
        /// Stripe: read the webhook signing secret (whsec_…) from standard input, after the
        /// secret key.
        #[arg(long)]
        webhook_secret_stdin: bool,
        /// Authorize.net: the API login id (not secret).
        #[arg(long)]
        login_id: Option<String>,
        /// Authorize.net: read the transaction key from standard input.
        #[arg(long)]
        transaction_key_stdin: bool,
        /// Authorize.net: read the signature key (for webhooks) from standard input, after the
        /// transaction key.
        #[arg(long)]
        signature_key_stdin: bool,
        /// Another address for the processor's API: its test environment
        /// (https://apitest.authorize.net) or a local stand-in. Default: the processor's
        /// production API.
        #[arg(long)]
        api_base: Option<String>,
    },
    /// Show a partner's processor and account (never its keys).
    Show {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ConnectorArg {
    Sandbox,
    Stripe,
    #[value(name = "authorize_net")]
    AuthorizeNet,
}

impl From<ConnectorArg> for Connector {
    fn from(c: ConnectorArg) -> Self {
        match c {
            ConnectorArg::Sandbox => Connector::Sandbox,
            ConnectorArg::Stripe => Connector::Stripe,
            ConnectorArg::AuthorizeNet => Connector::AuthorizeNet,
        }
    }
}

pub async fn run(command: ProcessorCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    match command {
        ProcessorCommand::Set {
            partner,
            connector,
            secret_key_stdin,
            webhook_secret_stdin,
            login_id,
            transaction_key_stdin,
            signature_key_stdin,
            api_base,
        } => {
            let connector = Connector::from(connector);
            let flags = Flags {
                secret_key: secret_key_stdin,
                webhook_secret: webhook_secret_stdin,
                login_id: login_id.is_some(),
                transaction_key: transaction_key_stdin,
                signature_key: signature_key_stdin,
            };
            flags.check(connector, api_base.is_some())?;
            let mut lines = std::io::stdin().lock().lines();
            let mut next = |what: &str| -> anyhow::Result<String> {
                match lines.next() {
                    Some(line) => {
                        let line = line?.trim().to_string();
                        if line.is_empty() {
                            bail!("the {what} read from standard input is empty");
                        }
                        Ok(line)
                    }
                    None => bail!("standard input ended before the {what}"),
                }
            };
            let credentials = match connector {
                Connector::Sandbox => Credentials::default(),
                Connector::Stripe => Credentials {
                    secret_key: Some(next("secret key")?),
                    webhook_secret: webhook_secret_stdin
                        .then(|| next("webhook secret"))
                        .transpose()?,
                    ..Default::default()
                },
                Connector::AuthorizeNet => Credentials {
                    transaction_key: Some(next("transaction key")?),
                    signature_key: signature_key_stdin
                        .then(|| next("signature key"))
                        .transpose()?,
                    ..Default::default()
                },
            };
            let (store, vault, _) = connect_with_vault(config).await?;
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let set = processors::set(
                store.as_ref(),
                &vault,
                &partner,
                NewProcessor {
                    connector,
                    api_base,
                    login_id,
                    credentials,
                },
                by,
            )
            .await?;
            println!("{} now pays through {}", partner.slug, set.connector);
            if let Some(base) = &set.api_base {
                println!("API base: {base}");
            }
            if let Some(hook) = webhook_path(connector, partner.slug.as_str()) {
                println!("notification URL to register at the processor: <public URL>{hook}");
            }
        }
        ProcessorCommand::Show { partner } => {
            let (store, vault, _) = connect_with_vault(config).await?;
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let shown = processors::show(store.as_ref(), Some(&vault), &partner).await?;
            println!("connector: {}", shown.connector);
            if let Some(base) = &shown.api_base {
                println!("API base:  {base}");
            }
            if let Some(login) = &shown.login_id {
                println!("login id:  {login}");
            }
            if let Some(hook) = webhook_path(shown.connector, partner.slug.as_str()) {
                println!(
                    "notifications: {hook} (signing secret {})",
                    if shown.signs_notifications {
                        "set"
                    } else {
                        "NOT set: every notification is refused"
                    }
                );
            }
        }
    }
    Ok(())
}

/// Which flags were given, checked against the connector before anything is read or opened.
struct Flags {
    secret_key: bool,
    webhook_secret: bool,
    login_id: bool,
    transaction_key: bool,
    signature_key: bool,
}

impl Flags {
    fn check(&self, connector: Connector, api_base: bool) -> anyhow::Result<()> {
        let stripe = self.secret_key || self.webhook_secret;
        let anet = self.login_id || self.transaction_key || self.signature_key;
        match connector {
            Connector::Sandbox if stripe || anet || api_base => {
                bail!("the sandbox takes no keys, login or --api-base")
            }
            Connector::Stripe if anet => {
                bail!("--login-id, --transaction-key-stdin and --signature-key-stdin are for authorize_net")
            }
            Connector::Stripe if !self.secret_key => {
                bail!("stripe needs --secret-key-stdin (the secret key on standard input)")
            }
            Connector::AuthorizeNet if stripe => {
                bail!("--secret-key-stdin and --webhook-secret-stdin are for stripe")
            }
            Connector::AuthorizeNet if !(self.login_id && self.transaction_key) => {
                bail!("authorize_net needs --login-id and --transaction-key-stdin")
            }
            _ => Ok(()),
        }
    }
}

fn webhook_path(connector: Connector, slug: &str) -> Option<String> {
    (connector != Connector::Sandbox).then(|| format!("/hooks/{}/{slug}", connector.hook_segment()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(secret: bool, webhook: bool, login: bool, key: bool, signature: bool) -> Flags {
        Flags {
            secret_key: secret,
            webhook_secret: webhook,
            login_id: login,
            transaction_key: key,
            signature_key: signature,
        }
    }

    #[test]
    fn each_connector_takes_its_own_keys_only() {
        let ok = |f: Flags, c, base| f.check(c, base).is_ok();
        assert!(ok(
            flags(false, false, false, false, false),
            Connector::Sandbox,
            false
        ));
        assert!(!ok(
            flags(true, false, false, false, false),
            Connector::Sandbox,
            false
        ));
        assert!(!ok(
            flags(false, false, false, false, false),
            Connector::Sandbox,
            true
        ));
        assert!(ok(
            flags(true, false, false, false, false),
            Connector::Stripe,
            false
        ));
        assert!(ok(
            flags(true, true, false, false, false),
            Connector::Stripe,
            true
        ));
        assert!(!ok(
            flags(false, true, false, false, false),
            Connector::Stripe,
            false
        ));
        assert!(!ok(
            flags(true, false, true, false, false),
            Connector::Stripe,
            false
        ));
        assert!(ok(
            flags(false, false, true, true, false),
            Connector::AuthorizeNet,
            false
        ));
        assert!(ok(
            flags(false, false, true, true, true),
            Connector::AuthorizeNet,
            true
        ));
        assert!(!ok(
            flags(false, false, true, false, false),
            Connector::AuthorizeNet,
            false
        ));
        assert!(!ok(
            flags(true, false, true, true, false),
            Connector::AuthorizeNet,
            false
        ));
    }

    #[test]
    fn the_notification_path_names_the_connector_and_partner() {
        assert_eq!(
            webhook_path(Connector::AuthorizeNet, "acme").as_deref(),
            Some("/hooks/authorize-net/acme")
        );
        assert_eq!(webhook_path(Connector::Sandbox, "acme"), None);
    }
}

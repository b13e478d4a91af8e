//! `kassa apikey`: create, revoke and list a partner's API keys.

use anyhow::{bail, Context};
use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_core::id::ApiKeyId;
use kassa_core::scope::Scopes;
use kassa_server::admin;
use kassa_server::config::Config;

use crate::database::connect;

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a partner; it is shown this once.
    Create {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// A name for the key, to tell keys apart in `kassa apikey list`.
        #[arg(long, default_value = "default")]
        label: String,
        /// The key's scopes, comma-separated (read, payments, refunds, webhooks, settings,
        /// admin). Default: every scope but admin.
        #[arg(long, value_parser = crate::partner::parse_scopes)]
        scopes: Option<Scopes>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key by its id (key_…).
    Revoke {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// The key's id (key_…), as `kassa apikey list` shows it.
        id: String,
    },
    /// List a partner's API keys (never the secrets).
    List {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

pub async fn run(command: ApiKeyCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    let store = connect(config).await?;
    match command {
        ApiKeyCommand::Create {
            partner,
            label,
            scopes,
            json,
        } => {
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let (record, key) = admin::create_api_key(
                store.as_ref(),
                &partner.id,
                &label,
                scopes.unwrap_or_else(Scopes::default_for_new_key),
                by,
            )
            .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": record.id.as_str(), "apiKey": key.expose()})
                );
            } else {
                println!("API key id: {}", record.id);
                println!("API key:    {}   (shown once; store it now)", key.expose());
            }
        }
        ApiKeyCommand::Revoke { partner, id } => {
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let id = ApiKeyId::parse(&id).context("an API key id looks like key_…")?;
            if !store.revoke_api_key(&partner.id, &id, by.at, by).await? {
                bail!("{id} is not an active API key of {}", partner.slug);
            }
            println!("revoked {id}");
        }
        ApiKeyCommand::List { partner } => {
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            for k in store.list_api_keys(&partner.id).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}  {}…  {:<8} {:<40} {}",
                    k.id,
                    k.prefix,
                    state,
                    k.scopes.to_list(),
                    k.label
                );
            }
        }
    }
    Ok(())
}

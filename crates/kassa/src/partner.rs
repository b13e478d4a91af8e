//! `kassa partner`: create partners, and verify a partner's billing host without DNS.

use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_core::scope::Scopes;
use kassa_server::admin::{self, NewPartnerInput};
use kassa_server::config::Config;

use crate::database::{connect, connect_with_vault};

#[derive(Subcommand)]
pub enum PartnerCommand {
    /// Create a partner and print its id, slug, first API key and link secret.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        /// Host the partner's pay pages are served on, e.g. pay.acme.example.
        #[arg(long)]
        billing_host: Option<String>,
        /// Brand color as #RRGGBB.
        #[arg(long)]
        brand_color: Option<String>,
        /// Logo URL (https): kept for compatibility, shown nowhere; upload the logo with
        /// `PUT /v1/partner/logo` or the dashboard's Settings.
        #[arg(long)]
        logo_url: Option<String>,
        /// Creation links must carry a valid signature.
        #[arg(long)]
        require_signed_links: bool,
        /// The first API key's scopes, comma-separated (read, payments, refunds, webhooks,
        /// settings, admin). Default: every scope but admin.
        #[arg(long, value_parser = parse_scopes)]
        scopes: Option<Scopes>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Mark a partner's billing host verified without its DNS record (operator override).
    VerifyHost {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

/// A `--scopes` list.
pub fn parse_scopes(s: &str) -> Result<Scopes, String> {
    match Scopes::parse_list(s) {
        Ok(scopes) if scopes.is_empty() => Err("name at least one scope".to_string()),
        Ok(scopes) => Ok(scopes),
        Err(e) => Err(e.to_string()),
    }
}

pub async fn run(command: PartnerCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    let (name, slug, billing_host, brand_color, logo_url, require_signed_links, scopes, json) =
        match command {
            PartnerCommand::VerifyHost { partner } => {
                let store = connect(config).await?;
                let p = admin::verify_billing_host(store.as_ref(), &partner, by).await?;
                println!(
                    "billing host {} of {} is verified: it serves the partner's pay pages and links",
                    p.billing_host.as_ref().map(|h| h.as_str()).unwrap_or_default(),
                    p.slug
                );
                return Ok(());
            }
            PartnerCommand::Create {
                name,
                slug,
                billing_host,
                brand_color,
                logo_url,
                require_signed_links,
                scopes,
                json,
            } => (
                name,
                slug,
                billing_host,
                brand_color,
                logo_url,
                require_signed_links,
                scopes,
                json,
            ),
        };
    if let Some(host) = billing_host.as_deref() {
        kassa_server::settings::refuse_kassa_host(&config.public_base(), host)?;
    }
    let (store, vault, _) = connect_with_vault(config).await?;
    let created = admin::create_partner(
        store.as_ref(),
        &vault,
        NewPartnerInput {
            name,
            slug,
            billing_host,
            brand_color,
            logo_url,
            require_signed_links,
            key_scopes: scopes,
        },
        by,
    )
    .await?;
    let p = &created.partner;
    if json {
        let out = serde_json::json!({
            "partnerId": p.id.as_str(),
            "slug": p.slug.as_str(),
            "apiKey": created.api_key.expose(),
            "linkSecret": created.link_secret.expose(),
        });
        println!("{out}");
    } else {
        println!("partner id:    {}", p.id);
        println!("slug:          {}", p.slug);
        println!(
            "API key:       {}   (shown once; store it now)",
            created.api_key.expose()
        );
        println!("link secret:   {}", created.link_secret.expose());
        if let (Some(host), Some(v)) = (&p.billing_host, &p.billing_host_verification) {
            println!(
                "billing host:  {host} (pending verification: TXT {} = {}, or kassa partner verify-host --partner {})",
                kassa_core::billing_host::record_name(host),
                v.record_value(),
                p.slug
            );
        }
        println!(
            "creation link: {}",
            kassa_server::links::creation_link(
                &config.public_base(),
                &vault,
                p,
                "250.00",
                "QUOTE-123",
                None
            )?
        );
    }
    Ok(())
}

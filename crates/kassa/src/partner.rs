//! `kassa partner`: create and list partners, and verify a partner's billing host without DNS.

use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_core::scope::Scopes;
use kassa_server::admin::{self, NewPartnerInput};
use kassa_server::config::Config;
use kassa_store::Partner;

use crate::database::{connect, connect_with_vault};

#[derive(Subcommand)]
pub enum PartnerCommand {
    /// Create a partner and print its id, slug, first API key and link secret.
    Create {
        /// The partner's name, as payers see it on its pages and receipts.
        #[arg(long)]
        name: String,
        /// Short name in its URLs (`/p/{slug}/…`) and for every `--partner` option: lowercase
        /// letters, digits and dashes.
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
    /// List every partner: slug, name, when it was created, its processor and billing host.
    List {
        /// Print one JSON array instead of a table.
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
            PartnerCommand::List { json } => {
                let store = connect(config).await?;
                let partners = store.list_partners().await?;
                print!("{}", list(&partners, json));
                return Ok(());
            }
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

/// The partners as `kassa partner list` prints them: aligned columns with a header (or a line
/// saying there are none), or a JSON array.
fn list(partners: &[Partner], json: bool) -> String {
    let billing_host = |p: &Partner| match (&p.billing_host, &p.billing_host_verification) {
        (Some(host), Some(v)) if v.is_verified() => host.as_str().to_string(),
        (Some(host), _) => format!("{} (pending)", host.as_str()),
        _ => "-".to_string(),
    };
    let created = |p: &Partner| {
        let t = p.created_at;
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    };
    if json {
        let rows: Vec<_> = partners
            .iter()
            .map(|p| {
                serde_json::json!({
                    "partnerId": p.id.as_str(),
                    "slug": p.slug.as_str(),
                    "name": p.name,
                    "createdAt": p.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                    "processor": p.processor.as_str(),
                    "billingHost": p.billing_host.as_ref().map(|h| h.as_str()),
                })
            })
            .collect();
        return format!("{}\n", serde_json::Value::Array(rows));
    }
    if partners.is_empty() {
        return "no partners yet (kassa partner create, or kassa serve --demo)\n".to_string();
    }
    let mut rows =
        vec![["SLUG", "NAME", "CREATED (UTC)", "PROCESSOR", "BILLING HOST"].map(String::from)];
    for p in partners {
        rows.push([
            p.slug.to_string(),
            printable(&p.name),
            created(p),
            p.processor.as_str().to_string(),
            billing_host(p),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A name as a terminal may show it: control characters (escape sequences included) as `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(slug: &str, name: &str) -> Partner {
        use kassa_core::partner::{BrandColor, Slug};
        Partner {
            id: kassa_core::id::PartnerId::generate(),
            slug: Slug::parse(slug).unwrap(),
            name: name.into(),
            billing_host: None,
            billing_host_verification: None,
            brand_color: BrandColor::default(),
            logo_url: None,
            default_redirect_url: None,
            require_signed_links: false,
            allowed_redirect_hosts: Default::default(),
            require_two_factor: false,
            link_secret: kassa_store::SealedSecret {
                nonce: Vec::new(),
                ciphertext: Vec::new(),
            },
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            challenge_mode_until: None,
            processor: kassa_core::processor::Connector::Sandbox,
            contact: Default::default(),
            notification_email: None,
            timezone: Default::default(),
        }
    }

    #[test]
    fn partners_list_in_aligned_columns() {
        assert!(list(&[], false).starts_with("no partners yet"));
        assert_eq!(list(&[], true), "[]\n");
        let out = list(
            &[
                partner("acme", "Acme Services"),
                partner("bee", "B\u{1b}[31m"),
            ],
            false,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("SLUG  NAME           CREATED (UTC)"),
            "{out}"
        );
        assert!(lines[1].starts_with("acme  Acme Services  "), "{out}");
        assert!(lines[2].starts_with("bee   B?[31m         "), "{out}");
        assert!(!out.contains('\u{1b}'));
        let json: serde_json::Value =
            serde_json::from_str(&list(&[partner("acme", "Acme")], true)).unwrap();
        assert_eq!(json[0]["slug"], "acme");
        assert_eq!(json[0]["processor"], "sandbox");
    }
}

//! `kassa`: run the service and administer an installation.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use kassa_core::clock::{Clock, SystemClock};
use kassa_core::id::ApiKeyId;
use kassa_server::admin::{self, NewPartnerInput};
use kassa_server::config::{Config, LogFormat};
use kassa_server::vault::KeySource;
use kassa_server::App;
use tracing_subscriber::EnvFilter;

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
    /// Database URL: sqlite://path or postgres://… (also KASSA_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrations run at start).
    Serve(ServeArgs),
    /// Run the database migrations and exit.
    Migrate,
    /// Manage partners.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manage a partner's tax rates (per tax code, applied to invoice line items).
    #[command(subcommand)]
    Tax(TaxCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Cut payout batches now.
    #[command(subcommand)]
    Payouts(PayoutsCommand),
    /// Set what a partner pays per payment.
    #[command(subcommand)]
    Fees(FeesCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a dashboard user to a partner; the password is read from standard input.
    Create {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List a partner's dashboard users.
    List {
        #[arg(long)]
        partner: String,
    },
}

#[derive(Subcommand)]
enum PayoutsCommand {
    /// Cut a payout batch now for one partner, or for every partner with something to pay out.
    Run {
        /// The partner's slug; all partners when left out.
        #[arg(long)]
        partner: Option<String>,
    },
}

#[derive(Subcommand)]
enum FeesCommand {
    /// Set fees; what is not given stays as it is. Percents like 2.9, amounts like 0.30.
    Set {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        card_percent: Option<String>,
        #[arg(long)]
        card_fixed: Option<String>,
        #[arg(long)]
        ach_percent: Option<String>,
        /// The most an ACH payment pays, e.g. 5.00; `none` for no cap.
        #[arg(long)]
        ach_cap: Option<String>,
    },
    /// Show a partner's fees.
    Show {
        #[arg(long)]
        partner: String,
    },
}

#[derive(Subcommand)]
enum TaxCommand {
    /// Set the rate for a tax code, e.g. `--code P0000000 --rate 8.25` (percent).
    Set {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        #[arg(long)]
        code: String,
        /// Percent, 0 to 100, up to 4 decimals.
        #[arg(long)]
        rate: String,
    },
    /// List the partner's tax rates.
    List {
        #[arg(long)]
        partner: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (also KASSA_LISTEN).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Public base URL of this service, used in links (also KASSA_PUBLIC_URL).
    #[arg(long)]
    public_url: Option<String>,
    /// Add a demo partner (once) and print an API key and a sample link.
    #[arg(long)]
    demo: bool,
}

#[derive(Subcommand)]
enum PartnerCommand {
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
        /// Logo URL (https).
        #[arg(long)]
        logo_url: Option<String>,
        /// Creation links must carry a valid signature.
        #[arg(long)]
        require_signed_links: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a partner; it is shown this once.
    Create {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        #[arg(long, default_value = "default")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key by its id (key_…).
    Revoke {
        #[arg(long)]
        partner: String,
        id: String,
    },
    /// List a partner's API keys (never the secrets).
    List {
        #[arg(long)]
        partner: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(url) = &cli.database_url {
        config.set("databaseUrl", url)?;
    }
    init_tracing(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command, config))
}

fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("KASSA_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            if let Some(url) = &args.public_url {
                config.set("publicUrl", url)?;
            }
            serve(config, args.demo).await
        }
        Command::Migrate => {
            kassa_store::connect(
                &config.database_url(),
                &kassa_store::ConnectOptions::default(),
            )
            .await?;
            println!(
                "migrations are up to date on {}",
                redact_url(&config.database_url())
            );
            Ok(())
        }
        Command::Partner(PartnerCommand::Create {
            name,
            slug,
            billing_host,
            brand_color,
            logo_url,
            require_signed_links,
            json,
        }) => {
            let store = connect(&config).await?;
            let created = admin::create_partner(
                store.as_ref(),
                NewPartnerInput {
                    name,
                    slug,
                    billing_host,
                    brand_color,
                    logo_url,
                    require_signed_links,
                },
                now,
            )
            .await?;
            let p = &created.partner;
            if json {
                let out = serde_json::json!({
                    "partnerId": p.id.as_str(),
                    "slug": p.slug.as_str(),
                    "apiKey": created.api_key.expose(),
                    "linkSecret": p.link_secret.expose(),
                });
                println!("{out}");
            } else {
                println!("partner id:    {}", p.id);
                println!("slug:          {}", p.slug);
                println!(
                    "API key:       {}   (shown once; store it now)",
                    created.api_key.expose()
                );
                println!("link secret:   {}", p.link_secret.expose());
                println!(
                    "creation link: {}",
                    kassa_server::links::creation_link(
                        &config.public_base(),
                        p,
                        "250.00",
                        "QUOTE-123",
                        None
                    )
                );
            }
            Ok(())
        }
        Command::Apikey(cmd) => {
            let store = connect(&config).await?;
            match cmd {
                ApiKeyCommand::Create {
                    partner,
                    label,
                    json,
                } => {
                    let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
                    let (record, key) =
                        admin::create_api_key(store.as_ref(), &partner.id, &label, now).await?;
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
                    if !store.revoke_api_key(&partner.id, &id, now).await? {
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
                        println!("{}  {}…  {:<8} {}", k.id, k.prefix, state, k.label);
                    }
                }
            }
            Ok(())
        }
        Command::User(UserCommand::Create {
            partner,
            email,
            password_stdin: _,
        }) => {
            let store = connect(&config).await?;
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user =
                admin::create_user(store.as_ref(), &partner.id, &email, password, now).await?;
            println!("created {} ({}) for {}", user.id, user.email, partner.slug);
            Ok(())
        }
        Command::User(UserCommand::List { partner }) => {
            let store = connect(&config).await?;
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            for u in store.list_users(&partner.id).await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!("{}  {:<8} {}", u.id, state, u.email);
            }
            Ok(())
        }
        Command::Payouts(PayoutsCommand::Run { partner }) => {
            let store = connect(&config).await?;
            let partner = match partner {
                Some(slug) => Some(admin::partner_by_slug(store.as_ref(), &slug).await?.id),
                None => None,
            };
            let made = admin::run_payouts(store.as_ref(), partner.as_ref(), now, now).await?;
            if made.is_empty() {
                println!("nothing to pay out");
            }
            for p in made {
                println!(
                    "{}  {}  {}  ({} items)",
                    p.id,
                    p.status.as_str(),
                    p.amount.display(),
                    p.items.len()
                );
            }
            Ok(())
        }
        Command::Fees(cmd) => {
            let store = connect(&config).await?;
            match cmd {
                FeesCommand::Set {
                    partner,
                    card_percent,
                    card_fixed,
                    ach_percent,
                    ach_cap,
                } => {
                    let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
                    let fees = admin::set_fees(
                        store.as_ref(),
                        &partner.id,
                        admin::FeeChange {
                            card_percent,
                            card_fixed,
                            ach_percent,
                            ach_cap,
                        },
                    )
                    .await?;
                    println!("{}: {}", partner.slug, admin::describe_fees(&fees));
                }
                FeesCommand::Show { partner } => {
                    let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
                    println!(
                        "{}: {}",
                        partner.slug,
                        admin::describe_fees(&store.fees(&partner.id).await?)
                    );
                }
            }
            Ok(())
        }
        Command::Tax(cmd) => {
            let store = connect(&config).await?;
            match cmd {
                TaxCommand::Set {
                    partner,
                    code,
                    rate,
                } => {
                    let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
                    let rate =
                        admin::set_tax_rate(store.as_ref(), &partner.id, &code, &rate, now).await?;
                    println!(
                        "{}: tax code {code} is {}%",
                        partner.slug,
                        rate.percent_text()
                    );
                }
                TaxCommand::List { partner } => {
                    let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
                    for (code, rate) in store.tax_rates(&partner.id).await?.iter() {
                        println!("{code}  {}%", rate.percent_text());
                    }
                }
            }
            Ok(())
        }
    }
}

async fn connect(config: &Config) -> anyhow::Result<std::sync::Arc<dyn kassa_store::Store>> {
    kassa_store::connect(
        &config.database_url(),
        &kassa_store::ConnectOptions::default(),
    )
    .await
    .with_context(|| {
        format!(
            "cannot open the database {}",
            redact_url(&config.database_url())
        )
    })
}

/// The URL without a password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// Ctrl-C or SIGTERM: stop accepting connections and let requests in flight finish, so a
/// payment being recorded is never cut off.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let listen = config.listen;
    let base = config.public_base();
    let database = redact_url(&config.database_url());
    let (app, key_source) = App::from_config(config).await.context("cannot start")?;
    if let KeySource::Generated(path) = &key_source {
        tracing::warn!(
            "KASSA_VAULT_KEY is not set: generated a new vault key in {path}. Card and account numbers \
             are encrypted with it; back it up, or set KASSA_VAULT_KEY. Losing it makes stored \
             payment methods unreadable."
        );
        eprintln!("\n  WARNING: generated a new vault key in {path}. Back it up or set KASSA_VAULT_KEY.\n");
    }
    if demo {
        let demo = admin::ensure_demo(app.state().store.as_ref(), SystemClock.now()).await?;
        let link =
            kassa_server::links::creation_link(&base, &demo.partner, "250.00", "QUOTE-123", None);
        println!();
        println!(
            "  Kassa demo — partner \"{}\" ({})",
            demo.partner.name, demo.partner.slug
        );
        println!("  API key:       {}", demo.api_key.expose());
        println!("  Creation link: {link}");
        println!("  Test card:     4242 4242 4242 4242, any future expiry, any CVC, any ZIP");
        let (email, password) = admin::ensure_demo_user(
            app.state().store.as_ref(),
            &demo.partner.id,
            SystemClock.now(),
        )
        .await?;
        println!(
            "  Dashboard:     {base}/dashboard  ({email} / {})",
            password.expose()
        );
        println!();
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let worker = app.spawn_worker();
    tracing::info!(%listen, %base, %database, "kassa is serving");
    axum::serve(listener, app.router())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    worker.abort();
    Ok(())
}

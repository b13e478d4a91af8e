//! `kassa serve`: run the HTTP service and its job worker until Ctrl-C or SIGTERM. Its addresses
//! are bound first, before anything is changed: a second `serve --demo` on a busy port must fail
//! without migrating, generating a key or replacing the running server's demo key and password.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use kassa_core::audit::Caller;
use kassa_core::clock::{Clock, SystemClock};
use kassa_server::admin;
use kassa_server::config::Config;
use kassa_server::vault::KeySource;
use kassa_server::App;

use crate::database::Database;

#[derive(Args)]
pub struct ServeArgs {
    // `--listen` and `--public-url` set configuration keys: main applies them through
    // `config::KEYS` (by flag name), so they are declared here for clap and not read.
    /// Address to listen on (also KASSA_LISTEN).
    #[arg(long)]
    #[allow(dead_code)]
    listen: Option<SocketAddr>,
    /// Public base URL of this service, used in links (also KASSA_PUBLIC_URL).
    #[arg(long)]
    #[allow(dead_code)]
    public_url: Option<String>,
    /// Add a demo partner (once) and print an API key and a sample link.
    #[arg(long)]
    demo: bool,
}

pub async fn run(args: ServeArgs, mut config: Config) -> anyhow::Result<()> {
    // The demo's webhooks go to a receiver on this machine (docs/api.md §8).
    config.webhooks.allow_private_networks |= args.demo;
    let listen = config.listen;
    let base = config.public_base();
    let database = Database::of(&config);
    // Bound before anything changes: a busy port stops here, having touched nothing.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let metrics_listener = match config.metrics.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
        ),
        None => None,
    };
    let (app, key_source) = App::from_config(config)
        .await
        .with_context(|| format!("cannot start on the database {database}"))?;
    if let KeySource::Generated(path) = &key_source {
        tracing::warn!(
            "KASSA_VAULT_KEY is not set: generated a new vault key in {path}. Card and account numbers \
             are encrypted with it; back it up, or set KASSA_VAULT_KEY. Losing it makes stored \
             payment methods unreadable."
        );
        eprintln!("\n  WARNING: generated a new vault key in {path}. Back it up or set KASSA_VAULT_KEY.\n");
    }
    // The settings instances must share, before the demo changes anything (`App::run` checks
    // them again as it starts).
    kassa_server::jobs::shared::check(app.state()).await?;
    if args.demo {
        let by = Caller::system(SystemClock.now());
        let demo = admin::ensure_demo(app.state().store.as_ref(), &app.state().vault, &by).await?;
        let link = kassa_server::links::creation_link(
            &base,
            &app.state().vault,
            &demo.partner,
            "250.00",
            "QUOTE-123",
            None,
        )?;
        println!();
        println!(
            "  Kassa demo — partner \"{}\" ({})",
            demo.partner.name, demo.partner.slug
        );
        println!("  API key:       {}", demo.api_key.expose());
        println!("  Creation link: {link}");
        println!("  Test card:     4242 4242 4242 4242, any future expiry, any CVC, any ZIP");
        println!("  Webhooks:      may go to http, localhost and private networks (demo only)");
        let (email, password) =
            admin::ensure_demo_user(app.state().store.as_ref(), &demo.partner.id, &by).await?;
        println!(
            "  Dashboard:     {base}/dashboard  ({email} / {})",
            password.expose()
        );
        println!();
    }
    // `/metrics` on an address of its own (metrics.listen), served until Kassa stops.
    let metrics = match (app.metrics_router(), metrics_listener) {
        (Some(router), Some(listener)) => {
            let addr = listener.local_addr()?;
            let http = app.state().config.http.clone();
            tracing::info!(%addr, "metrics are served on their own address");
            Some(tokio::spawn(async move {
                kassa_server::serve(listener, router, &http, std::future::pending()).await;
            }))
        }
        _ => None,
    };
    tracing::info!(%listen, %base, database = %database, "kassa is serving");
    // Serves and runs the job worker until the signal, then shuts down gracefully.
    let ran = app.run(listener, shutdown_signal()).await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    ran
}

/// Ctrl-C or SIGTERM: `App::run` then stops accepting connections and lets requests and jobs
/// in flight finish (within `shutdownGracePeriod`), so a payment being recorded is never cut off.
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
}

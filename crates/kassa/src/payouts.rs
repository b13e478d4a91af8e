//! `kassa payouts`: cut payout batches now rather than at the daily cut-off.

use clap::Subcommand;
use kassa_server::admin;
use kassa_server::config::Config;
use time::OffsetDateTime;

use crate::database::connect;

#[derive(Subcommand)]
pub enum PayoutsCommand {
    /// Cut a payout batch now for one partner, or for every partner with something to pay out.
    Run {
        /// The partner's slug; all partners when left out.
        #[arg(long)]
        partner: Option<String>,
    },
}

pub async fn run(
    command: PayoutsCommand,
    config: &Config,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let PayoutsCommand::Run { partner } = command;
    let store = connect(config).await?;
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

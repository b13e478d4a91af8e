//! `kassa payouts`: cut payout batches now rather than at the daily cut-off, and change the
//! cut-off every instance shares (kept in the database, docs/api.md §12).

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
    /// Set the daily payout cut-off (HH:MM, UTC) that every instance sharing this database uses.
    /// Stop every instance first and give each the same `payoutCutoff`: an instance configured
    /// otherwise refuses to start.
    Cutoff {
        /// The new cut-off, HH:MM in UTC.
        time: String,
    },
}

pub async fn run(
    command: PayoutsCommand,
    config: &Config,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let partner = match command {
        PayoutsCommand::Run { partner } => partner,
        PayoutsCommand::Cutoff { time } => return set_cutoff(config, &time, now).await,
    };
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

/// Records the shared payout cut-off; the next batch follows it.
async fn set_cutoff(config: &Config, time: &str, now: OffsetDateTime) -> anyhow::Result<()> {
    let cutoff = kassa_core::payout::parse_cutoff(time).ok_or_else(|| {
        anyhow::anyhow!("invalid cut-off {time:?}: must be HH:MM (UTC), e.g. 17:30")
    })?;
    let value = kassa_core::payout::format_cutoff(cutoff);
    let store = connect(config).await?;
    store
        .set_shared_setting(kassa_server::jobs::shared::PAYOUT_CUTOFF, &value, now)
        .await?;
    println!(
        "payout cut-off set to {value} UTC for every instance; give each instance payoutCutoff = \"{value}\" before starting it"
    );
    Ok(())
}

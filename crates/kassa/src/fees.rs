//! `kassa fees`: set and show what a partner pays per payment.

use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_server::admin;
use kassa_server::config::Config;

use crate::database::connect;

#[derive(Subcommand)]
pub enum FeesCommand {
    /// Set fees; what is not given stays as it is. Percents like 2.9, amounts like 0.30.
    Set {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// Percent of each card payment, e.g. 2.9.
        #[arg(long)]
        card_percent: Option<String>,
        /// Fixed amount per card payment, e.g. 0.30.
        #[arg(long)]
        card_fixed: Option<String>,
        /// Percent of each ACH payment, e.g. 0.8.
        #[arg(long)]
        ach_percent: Option<String>,
        /// The most an ACH payment pays, e.g. 5.00; `none` for no cap.
        #[arg(long)]
        ach_cap: Option<String>,
    },
    /// Show a partner's fees.
    Show {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

pub async fn run(command: FeesCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    let store = connect(config).await?;
    match command {
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
                by,
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

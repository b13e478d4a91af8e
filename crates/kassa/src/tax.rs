//! `kassa tax`: set and list a partner's tax rates per tax code.

use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_server::admin;
use kassa_server::config::Config;

use crate::database::connect;

#[derive(Subcommand)]
pub enum TaxCommand {
    /// Set the rate for a tax code, e.g. `--code P0000000 --rate 8.25` (percent).
    Set {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// The tax code the rate applies to (an invoice line item's `taxCode`), e.g. P0000000.
        #[arg(long)]
        code: String,
        /// Percent, 0 to 100, up to 4 decimals.
        #[arg(long)]
        rate: String,
    },
    /// List the partner's tax rates.
    List {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

pub async fn run(command: TaxCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    let store = connect(config).await?;
    match command {
        TaxCommand::Set {
            partner,
            code,
            rate,
        } => {
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let rate = admin::set_tax_rate(store.as_ref(), &partner.id, &code, &rate, by).await?;
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

//! `kassa audit verify`: checks the audit log's hash chains (docs/api.md §9) and names the first
//! event that is not what was written.

use clap::Subcommand;
use kassa_server::admin;
use kassa_server::config::Config;

use crate::database::connect;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check that no audit event was changed, removed or inserted since it was written. Exits
    /// with an error naming the first broken event.
    Verify {
        /// Only this partner's chain (its slug); default: every chain.
        #[arg(long)]
        partner: Option<String>,
    },
}

pub async fn run(command: AuditCommand, config: &Config) -> anyhow::Result<()> {
    let AuditCommand::Verify { partner } = command;
    let store = connect(config).await?;
    let partner = match partner {
        Some(slug) => Some(admin::partner_by_slug(store.as_ref(), &slug).await?),
        None => None,
    };
    let reports = admin::verify_audit(store.as_ref(), partner.as_ref()).await?;
    let mut broken = 0;
    for report in &reports {
        let chain = report.partner.as_deref().unwrap_or("(installation)");
        match &report.result {
            Ok(n) => println!("{chain}: ok, {n} events"),
            Err(e) => {
                broken += 1;
                println!("{chain}: BROKEN: {e}");
            }
        }
    }
    if reports.is_empty() {
        println!("no audit events yet");
    }
    if broken > 0 {
        anyhow::bail!("{broken} audit chain(s) broken");
    }
    Ok(())
}

//! `kassa migrate`: bring the database's schema up to date and exit.

use kassa_server::config::Config;

use crate::database::redact_url;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    crate::database::connect(config).await?;
    println!(
        "migrations are up to date on {}",
        redact_url(&config.database_url())
    );
    Ok(())
}

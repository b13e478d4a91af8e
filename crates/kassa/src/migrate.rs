//! `kassa migrate`: bring the database's schema up to date (creating the database when it is
//! missing, as `kassa serve` would), say which migrations this run applied, and exit.

use anyhow::Context;
use kassa_server::config::Config;

use crate::database::Database;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let database = Database::of(config);
    kassa_server::data_dir::prepare(config).with_context(|| {
        format!(
            "cannot prepare the data directory {}",
            config.data_dir.display()
        )
    })?;
    let applied = kassa_store::migrate(database.url(), &config.connect_options())
        .await
        .with_context(|| format!("cannot migrate the database {database}"))?;
    println!(
        "{}",
        report(&applied, kassa_store::known_migrations(database.url()))
    );
    println!("database: {database}");
    Ok(())
}

/// "applied 0016_email, 0017_partner_logos", or "already up to date: 17 migrations".
fn report(applied: &[kassa_store::MigrationName], known: usize) -> String {
    if applied.is_empty() {
        return format!("already up to date: {known} migrations");
    }
    let names: Vec<String> = applied.iter().map(|m| m.to_string()).collect();
    format!("applied {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_store::MigrationName;

    #[test]
    fn the_report_names_what_was_applied() {
        assert_eq!(report(&[], 17), "already up to date: 17 migrations");
        let applied = [
            MigrationName {
                version: 16,
                description: "email",
            },
            MigrationName {
                version: 17,
                description: "partner logos",
            },
        ];
        assert_eq!(
            report(&applied, 17),
            "applied 0016_email, 0017_partner_logos"
        );
    }
}

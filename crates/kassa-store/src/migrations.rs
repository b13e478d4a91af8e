//! Migrations are compiled into the binary, so `kassa` needs no files beside it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// One backend's migrations: (version, description, SQL).
#[derive(Debug)]
pub(crate) struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

type BoxDynError = Box<dyn std::error::Error + Send + Sync>;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "payments api",
        include_str!("../migrations/sqlite/0002_payments_api.sql"),
    ),
    (
        3,
        "money movement",
        include_str!("../migrations/sqlite/0003_money_movement.sql"),
    ),
    (
        4,
        "dashboard users",
        include_str!("../migrations/sqlite/0004_dashboard_users.sql"),
    ),
    (
        5,
        "payout item source",
        include_str!("../migrations/sqlite/0005_payout_item_source.sql"),
    ),
    (
        6,
        "billing host claims",
        include_str!("../migrations/sqlite/0006_billing_host_claims.sql"),
    ),
    (
        7,
        "webhooks",
        include_str!("../migrations/sqlite/0007_webhooks.sql"),
    ),
    (
        8,
        "limit counters",
        include_str!("../migrations/sqlite/0008_limit_counters.sql"),
    ),
    (
        9,
        "challenge mode",
        include_str!("../migrations/sqlite/0009_challenge_mode.sql"),
    ),
    (
        10,
        "allowed redirect hosts",
        include_str!("../migrations/sqlite/0010_allowed_redirect_hosts.sql"),
    ),
    (
        11,
        "audit log",
        include_str!("../migrations/sqlite/0011_audit_log.sql"),
    ),
    (
        12,
        "roles two factor",
        include_str!("../migrations/sqlite/0012_roles_two_factor.sql"),
    ),
    (
        13,
        "billing host verification",
        include_str!("../migrations/sqlite/0013_billing_host_verification.sql"),
    ),
    (
        14,
        "vault secrets",
        include_str!("../migrations/sqlite/0014_vault_secrets.sql"),
    ),
    (
        15,
        "processors",
        include_str!("../migrations/sqlite/0015_processors.sql"),
    ),
    (
        16,
        "email",
        include_str!("../migrations/sqlite/0016_email.sql"),
    ),
    (
        17,
        "partner logos",
        include_str!("../migrations/sqlite/0017_partner_logos.sql"),
    ),
    (
        18,
        "lanes",
        include_str!("../migrations/sqlite/0018_lanes.sql"),
    ),
];

pub(crate) const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "payments api",
        include_str!("../migrations/postgres/0002_payments_api.sql"),
    ),
    (
        3,
        "money movement",
        include_str!("../migrations/postgres/0003_money_movement.sql"),
    ),
    (
        4,
        "dashboard users",
        include_str!("../migrations/postgres/0004_dashboard_users.sql"),
    ),
    (
        5,
        "payout item source",
        include_str!("../migrations/postgres/0005_payout_item_source.sql"),
    ),
    (
        6,
        "billing host claims",
        include_str!("../migrations/postgres/0006_billing_host_claims.sql"),
    ),
    (
        7,
        "webhooks",
        include_str!("../migrations/postgres/0007_webhooks.sql"),
    ),
    (
        8,
        "limit counters",
        include_str!("../migrations/postgres/0008_limit_counters.sql"),
    ),
    (
        9,
        "challenge mode",
        include_str!("../migrations/postgres/0009_challenge_mode.sql"),
    ),
    (
        10,
        "allowed redirect hosts",
        include_str!("../migrations/postgres/0010_allowed_redirect_hosts.sql"),
    ),
    (
        11,
        "audit log",
        include_str!("../migrations/postgres/0011_audit_log.sql"),
    ),
    (
        12,
        "roles two factor",
        include_str!("../migrations/postgres/0012_roles_two_factor.sql"),
    ),
    (
        13,
        "billing host verification",
        include_str!("../migrations/postgres/0013_billing_host_verification.sql"),
    ),
    (
        14,
        "vault secrets",
        include_str!("../migrations/postgres/0014_vault_secrets.sql"),
    ),
    (
        15,
        "processors",
        include_str!("../migrations/postgres/0015_processors.sql"),
    ),
    (
        16,
        "email",
        include_str!("../migrations/postgres/0016_email.sql"),
    ),
    (
        17,
        "partner logos",
        include_str!("../migrations/postgres/0017_partner_logos.sql"),
    ),
    (
        18,
        "lanes",
        include_str!("../migrations/postgres/0018_lanes.sql"),
    ),
];

pub(crate) async fn migrator(
    set: &'static [(i64, &'static str, &'static str)],
) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(set)).await
}

#[cfg(test)]
mod tests {
    use super::{POSTGRES, SQLITE};

    /// A migration file that is not listed here would silently never run.
    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (dir, set) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            assert_eq!(files.len(), set.len(), "{dir}: {files:?}");
            let mut last = 0;
            for (file, (version, _, sql)) in files.iter().zip(set.iter()) {
                // Each file under the next number: 1, 2, 3, … with no gaps.
                assert_eq!(*version, last + 1, "{file}");
                last = *version;
                assert!(file.starts_with(&format!("{:04}_", version)), "{file}");
                let on_disk = std::fs::read_to_string(format!("{path}/{file}")).unwrap();
                assert_eq!(&on_disk, sql, "{file}");
            }
        }
    }
}

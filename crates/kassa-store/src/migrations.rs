//! Migrations are compiled into the binary, so `kassa` needs no files beside it. Running them
//! reports which ones this run applied (`kassa migrate` names them), and [`MigrationStatus`]
//! compares what a database recorded with what this binary knows (`kassa doctor`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::{
    AppliedMigration, Migrate, MigrateError, Migration, MigrationSource, MigrationType, Migrator,
};

/// A migration as its file is named: `0016_email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationName {
    pub version: i64,
    pub description: &'static str,
}

impl std::fmt::Display for MigrationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}_{}",
            self.version,
            self.description.replace(' ', "_")
        )
    }
}

/// What a database recorded of its migrations, against the ones this binary embeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// How many of this binary's migrations the database has applied.
    pub applied: usize,
    /// This binary's migrations the database has not applied yet.
    pub pending: Vec<MigrationName>,
    /// Versions the database applied that this binary does not know (a newer Kassa's).
    pub unknown: Vec<i64>,
    /// Applied migrations whose SQL differs from this binary's.
    pub changed: Vec<MigrationName>,
    /// A migration that started and did not finish.
    pub failed: Option<i64>,
}

impl MigrationStatus {
    /// Nothing applied: an empty database, not (yet) Kassa's.
    pub fn is_empty(&self) -> bool {
        self.applied == 0 && self.unknown.is_empty() && self.failed.is_none()
    }

    /// Everything applied, nothing unknown, changed or failed.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.changed.is_empty()
            && self.failed.is_none()
    }

    pub(crate) fn of(
        set: &'static [(i64, &'static str, &'static str)],
        recorded: &[AppliedMigration],
        failed: Option<i64>,
    ) -> MigrationStatus {
        let mut status = MigrationStatus {
            failed,
            ..MigrationStatus::default()
        };
        for (version, description, sql) in set {
            let name = MigrationName {
                version: *version,
                description,
            };
            match recorded.iter().find(|m| m.version == *version) {
                Some(m) => {
                    status.applied += 1;
                    let embedded = Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    );
                    if embedded.checksum != m.checksum {
                        status.changed.push(name);
                    }
                }
                None => status.pending.push(name),
            }
        }
        status.unknown = recorded
            .iter()
            .map(|m| m.version)
            .filter(|v| !set.iter().any(|(known, ..)| known == v))
            .collect();
        status
    }
}

/// Runs `set` on `conn` under the migration lock; the migrations this run applied, in order.
pub(crate) async fn apply<C: Migrate>(
    set: &'static [(i64, &'static str, &'static str)],
    conn: &mut C,
) -> Result<Vec<MigrationName>, MigrateError> {
    let mut migrator = migrator(set).await?;
    migrator.set_locking(false);
    conn.lock().await?;
    let applied = apply_locked(set, &migrator, conn).await;
    let unlocked = conn.unlock().await;
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

async fn apply_locked<C: Migrate>(
    set: &'static [(i64, &'static str, &'static str)],
    migrator: &Migrator,
    conn: &mut C,
) -> Result<Vec<MigrationName>, MigrateError> {
    conn.ensure_migrations_table().await?;
    let before: HashSet<i64> = conn
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    migrator.run_direct(conn).await?;
    Ok(set
        .iter()
        .filter(|(version, ..)| !before.contains(version))
        .map(|(version, description, _)| MigrationName {
            version: *version,
            description,
        })
        .collect())
}

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
    use super::*;

    #[test]
    fn names_are_the_files_stems() {
        let name = MigrationName {
            version: 17,
            description: "partner logos",
        };
        assert_eq!(name.to_string(), "0017_partner_logos");
    }

    #[test]
    fn a_status_sorts_what_a_database_recorded() {
        let set = SQLITE;
        let checksum = |i: usize| {
            let (v, d, sql) = set[i];
            Migration::new(
                v,
                Cow::Borrowed(d),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
            .checksum
        };
        let empty = MigrationStatus::of(set, &[], None);
        assert!(empty.is_empty() && !empty.is_current());
        assert_eq!(empty.pending.len(), set.len());
        let mut all: Vec<AppliedMigration> = (0..set.len())
            .map(|i| AppliedMigration {
                version: set[i].0,
                checksum: checksum(i),
            })
            .collect();
        let current = MigrationStatus::of(set, &all, None);
        assert!(current.is_current() && !current.is_empty());
        assert_eq!(current.applied, set.len());
        all[0].checksum = Cow::Owned(vec![0; 48]);
        all.push(AppliedMigration {
            version: 999,
            checksum: Cow::Owned(vec![]),
        });
        let odd = MigrationStatus::of(set, &all[..], Some(998));
        assert_eq!(odd.unknown, vec![999]);
        assert_eq!(odd.changed[0].version, 1);
        assert_eq!(odd.failed, Some(998));
        assert!(!odd.is_current() && !odd.is_empty());
    }

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

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
];

pub(crate) async fn migrator(
    set: &'static [(i64, &'static str, &'static str)],
) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(set)).await
}

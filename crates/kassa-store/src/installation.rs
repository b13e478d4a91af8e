//! The installation itself: is the database there, how its commits are grouped, how many
//! connections it holds, which vault key its stored card and account numbers were sealed with,
//! and the settings every instance sharing it must agree on.

use async_trait::async_trait;
use kassa_core::clock::to_micros;
use time::OffsetDateTime;

use crate::db::{query, query_scalar, Backend, WriteTx as _};
use crate::{ConnectionStats, GroupCommitStats, Result};

#[async_trait]
pub trait InstallationStore {
    /// Is the database reachable?
    async fn ping(&self) -> Result<()>;
    /// How many write transactions shared how many commits since the store was opened, on a
    /// backend that groups commits itself (SQLite); `None` elsewhere.
    fn group_commit_stats(&self) -> Option<GroupCommitStats>;
    /// The store's open connections, idle and in use, now.
    fn connection_stats(&self) -> ConnectionStats;
    /// Checks the vault key against the one this database was first used with (stored as a keyed
    /// hash on first use); false means another key encrypted the stored data.
    async fn check_vault_key(&self, check: &str, now: OffsetDateTime) -> Result<bool>;
    /// The shared setting `name`: the value stored, or `value` stored now if there was none
    /// (the first instance to start decides). Whatever is returned is what every instance uses.
    async fn shared_setting(&self, name: &str, value: &str, now: OffsetDateTime) -> Result<String>;
    /// Sets the shared setting `name` to `value`, whatever it was (an operator's change).
    async fn set_shared_setting(&self, name: &str, value: &str, now: OffsetDateTime) -> Result<()>;
    /// The key check stored on first use, if the database was ever opened with a vault key;
    /// reads only (a database with one holds data sealed with that key).
    async fn stored_vault_key_check(&self) -> Result<Option<String>>;
}

#[async_trait]
impl<B: Backend> InstallationStore for B {
    async fn ping(&self) -> Result<()> {
        query("SELECT 1").execute(&mut self.reader()).await?;
        Ok(())
    }

    fn group_commit_stats(&self) -> Option<crate::GroupCommitStats> {
        self.commit_stats()
    }

    fn connection_stats(&self) -> ConnectionStats {
        Backend::connection_stats(self)
    }

    async fn check_vault_key(&self, check: &str, now: OffsetDateTime) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        query("INSERT INTO installation (id, vault_key_check, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(check)
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?;
        let stored: String = query_scalar("SELECT vault_key_check FROM installation WHERE id = 1")
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(stored == check)
    }

    async fn shared_setting(&self, name: &str, value: &str, now: OffsetDateTime) -> Result<String> {
        let mut tx = self.begin_write().await?;
        query("INSERT INTO shared_settings (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?;
        let stored: String = query_scalar("SELECT value FROM shared_settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn set_shared_setting(&self, name: &str, value: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query(
            "INSERT INTO shared_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = $2, updated_at = $3",
        )
        .bind(name)
        .bind(value)
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn stored_vault_key_check(&self) -> Result<Option<String>> {
        query_scalar("SELECT vault_key_check FROM installation WHERE id = 1")
            .fetch_optional(&mut self.reader())
            .await
    }
}

//! The installation itself: is the database there, how its commits are grouped, and which vault key
//! its stored card and account numbers were sealed with.

use async_trait::async_trait;
use kassa_core::clock::to_micros;
use time::OffsetDateTime;

use crate::db::{query, query_scalar, Backend, WriteTx as _};
use crate::{GroupCommitStats, Result};

#[async_trait]
pub trait InstallationStore {
    /// Is the database reachable?
    async fn ping(&self) -> Result<()>;
    /// How many write transactions shared how many commits since the store was opened, on a
    /// backend that groups commits itself (SQLite); `None` elsewhere.
    fn group_commit_stats(&self) -> Option<GroupCommitStats>;
    /// Checks the vault key against the one this database was first used with (stored as a keyed
    /// hash on first use); false means another key encrypted the stored data.
    async fn check_vault_key(&self, check: &str, now: OffsetDateTime) -> Result<bool>;
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

    async fn stored_vault_key_check(&self) -> Result<Option<String>> {
        query_scalar("SELECT vault_key_check FROM installation WHERE id = 1")
            .fetch_optional(&mut self.reader())
            .await
    }
}

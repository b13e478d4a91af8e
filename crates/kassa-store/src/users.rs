//! Dashboard users and their sessions. (Failed sign-ins are counted by `limits.rs`.)

use async_trait::async_trait;
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::{PartnerId, UserId};
use kassa_core::secret::Secret;
use time::OffsetDateTime;

use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Row, WriteTx as _};
use crate::model::*;
use crate::partners::*;
use crate::Result;

#[async_trait]
pub trait UserStore {
    /// Taken("email") when the email already has a user.
    async fn create_user(&self, new: &NewUser) -> Result<()>;
    /// A user (even disabled) and their password hash, by lowercased email.
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, Secret<String>)>>;
    async fn set_password(&self, user: &UserId, password_hash: &Secret<String>) -> Result<bool>;
    /// The partner's users, oldest first.
    async fn list_users(&self, partner: &PartnerId) -> Result<Vec<User>>;
    /// Deletes one of the partner's users and signs out their sessions, in one transaction —
    /// unless no other enabled user of the partner would remain (checked under a lock on the
    /// partner, so two removals at once cannot both pass).
    async fn delete_user(&self, partner: &PartnerId, user: &UserId) -> Result<DeleteUserOutcome>;
    async fn create_session(
        &self,
        token_hash: &str,
        user: &User,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// The live session with this token hash, its user enabled; None otherwise.
    async fn session(&self, token_hash: &str, now: OffsetDateTime)
        -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Forgets expired sessions and old login failures; how many rows went.
    async fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64>;
}

#[async_trait]
impl<B: Backend> UserStore for B {
    async fn create_user(&self, new: &NewUser) -> Result<()> {
        let u = &new.user;
        let mut tx = self.begin_write().await?;
        let res = query(
            "INSERT INTO users (id, partner_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(u.id.as_str())
        .bind(u.partner_id.as_str())
        .bind(&u.email)
        .bind(new.password_hash.expose())
        .bind(to_micros(u.created_at))
        .execute(&mut tx)
        .await;
        match res {
            Ok(_) => Ok(tx.commit().await?),
            Err(crate::StoreError::Database(sqlx::Error::Database(db)))
                if db.is_unique_violation() =>
            {
                Err(crate::StoreError::Taken("email"))
            }
            Err(e) => Err(e),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, Secret<String>)>> {
        let row = query(
            "SELECT id, partner_id, email, password_hash, created_at, disabled_at FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&mut self.reader())
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some((
                user_from_row(&row)?,
                Secret::new(row.try_get("password_hash")?),
            ))),
        }
    }

    async fn set_password(&self, user: &UserId, password_hash: &Secret<String>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.as_str())
            .bind(password_hash.expose())
            .execute(&mut tx)
            .await?
            .rows_affected()
            == 1;
        // A new password signs every session out.
        query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn list_users(&self, partner: &PartnerId) -> Result<Vec<User>> {
        let rows = query(
            "SELECT id, partner_id, email, created_at, disabled_at FROM users WHERE partner_id = $1 ORDER BY seq",
        )
        .bind(partner.as_str())
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete_user(&self, partner: &PartnerId, user: &UserId) -> Result<DeleteUserOutcome> {
        let mut tx = self.begin_write().await?;
        // A no-op update locks the partner's row (PostgreSQL; SQLite has one writer), so
        // two removals at once are decided one after the other and cannot both see the
        // other's user still there.
        let locked = query("UPDATE partners SET name = name WHERE id = $1")
            .bind(partner.as_str())
            .execute(&mut tx)
            .await?
            .rows_affected();
        if locked == 0 {
            return Ok(DeleteUserOutcome::NotFound);
        }
        let row = query(
            "SELECT id, partner_id, email, created_at, disabled_at FROM users WHERE partner_id = $1 AND id = $2",
        )
        .bind(partner.as_str())
        .bind(user.as_str())
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            return Ok(DeleteUserOutcome::NotFound);
        };
        let found = user_from_row(&row)?;
        let others: i64 = query_scalar(
            "SELECT COUNT(*) FROM users WHERE partner_id = $1 AND id <> $2 AND disabled_at IS NULL",
        )
        .bind(partner.as_str())
        .bind(user.as_str())
        .fetch_one(&mut tx)
        .await?;
        if others == 0 {
            return Ok(DeleteUserOutcome::LastUser);
        }
        // Sessions first: they refer to the user.
        query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut tx)
            .await?;
        query("DELETE FROM users WHERE partner_id = $1 AND id = $2")
            .bind(partner.as_str())
            .bind(user.as_str())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteUserOutcome::Deleted(found))
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user: &User,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query(
            "INSERT INTO sessions (token_hash, user_id, partner_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user.id.as_str())
        .bind(user.partner_id.as_str())
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>> {
        let row = query(concat!(
            "SELECT u.id AS user_id, u.partner_id AS user_partner_id, u.email, u.created_at AS user_created_at, \
             u.disabled_at, s.expires_at AS session_expires_at, ", crate::columns::partner_cols!("p."), " \
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN partners p ON p.id = s.partner_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL AND u.partner_id = s.partner_id"
        ))
        .bind(token_hash)
        .bind(to_micros(now))
        .fetch_optional(&mut self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user: User {
                id: UserId::from_trusted(row.try_get("user_id")?),
                partner_id: PartnerId::from_trusted(row.try_get("user_partner_id")?),
                email: row.try_get("email")?,
                created_at: from_micros(row.try_get("user_created_at")?),
                disabled_at: time_opt(row.try_get("disabled_at")?),
            },
            partner: partner_from_row(&row)?,
            expires_at: from_micros(row.try_get("session_expires_at")?),
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

pub(crate) fn user_from_row(row: &Row) -> Result<User> {
    Ok(User {
        id: UserId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        email: row.try_get("email")?,
        created_at: from_micros(row.try_get("created_at")?),
        disabled_at: time_opt(row.try_get("disabled_at")?),
    })
}

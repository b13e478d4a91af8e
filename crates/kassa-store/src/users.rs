//! Dashboard users, their roles, and their sessions. (Failed sign-ins are counted by
//! `limits.rs`; two-factor sign-in and the sign-ins waiting for it are `two_factor.rs`.)

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::{PartnerId, UserId};
use kassa_core::role::Role;
use kassa_core::secret::Secret;
use time::OffsetDateTime;

use crate::audit::{append, append_for_user};
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::partners::*;
use crate::Result;

/// A user's columns as [`user_from_row`] reads them, for a table aliased `u`; each is named
/// `user_…`, so a row may also carry a partner's columns.
macro_rules! user_cols {
    () => {
        "u.id AS user_id, u.partner_id AS user_partner_id, u.email AS user_email, \
         u.created_at AS user_created_at, u.disabled_at AS user_disabled_at, u.role AS user_role, \
         (u.totp_secret IS NOT NULL) AS user_two_factor"
    };
}
pub(crate) use user_cols;

/// A session is touched (its `last_seen_at` written) at most this often.
pub const SESSION_TOUCH_INTERVAL: time::Duration = time::Duration::minutes(1);

#[async_trait]
pub trait UserStore {
    /// Taken("email") when the email already has a user in the same partner (another partner's
    /// users do not count, and are not revealed).
    async fn create_user(&self, new: &NewUser, by: &Caller) -> Result<()>;
    /// Every user (even disabled) with this lowercased email, across partners, with their
    /// password hashes: sign-in checks the password against each.
    async fn users_by_email(&self, email: &str) -> Result<Vec<(User, Secret<String>)>>;
    /// The partner's user with this lowercased email, if any.
    async fn user_by_email(&self, partner: &PartnerId, email: &str) -> Result<Option<User>>;
    async fn set_password(
        &self,
        user: &UserId,
        password_hash: &Secret<String>,
        by: &Caller,
    ) -> Result<bool>;
    /// The partner's users, oldest first.
    async fn list_users(&self, partner: &PartnerId) -> Result<Vec<User>>;
    /// Deletes one of the partner's users and signs out their sessions, in one transaction —
    /// unless no other enabled owner of the partner would remain (checked under a lock on the
    /// partner, so two removals at once cannot both pass).
    async fn delete_user(
        &self,
        partner: &PartnerId,
        user: &UserId,
        by: &Caller,
    ) -> Result<DeleteUserOutcome>;
    /// Gives one of the partner's users another role — unless that demotes the partner's last
    /// enabled owner (under the same lock as [`UserStore::delete_user`]).
    async fn set_user_role(
        &self,
        partner: &PartnerId,
        user: &UserId,
        role: Role,
        by: &Caller,
    ) -> Result<SetRoleOutcome>;
    async fn create_session(
        &self,
        token_hash: &str,
        user: &User,
        expires_at: OffsetDateTime,
        by: &Caller,
    ) -> Result<()>;
    /// The live session with this token hash, its user enabled, last used after `idle_cutoff`;
    /// None otherwise.
    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
    ) -> Result<Option<SessionRecord>>;
    /// Records that the session was used at `now`, if it was last touched more than
    /// [`SESSION_TOUCH_INTERVAL`] before (a conditional update; nothing is written otherwise).
    async fn touch_session(&self, token_hash: &str, now: OffsetDateTime) -> Result<()>;
    /// Ends the session (a sign-out, recorded in the audit log when there was one).
    async fn delete_session(&self, token_hash: &str, by: &Caller) -> Result<()>;
    /// Forgets expired and idle sessions and sign-ins left waiting for a second step; how many
    /// rows went.
    async fn purge_sessions(&self, now: OffsetDateTime, idle_cutoff: OffsetDateTime)
        -> Result<u64>;
}

#[async_trait]
impl<B: Backend> UserStore for B {
    async fn create_user(&self, new: &NewUser, by: &Caller) -> Result<()> {
        let u = &new.user;
        let mut tx = self.begin_write().await?;
        let res = query(
            "INSERT INTO users (id, partner_id, email, password_hash, created_at, role) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(u.id.as_str())
        .bind(u.partner_id.as_str())
        .bind(&u.email)
        .bind(new.password_hash.expose())
        .bind(to_micros(u.created_at))
        .bind(u.role.as_str())
        .execute(&mut tx)
        .await;
        match res {
            Ok(_) => {
                let entry = Entry::succeeded(Action::UserCreated, u.id.as_str())
                    .with_details(serde_json::json!({"email": u.email, "role": u.role.as_str()}));
                append(&mut tx, Some(&u.partner_id), by, &entry).await?;
                Ok(tx.commit().await?)
            }
            Err(e) if e.unique_violation().is_some() => Err(crate::StoreError::Taken("email")),
            Err(e) => Err(e),
        }
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<(User, Secret<String>)>> {
        let rows = query(concat!(
            "SELECT ",
            user_cols!(),
            ", u.password_hash FROM users u WHERE u.email = $1 ORDER BY u.seq"
        ))
        .bind(email)
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    user_from_row(row)?,
                    Secret::new(row.try_get("password_hash")?),
                ))
            })
            .collect()
    }

    async fn user_by_email(&self, partner: &PartnerId, email: &str) -> Result<Option<User>> {
        let row = query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users u WHERE u.partner_id = $1 AND u.email = $2"
        ))
        .bind(partner.as_str())
        .bind(email)
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_password(
        &self,
        user: &UserId,
        password_hash: &Secret<String>,
        by: &Caller,
    ) -> Result<bool> {
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
        if changed {
            let entry = Entry::succeeded(Action::UserPasswordChanged, user.as_str());
            append_for_user(&mut tx, user, by, &entry).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn list_users(&self, partner: &PartnerId) -> Result<Vec<User>> {
        let rows = query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users u WHERE u.partner_id = $1 ORDER BY u.seq"
        ))
        .bind(partner.as_str())
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete_user(
        &self,
        partner: &PartnerId,
        user: &UserId,
        by: &Caller,
    ) -> Result<DeleteUserOutcome> {
        let mut tx = self.begin_write().await?;
        let Some(found) = lock_partner_and_read_user(&mut tx, partner, user).await? else {
            return Ok(DeleteUserOutcome::NotFound);
        };
        if is_last_owner(&mut tx, &found).await? {
            return Ok(DeleteUserOutcome::LastOwner);
        }
        // What refers to the user first.
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM sign_in_pending WHERE user_id = $1",
            "DELETE FROM recovery_codes WHERE user_id = $1",
        ] {
            query(sql).bind(user.as_str()).execute(&mut tx).await?;
        }
        query("DELETE FROM users WHERE partner_id = $1 AND id = $2")
            .bind(partner.as_str())
            .bind(user.as_str())
            .execute(&mut tx)
            .await?;
        let entry = Entry::succeeded(Action::UserDeleted, user.as_str())
            .with_details(serde_json::json!({"email": found.email}));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(DeleteUserOutcome::Deleted(found))
    }

    async fn set_user_role(
        &self,
        partner: &PartnerId,
        user: &UserId,
        role: Role,
        by: &Caller,
    ) -> Result<SetRoleOutcome> {
        let mut tx = self.begin_write().await?;
        let Some(mut found) = lock_partner_and_read_user(&mut tx, partner, user).await? else {
            return Ok(SetRoleOutcome::NotFound);
        };
        if role != Role::Owner && is_last_owner(&mut tx, &found).await? {
            return Ok(SetRoleOutcome::LastOwner);
        }
        query("UPDATE users SET role = $3 WHERE partner_id = $1 AND id = $2")
            .bind(partner.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .execute(&mut tx)
            .await?;
        let entry = Entry::succeeded(Action::UserRoleChanged, user.as_str()).with_details(
            serde_json::json!({"before": {"role": found.role.as_str()}, "after": {"role": role.as_str()}}),
        );
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        found.role = role;
        Ok(SetRoleOutcome::Changed(found))
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user: &User,
        expires_at: OffsetDateTime,
        by: &Caller,
    ) -> Result<()> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        insert_session(&mut tx, token_hash, user, expires_at, now).await?;
        let entry = Entry::succeeded(Action::UserSignedIn, user.id.as_str());
        append(&mut tx, Some(&user.partner_id), by, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
    ) -> Result<Option<SessionRecord>> {
        let row = query(concat!(
            "SELECT ", user_cols!(), ", s.expires_at AS session_expires_at, s.last_seen_at, ",
            crate::columns::partner_cols!("p."), " \
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN partners p ON p.id = s.partner_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
             AND u.disabled_at IS NULL AND u.partner_id = s.partner_id"
        ))
        .bind(token_hash)
        .bind(to_micros(now))
        .bind(to_micros(idle_cutoff))
        .fetch_optional(&mut self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user: user_from_row(&row)?,
            partner: partner_from_row(&row)?,
            expires_at: from_micros(row.try_get("session_expires_at")?),
            last_seen_at: from_micros(row.try_get("last_seen_at")?),
        }))
    }

    async fn touch_session(&self, token_hash: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $3")
            .bind(token_hash)
            .bind(to_micros(now))
            .bind(to_micros(now - SESSION_TOUCH_INTERVAL))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str, by: &Caller) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let ended =
            query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id, partner_id")
                .bind(token_hash)
                .fetch_optional(&mut tx)
                .await?;
        if let Some(row) = ended {
            let user: String = row.try_get("user_id")?;
            let partner = PartnerId::from_trusted(row.try_get("partner_id")?);
            let entry = Entry::succeeded(Action::UserSignedOut, user);
            append(&mut tx, Some(&partner), by, &entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let sessions = query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(to_micros(now))
            .bind(to_micros(idle_cutoff))
            .execute(&mut tx)
            .await?
            .rows_affected();
        let pending = query("DELETE FROM sign_in_pending WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&mut tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(sessions + pending)
    }
}

pub(crate) async fn insert_session(
    conn: &mut dyn Conn,
    token_hash: &str,
    user: &User,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    query(
        "INSERT INTO sessions (token_hash, user_id, partner_id, created_at, expires_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(token_hash)
    .bind(user.id.as_str())
    .bind(user.partner_id.as_str())
    .bind(to_micros(now))
    .bind(to_micros(expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the partner's row (a no-op update: PostgreSQL locks it, SQLite has one writer), so
/// changes to its owners are decided one after the other and two at once cannot both see the
/// other's owner still there; then reads the user. None: no such partner or user.
async fn lock_partner_and_read_user(
    conn: &mut dyn Conn,
    partner: &PartnerId,
    user: &UserId,
) -> Result<Option<User>> {
    let locked = query("UPDATE partners SET name = name WHERE id = $1")
        .bind(partner.as_str())
        .execute(conn)
        .await?
        .rows_affected();
    if locked == 0 {
        return Ok(None);
    }
    let row = query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM users u WHERE u.partner_id = $1 AND u.id = $2"
    ))
    .bind(partner.as_str())
    .bind(user.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Whether `user` is an enabled owner and no other enabled owner of the partner remains.
async fn is_last_owner(conn: &mut dyn Conn, user: &User) -> Result<bool> {
    if user.role != Role::Owner || user.disabled_at.is_some() {
        return Ok(false);
    }
    let others: i64 = query_scalar(
        "SELECT COUNT(*) FROM users WHERE partner_id = $1 AND id <> $2 \
         AND disabled_at IS NULL AND role = 'owner'",
    )
    .bind(user.partner_id.as_str())
    .bind(user.id.as_str())
    .fetch_one(conn)
    .await?;
    Ok(others == 0)
}

/// Reads the columns of [`user_cols`].
pub(crate) fn user_from_row(row: &Row) -> Result<User> {
    let role: String = row.try_get("user_role")?;
    Ok(User {
        id: UserId::from_trusted(row.try_get("user_id")?),
        partner_id: PartnerId::from_trusted(row.try_get("user_partner_id")?),
        email: row.try_get("user_email")?,
        created_at: from_micros(row.try_get("user_created_at")?),
        disabled_at: time_opt(row.try_get("user_disabled_at")?),
        role: Role::parse(&role)
            .map_err(|_| crate::StoreError::Corrupt(format!("user role {role:?}")))?,
        two_factor: row.try_get("user_two_factor")?,
    })
}

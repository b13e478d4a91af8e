//! Two-factor sign-in (docs/api.md §9): a user's sealed TOTP secret and recovery-code hashes,
//! and the sign-ins waiting for their second step. A TOTP step and a recovery code are spent
//! by conditional updates, so two uses at once cannot both pass. (The codes themselves are
//! checked by `kassa_core::two_factor`; the secret is sealed and opened by the server's vault.)

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::to_micros;
use kassa_core::id::UserId;
use time::OffsetDateTime;

use crate::audit::{append, append_for_user};
use crate::db::{query, Backend, Conn, WriteTx as _};
use crate::model::*;
use crate::partners::partner_from_row;
use crate::users::{insert_session, user_cols, user_from_row};
use crate::Result;

#[async_trait]
pub trait TwoFactorStore {
    /// The user's sealed TOTP secret and last accepted step; None without two-factor sign-in.
    async fn totp_secret(&self, user: &UserId) -> Result<Option<SealedTotp>>;
    /// Turns two-factor sign-in on: stores the sealed secret, marks `confirmed_step` (the code
    /// that confirmed it) used, and replaces the recovery codes by these hashes. False when it
    /// is on already (or the user is gone); nothing changes then.
    async fn enable_two_factor(
        &self,
        user: &UserId,
        secret: &SealedTotp,
        confirmed_step: i64,
        recovery_code_hashes: &[String],
        by: &Caller,
    ) -> Result<bool>;
    /// Spends `factor` and turns two-factor sign-in off (forgetting the secret and the recovery
    /// codes), in one transaction. False when the factor was refused; nothing changes then.
    async fn disable_two_factor(
        &self,
        user: &UserId,
        factor: &SecondFactor,
        by: &Caller,
    ) -> Result<bool>;
    /// Records a sign-in whose password matched these users, waiting for its second step
    /// (a code, or a choice between partners) until `expires_at`.
    async fn create_pending_sign_in(
        &self,
        token_hash: &str,
        users: &[UserId],
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// The users (enabled) a live pending sign-in may become, with their partners.
    async fn pending_sign_in(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<PendingSignIn>>;
    /// Finishes a pending sign-in as `user`: spends `factor` (required when the user has
    /// two-factor sign-in), forgets the pending sign-in and makes the session, in one
    /// transaction. Nothing changes unless it is [`FinishSignIn::SignedIn`].
    async fn finish_sign_in(
        &self,
        token_hash: &str,
        user: &UserId,
        factor: Option<&SecondFactor>,
        session_hash: &str,
        session_expires_at: OffsetDateTime,
        by: &Caller,
    ) -> Result<FinishSignIn>;
    /// Forgets a pending sign-in (the person went back to the password form).
    async fn delete_pending_sign_in(&self, token_hash: &str) -> Result<()>;
}

#[async_trait]
impl<B: Backend> TwoFactorStore for B {
    async fn totp_secret(&self, user: &UserId) -> Result<Option<SealedTotp>> {
        let row = query(
            "SELECT totp_nonce, totp_secret, totp_last_step FROM users \
             WHERE id = $1 AND totp_secret IS NOT NULL",
        )
        .bind(user.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SealedTotp {
            nonce: row.try_get("totp_nonce")?,
            secret: row.try_get("totp_secret")?,
            last_step: row.try_get("totp_last_step")?,
        }))
    }

    async fn enable_two_factor(
        &self,
        user: &UserId,
        secret: &SealedTotp,
        confirmed_step: i64,
        recovery_code_hashes: &[String],
        by: &Caller,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let enabled = query(
            "UPDATE users SET totp_nonce = $2, totp_secret = $3, totp_last_step = $4 \
             WHERE id = $1 AND totp_secret IS NULL",
        )
        .bind(user.as_str())
        .bind(&secret.nonce)
        .bind(&secret.secret)
        .bind(confirmed_step)
        .execute(&mut tx)
        .await?
        .rows_affected()
            == 1;
        if !enabled {
            return Ok(false);
        }
        query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut tx)
            .await?;
        for hash in recovery_code_hashes {
            query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.as_str())
                .bind(hash)
                .execute(&mut tx)
                .await?;
        }
        let entry = Entry::succeeded(Action::UserTwoFactorEnabled, user.as_str());
        append_for_user(&mut tx, user, by, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn disable_two_factor(
        &self,
        user: &UserId,
        factor: &SecondFactor,
        by: &Caller,
    ) -> Result<bool> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        if !spend(&mut tx, user, factor, now).await? {
            return Ok(false);
        }
        query(
            "UPDATE users SET totp_nonce = NULL, totp_secret = NULL, totp_last_step = NULL \
             WHERE id = $1",
        )
        .bind(user.as_str())
        .execute(&mut tx)
        .await?;
        query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut tx)
            .await?;
        let entry = Entry::succeeded(Action::UserTwoFactorDisabled, user.as_str())
            .with_details(serde_json::json!({"secondFactor": factor_name(factor)}));
        append_for_user(&mut tx, user, by, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_pending_sign_in(
        &self,
        token_hash: &str,
        users: &[UserId],
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for user in users {
            query(
                "INSERT INTO sign_in_pending (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(token_hash)
            .bind(user.as_str())
            .bind(to_micros(expires_at))
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pending_sign_in(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<PendingSignIn>> {
        let rows = query(concat!(
            "SELECT ",
            user_cols!(),
            ", ",
            crate::columns::partner_cols!("p."),
            " FROM sign_in_pending s JOIN users u ON u.id = s.user_id \
             JOIN partners p ON p.id = u.partner_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL \
             ORDER BY p.name, u.seq"
        ))
        .bind(token_hash)
        .bind(to_micros(now))
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingSignIn {
                    user: user_from_row(row)?,
                    partner: partner_from_row(row)?,
                })
            })
            .collect()
    }

    async fn finish_sign_in(
        &self,
        token_hash: &str,
        user: &UserId,
        factor: Option<&SecondFactor>,
        session_hash: &str,
        session_expires_at: OffsetDateTime,
        by: &Caller,
    ) -> Result<FinishSignIn> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let row = query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM sign_in_pending s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.user_id = $2 AND s.expires_at > $3 \
             AND u.disabled_at IS NULL"
        ))
        .bind(token_hash)
        .bind(user.as_str())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            return Ok(FinishSignIn::NoPending);
        };
        let found = user_from_row(&row)?;
        let passed = match factor {
            None => !found.two_factor,
            Some(factor) => found.two_factor && spend(&mut tx, user, factor, now).await?,
        };
        if !passed {
            return Ok(FinishSignIn::FactorRefused);
        }
        query("DELETE FROM sign_in_pending WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut tx)
            .await?;
        insert_session(&mut tx, session_hash, &found, session_expires_at, now).await?;
        let entry = Entry::succeeded(Action::UserSignedIn, found.id.as_str())
            .with_details(serde_json::json!({"secondFactor": factor.map(factor_name)}));
        append(&mut tx, Some(&found.partner_id), by, &entry).await?;
        tx.commit().await?;
        Ok(FinishSignIn::SignedIn(found))
    }

    async fn delete_pending_sign_in(&self, token_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        query("DELETE FROM sign_in_pending WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Spends a second factor once: a TOTP step later than the last one used, or a recovery code
/// not used yet. Each is one conditional update, so of two uses at once only one passes.
async fn spend(
    conn: &mut dyn Conn,
    user: &UserId,
    factor: &SecondFactor,
    now: OffsetDateTime,
) -> Result<bool> {
    let spent = match factor {
        SecondFactor::Totp { step } => query(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_secret IS NOT NULL \
             AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(user.as_str())
        .bind(*step)
        .execute(conn)
        .await?
        .rows_affected(),
        SecondFactor::RecoveryCode { hash } => query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user.as_str())
        .bind(hash)
        .bind(to_micros(now))
        .execute(conn)
        .await?
        .rows_affected(),
    };
    Ok(spent == 1)
}

/// How the second step was passed, as the audit log names it.
fn factor_name(factor: &SecondFactor) -> &'static str {
    match factor {
        SecondFactor::Totp { .. } => "totp",
        SecondFactor::RecoveryCode { .. } => "recovery_code",
    }
}

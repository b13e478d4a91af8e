//! The vault's side of the store (docs/api.md §9): every secret sealed with the vault key, read
//! and written back as opaque bytes. The store never sees a key: sealing and opening are the
//! server's (`kassa_server::vault`), handed in as a [`Resealer`] or a closure, and applied here
//! inside one transaction.
//!
//! What is sealed, and where (a new kind of sealed secret is a new [`SealedKind`] and one more
//! table in [`VaultStore::rotate_vault_key`]):
//!
//! | kind | rows |
//! |---|---|
//! | card and account numbers | `vault_entries.nonce/ciphertext` |
//! | webhook signing secrets | `webhook_endpoints.secret_*` and `previous_secret_*` |
//! | TOTP secrets | `users.totp_nonce/totp_secret` |
//! | link secrets | `partners.link_secret_nonce/link_secret_ciphertext` |
//! | processor credentials | `processor_accounts.credentials_nonce/credentials_ciphertext` |
//! | the keys of the keyed hashes | `installation.hashing_keys_nonce/hashing_keys_ciphertext` |

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry, Outcome};
use kassa_core::clock::to_micros;
use kassa_core::id::PartnerId;
use serde_json::json;

use crate::audit::append;
use crate::db::{query, query_scalar, Backend, Batch, Conn, WriteTx as _};
use crate::webhooks::sealed;
use crate::{Result, SealedSecret, StoreError};

/// What a sealed secret is; with the partner and the row it tells the server what the secret
/// was bound to when it was sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A card or account number (`vault_entries`; the row is the entry's id).
    VaultEntry,
    /// A webhook endpoint's signing secret (the row is the endpoint's id).
    WebhookSecret,
    /// A webhook endpoint's previous signing secret, still signing after a rotation.
    PreviousWebhookSecret,
    /// A dashboard user's TOTP secret (the row is the user's id).
    TotpSecret,
    /// A partner's secret keys at a processor (the row is `{partner id}/{connector}`).
    ProcessorCredentials,
    /// A partner's link secret (the row is the partner's id).
    LinkSecret,
}

impl SealedKind {
    /// How errors and counts name it.
    pub fn as_str(self) -> &'static str {
        match self {
            SealedKind::VaultEntry => "vault entry",
            SealedKind::WebhookSecret => "webhook secret",
            SealedKind::PreviousWebhookSecret => "previous webhook secret",
            SealedKind::TotpSecret => "TOTP secret",
            SealedKind::LinkSecret => "link secret",
            SealedKind::ProcessorCredentials => "processor credentials",
        }
    }
}

/// One sealed secret as stored.
#[derive(Debug)]
pub struct SealedItem<'a> {
    pub kind: SealedKind,
    pub partner: &'a PartnerId,
    /// The id of the row that holds it.
    pub row: &'a str,
    pub sealed: &'a SealedSecret,
}

/// Opens a sealed secret with the current vault key and seals it again with the new one.
pub trait Resealer: Send + Sync {
    /// The secret sealed under the new key; None when it does not open with the current key
    /// (another key, or tampered data): the rotation then stops and changes nothing.
    fn reseal(&self, item: &SealedItem<'_>) -> Option<SealedSecret>;
}

/// A vault key rotation, as the server prepared it.
pub struct KeyRotation<'a> {
    /// The key check of the key everything is sealed with now; the rotation is refused when
    /// the database was first used with another key.
    pub current_key_check: &'a str,
    /// The key check of the new key, which from now on is the only key accepted.
    pub new_key_check: &'a str,
    /// The keys of the keyed hashes, sealed under the new key.
    pub hashing_keys: &'a SealedSecret,
    pub resealer: &'a dyn Resealer,
}

/// How many secrets a rotation sealed again, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    pub vault_entries: u64,
    /// Current and previous ones.
    pub webhook_secrets: u64,
    pub totp_secrets: u64,
    pub link_secrets: u64,
    pub processor_credentials: u64,
}

impl Resealed {
    /// The audit event's `reEncrypted` details.
    pub fn to_json(self) -> serde_json::Value {
        json!({
            "vaultEntries": self.vault_entries,
            "webhookSecrets": self.webhook_secrets,
            "totpSecrets": self.totp_secrets,
            "linkSecrets": self.link_secrets,
            "processorCredentials": self.processor_credentials,
        })
    }
}

/// Seals a link secret kept in clear (from before migration 0014) for its partner.
pub type SealLinkSecret<'a> = dyn Fn(&PartnerId, &str) -> SealedSecret + Send + Sync + 'a;

#[async_trait]
pub trait VaultStore {
    /// The keys of the keyed hashes, sealed under the vault key; None before the first rotation
    /// (they are then derived from the vault key).
    async fn vault_hashing_keys(&self) -> Result<Option<SealedSecret>>;
    /// Seals every link secret still stored in clear and empties its clear column, in one
    /// transaction; how many. Running it again finds none.
    async fn seal_clear_link_secrets(&self, seal: &SealLinkSecret<'_>) -> Result<u64>;
    /// Seals every secret again under the new key, stores the new key check and the sealed
    /// hashing keys, and appends the `vault.key_rotated` audit event (the installation's chain)
    /// — all in one transaction. None, changing nothing, when the database's key check is not
    /// the current key's. A secret that does not open is [`StoreError::Corrupt`]: nothing
    /// changes either.
    async fn rotate_vault_key(
        &self,
        rotation: &KeyRotation<'_>,
        by: &Caller,
    ) -> Result<Option<Resealed>>;
}

/// Statements of one batch, so a large vault is written in bounded round trips.
const BATCH: usize = 200;

#[async_trait]
impl<B: Backend> VaultStore for B {
    async fn vault_hashing_keys(&self) -> Result<Option<SealedSecret>> {
        let row = query(
            "SELECT hashing_keys_nonce, hashing_keys_ciphertext FROM installation WHERE id = 1",
        )
        .fetch_optional(&mut self.reader())
        .await?;
        match row {
            Some(row) => sealed(&row, "hashing_keys_nonce", "hashing_keys_ciphertext"),
            None => Ok(None),
        }
    }

    async fn seal_clear_link_secrets(&self, seal: &SealLinkSecret<'_>) -> Result<u64> {
        let _forget = self.read_cache().forget_on_drop();
        let mut tx = self.begin_write().await?;
        let rows = query("SELECT id, link_secret FROM partners WHERE link_secret <> ''")
            .fetch_all(&mut tx)
            .await?;
        let mut updates = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = PartnerId::from_trusted(row.try_get("id")?);
            let clear: String = row.try_get("link_secret")?;
            let sealed = seal(&id, &clear);
            updates.push((id, sealed));
        }
        let count = updates.len() as u64;
        for chunk in updates.chunks(BATCH) {
            let mut batch = Batch::new();
            for (id, sealed) in chunk {
                batch
                    .push(
                        "UPDATE partners SET link_secret = '', link_secret_nonce = $2, \
                         link_secret_ciphertext = $3 WHERE id = $1",
                    )
                    .bind(id.as_str())
                    .bind(sealed.nonce.as_slice())
                    .bind(sealed.ciphertext.as_slice());
            }
            batch.execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(count)
    }

    async fn rotate_vault_key(
        &self,
        rotation: &KeyRotation<'_>,
        by: &Caller,
    ) -> Result<Option<Resealed>> {
        let _forget = self.read_cache().forget_on_drop();
        let mut tx = self.begin_write().await?;
        let stored: Option<String> =
            query_scalar("SELECT vault_key_check FROM installation WHERE id = 1")
                .fetch_optional(&mut tx)
                .await?;
        if stored.is_some_and(|s| s != rotation.current_key_check) {
            tx.rollback().await?;
            return Ok(None);
        }
        let reseal = rotation.resealer;
        let counts = Resealed {
            vault_entries: reseal_table(
                &mut tx,
                reseal,
                SealedKind::VaultEntry,
                "SELECT id, partner_id, nonce, ciphertext FROM vault_entries",
                "UPDATE vault_entries SET nonce = $2, ciphertext = $3 WHERE id = $1",
            )
            .await?,
            webhook_secrets: reseal_table(
                &mut tx,
                reseal,
                SealedKind::WebhookSecret,
                // A deleted endpoint's secrets were destroyed (emptied): nothing to seal.
                "SELECT id, partner_id, secret_nonce AS nonce, secret_ciphertext AS ciphertext \
                 FROM webhook_endpoints WHERE deleted_at IS NULL",
                "UPDATE webhook_endpoints SET secret_nonce = $2, secret_ciphertext = $3 \
                 WHERE id = $1",
            )
            .await?
                + reseal_table(
                    &mut tx,
                    reseal,
                    SealedKind::PreviousWebhookSecret,
                    "SELECT id, partner_id, previous_secret_nonce AS nonce, \
                     previous_secret_ciphertext AS ciphertext FROM webhook_endpoints \
                     WHERE deleted_at IS NULL AND previous_secret_nonce IS NOT NULL",
                    "UPDATE webhook_endpoints SET previous_secret_nonce = $2, \
                     previous_secret_ciphertext = $3 WHERE id = $1",
                )
                .await?,
            totp_secrets: reseal_table(
                &mut tx,
                reseal,
                SealedKind::TotpSecret,
                "SELECT id, partner_id, totp_nonce AS nonce, totp_secret AS ciphertext \
                 FROM users WHERE totp_secret IS NOT NULL",
                "UPDATE users SET totp_nonce = $2, totp_secret = $3 WHERE id = $1",
            )
            .await?,
            link_secrets: reseal_table(
                &mut tx,
                reseal,
                SealedKind::LinkSecret,
                "SELECT id, id AS partner_id, link_secret_nonce AS nonce, \
                 link_secret_ciphertext AS ciphertext FROM partners \
                 WHERE link_secret_nonce IS NOT NULL",
                "UPDATE partners SET link_secret_nonce = $2, link_secret_ciphertext = $3 \
                 WHERE id = $1",
            )
            .await?,
            processor_credentials: reseal_table(
                &mut tx,
                reseal,
                SealedKind::ProcessorCredentials,
                "SELECT id, partner_id, credentials_nonce AS nonce, \
                 credentials_ciphertext AS ciphertext FROM processor_accounts",
                "UPDATE processor_accounts SET credentials_nonce = $2, \
                 credentials_ciphertext = $3 WHERE id = $1",
            )
            .await?,
        };
        query(
            "INSERT INTO installation (id, vault_key_check, hashing_keys_nonce, \
             hashing_keys_ciphertext, created_at) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET vault_key_check = excluded.vault_key_check, \
             hashing_keys_nonce = excluded.hashing_keys_nonce, \
             hashing_keys_ciphertext = excluded.hashing_keys_ciphertext",
        )
        .bind(rotation.new_key_check)
        .bind(rotation.hashing_keys.nonce.as_slice())
        .bind(rotation.hashing_keys.ciphertext.as_slice())
        .bind(to_micros(by.at))
        .execute(&mut tx)
        .await?;
        let entry = Entry {
            action: Action::VaultKeyRotated,
            outcome: Outcome::Succeeded,
            object_id: None,
            details: json!({"reEncrypted": counts.to_json()}),
        };
        append(&mut tx, None, by, &entry).await?;
        tx.commit().await?;
        Ok(Some(counts))
    }
}

/// Seals again every secret `select` finds (columns `id`, `partner_id`, `nonce`, `ciphertext`)
/// and writes it back with `update` (`$1` the id, `$2` the nonce, `$3` the ciphertext); how many.
async fn reseal_table(
    tx: &mut dyn Conn,
    resealer: &dyn Resealer,
    kind: SealedKind,
    select: &'static str,
    update: &'static str,
) -> Result<u64> {
    let rows = query(select).fetch_all(tx).await?;
    let mut resealed = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let partner = PartnerId::from_trusted(row.try_get("partner_id")?);
        let Some(secret) = sealed(row, "nonce", "ciphertext")? else {
            continue;
        };
        let item = SealedItem {
            kind,
            partner: &partner,
            row: &id,
            sealed: &secret,
        };
        let new = resealer.reseal(&item).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the {} of {id} does not open with the current vault key",
                kind.as_str()
            ))
        })?;
        resealed.push((id, new));
    }
    for chunk in resealed.chunks(BATCH) {
        let mut batch = Batch::new();
        for (id, new) in chunk {
            batch
                .push(update)
                .bind(id.as_str())
                .bind(new.nonce.as_slice())
                .bind(new.ciphertext.as_slice());
        }
        batch.execute(tx).await?;
    }
    Ok(resealed.len() as u64)
}

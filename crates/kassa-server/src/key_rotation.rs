//! Opening an installation's database with the vault key, and rotating that key (docs/api.md §9).
//!
//! [`load_vault`] is what every start does (`App::from_config`, and the CLI commands that seal or
//! open secrets): load the key, generating one only for a database that has never had one (a
//! missing key file beside a database that has sealed data is an error, never a new key), then
//! [`open_vault`]: refuse a key the database was not last used with (the key check), take the
//! hashing keys stored after a rotation, and seal the link secrets a database from before
//! migration 0014 still keeps in clear (once, in one transaction).
//!
//! [`rotate`] is `kassa vault rotate-key`: every secret opened with the current key and sealed
//! with the new one, the new key check and the hashing keys stored, and the audit event written,
//! in one store transaction (`VaultStore::rotate_vault_key`). The hashing keys themselves do
//! not change (see `vault.rs`), so fingerprints, request digests, limit keys and CSRF tokens
//! made before still match.

use kassa_core::audit::Caller;
use kassa_core::secret::Secret;
use kassa_store::{
    KeyRotation, Resealed, Resealer, SealedItem, SealedKind, SealedSecret, Store, StoreError,
};
use time::OffsetDateTime;

use crate::vault::{KeySource, Vault, VaultError, LINK_SECRET_OWNER};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the vault key ({0}) is not the key this database was last used with; the secrets stored \
         in it could not be read. Set KASSA_VAULT_KEY to that key (every instance sharing a \
         database needs the same one; after `kassa vault rotate-key`, the new one)"
    )]
    WrongKey(String),
    #[error(
        "the vault key file {0} is missing, and this database already holds secrets sealed with a \
         vault key. Kassa will not generate a new key: it would make the stored card and account \
         numbers, webhook secrets and link secrets unreadable. Restore the file from your backup, \
         or set KASSA_VAULT_KEY to the key"
    )]
    MissingKey(String),
    #[error(transparent)]
    Key(#[from] VaultError),
    #[error("the installation's hashing keys do not open with the vault key (tampered data)")]
    HashingKeys,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The vault key as every start loads it — `KASSA_VAULT_KEY`, else `data_dir/vault.key`, else a
/// new key written there when the database has never been opened with one — opened against the
/// database with [`open_vault`]; and where the key came from.
pub async fn load_vault(
    store: &dyn Store,
    configured: Option<&Secret<String>>,
    data_dir: &std::path::Path,
    now: OffsetDateTime,
) -> Result<(Vault, KeySource), OpenError> {
    let (vault, source) = match Vault::load(configured, data_dir)? {
        Some(found) => found,
        None if store.stored_vault_key_check().await?.is_some() => {
            let file = crate::vault::key_file(data_dir).display().to_string();
            return Err(OpenError::MissingKey(file));
        }
        None => Vault::generate(data_dir)?,
    };
    let vault = open_vault(store, vault, &source, now).await?;
    Ok((vault, source))
}

/// Checks `vault` against the database, takes its stored hashing keys, and seals any link
/// secret still kept in clear. The vault to run with.
pub async fn open_vault(
    store: &dyn Store,
    mut vault: Vault,
    source: &KeySource,
    now: OffsetDateTime,
) -> Result<Vault, OpenError> {
    if !store.check_vault_key(&vault.key_check(), now).await? {
        return Err(OpenError::WrongKey(match source {
            KeySource::Configured => "KASSA_VAULT_KEY".to_string(),
            KeySource::File(path) | KeySource::Generated(path) => path.clone(),
        }));
    }
    if let Some(sealed) = store.vault_hashing_keys().await? {
        vault
            .adopt_hashing_keys(&sealed)
            .map_err(|_| OpenError::HashingKeys)?;
    }
    let sealed = store
        .seal_clear_link_secrets(&|partner, clear| vault.seal_link_secret(partner, clear))
        .await?;
    if sealed > 0 {
        tracing::info!(
            partners = sealed,
            "sealed the link secrets kept in clear with the vault key"
        );
    }
    Ok(vault)
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("the new vault key is the current one")]
    SameKey,
    #[error(
        "the current vault key is not the key this database was last used with; nothing changed"
    )]
    WrongCurrentKey,
    #[error("the installation's hashing keys do not open with the current vault key")]
    HashingKeys,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seals every secret again under `new_master`, in one transaction with the new key check and
/// the audit event; how many of each kind. `current` is the vault loaded as usual (its hashing
/// keys are read again from the database here, so it need not have been opened).
pub async fn rotate(
    store: &dyn Store,
    current: &Vault,
    new_master: &Secret<[u8; 32]>,
    by: &Caller,
) -> Result<Resealed, RotateError> {
    let stored = store.vault_hashing_keys().await?;
    let new = current
        .rotated_to(new_master.expose(), stored.as_ref())
        .map_err(|_: VaultError| RotateError::HashingKeys)?;
    if new.key_check() == current.key_check() {
        return Err(RotateError::SameKey);
    }
    let hashing_keys = new.sealed_hashing_keys();
    let (current_check, new_check) = (current.key_check(), new.key_check());
    let rotation = KeyRotation {
        current_key_check: &current_check,
        new_key_check: &new_check,
        hashing_keys: &hashing_keys,
        resealer: &Reseal {
            from: current,
            to: &new,
        },
    };
    store
        .rotate_vault_key(&rotation, by)
        .await?
        .ok_or(RotateError::WrongCurrentKey)
}

/// Opens with one vault, seals with the other, bound to the same partner and owner.
struct Reseal<'a> {
    from: &'a Vault,
    to: &'a Vault,
}

impl Resealer for Reseal<'_> {
    fn reseal(&self, item: &SealedItem<'_>) -> Option<SealedSecret> {
        let owner = sealed_owner(item.kind, item.row);
        let clear = self
            .from
            .open_for(
                item.partner,
                &owner,
                &item.sealed.nonce,
                &item.sealed.ciphertext,
            )
            .ok()?;
        let (nonce, ciphertext) = self.to.seal_for(item.partner, &owner, clear.expose());
        Some(SealedSecret { nonce, ciphertext })
    }
}

/// What each kind of secret was bound to (with its partner) when it was sealed.
fn sealed_owner(kind: SealedKind, row: &str) -> String {
    match kind {
        // Vault entries and webhook secrets are bound to their own row's id.
        SealedKind::VaultEntry
        | SealedKind::WebhookSecret
        | SealedKind::PreviousWebhookSecret
        | SealedKind::ProcessorCredentials => row.to_string(),
        SealedKind::TotpSecret => crate::two_factor::stored_owner_of(row),
        SealedKind::LinkSecret => LINK_SECRET_OWNER.to_string(),
    }
}

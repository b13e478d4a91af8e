//! Opening the configured database for a command (its data directory private first; with the
//! vault key, for the commands that need it), and showing its URL without the password.

use std::sync::Arc;

use anyhow::Context;
use kassa_core::clock::{Clock, SystemClock};
use kassa_server::config::Config;
use kassa_server::key_rotation::open_vault;
use kassa_server::vault::{KeySource, Vault};

/// The store of the configured database (migrated on connect).
pub async fn connect(config: &Config) -> anyhow::Result<Arc<dyn kassa_store::Store>> {
    kassa_server::data_dir::prepare(config).with_context(|| {
        format!(
            "cannot prepare the data directory {}",
            config.data_dir.display()
        )
    })?;
    kassa_store::connect(
        &config.database_url(),
        &kassa_store::ConnectOptions::default(),
    )
    .await
    .with_context(|| {
        format!(
            "cannot open the database {}",
            redact_url(&config.database_url())
        )
    })
}

/// The store and the vault key, loaded as `kassa serve` loads it (`KASSA_VAULT_KEY`, else
/// `dataDir/vault.key`) and opened against the database (a key it was not last used with is
/// refused), for the commands that seal or open secrets; and where the key came from.
pub async fn connect_with_vault(
    config: &Config,
) -> anyhow::Result<(Arc<dyn kassa_store::Store>, Vault, KeySource)> {
    let store = connect(config).await?;
    let (vault, source) = Vault::load_or_create(config.vault_key.as_ref(), &config.data_dir)?;
    let vault = open_vault(store.as_ref(), vault, &source, SystemClock.now()).await?;
    Ok((store, vault, source))
}

/// The URL without a password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_its_credentials() {
        assert_eq!(
            redact_url("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://***@127.0.0.1:5432/db"
        );
        assert_eq!(
            redact_url("sqlite://kassa-data/kassa.db"),
            "sqlite://kassa-data/kassa.db"
        );
    }
}

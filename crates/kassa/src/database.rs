//! Opening the configured database for a command (its data directory private first), and showing
//! its URL without the password.

use std::sync::Arc;

use anyhow::Context;
use kassa_server::config::Config;

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

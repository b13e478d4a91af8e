//! Kassa's data directory (`dataDir`: the default SQLite database and a generated vault key)
//! is the owner's alone on Unix: created 0700, and tightened to 0700, with a warning, when it
//! was left open to others. `kassa serve` and every CLI command that opens the database prepare
//! it first; the database's own files are made private by the store, the vault key by `vault.rs`.

use std::io;
use std::path::Path;

use crate::config::Config;

/// Creates or tightens the data directory, when this configuration keeps anything in it (the
/// default SQLite database, or a vault key file when `KASSA_VAULT_KEY` is unset).
pub fn prepare(config: &Config) -> io::Result<()> {
    if config.database_url.is_some() && config.vault_key.is_some() {
        return Ok(());
    }
    create_private(&config.data_dir)
}

/// `dir` (and any missing parents) created 0700, or tightened to it.
pub fn create_private(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
            tracing::warn!(
                path = %dir.display(),
                was = format!("{mode:o}"),
                "the data directory was open to other users; tightened it to 700"
            );
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// `file` tightened to 0600 (with a warning) if others may read it.
pub fn tighten_file(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o600))?;
            tracing::warn!(
                path = %file.display(),
                was = format!("{mode:o}"),
                "a private file was readable by other users; tightened it to 600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_data_directory_is_created_or_tightened_to_700() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("kassa-data");
        let config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        prepare(&config).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&config).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn an_unused_data_directory_is_not_made() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("kassa-data");
        let config = Config {
            data_dir: dir.clone(),
            database_url: Some("postgres://db/kassa".into()),
            vault_key: Some(kassa_core::secret::Secret::new("00".repeat(32))),
            ..Config::default()
        };
        prepare(&config).unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn files_are_tightened_to_600() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("vault.key");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        tighten_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }
}

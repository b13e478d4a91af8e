//! `kassa vault rotate-key --new-key-stdin` (docs/api.md §9): seals every secret again under a
//! new vault key, in one transaction with its audit event (`kassa_server::key_rotation`), then
//! says what the operator must do next. The new key is read from standard input, never from the
//! command line, and no key is ever printed or logged.

use std::io::Read;

use anyhow::{bail, Context};
use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_core::secret::Secret;
use kassa_server::config::Config;
use kassa_server::key_rotation::{open_vault, rotate};
use kassa_server::vault::{parse_key, replace_key_file, KeySource, Vault};

use crate::database::connect;

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Seal every secret (card and account numbers, webhook, TOTP and link secrets) again under
    /// a new vault key, in one transaction. Stop every Kassa instance first; afterwards they
    /// need the new key, and the old one is refused.
    RotateKey {
        /// Read the new key from standard input: 64 hexadecimal characters, as KASSA_VAULT_KEY
        /// takes it (`openssl rand -hex 32`).
        #[arg(long, required = true)]
        new_key_stdin: bool,
    },
}

pub async fn run(command: VaultCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    let VaultCommand::RotateKey { new_key_stdin } = command;
    debug_assert!(new_key_stdin, "clap requires --new-key-stdin");
    // Everything about the new key is checked before anything is opened or changed.
    let new_key = read_new_key(std::io::stdin().lock())?;
    let Some((current, source)) = Vault::load(config.vault_key.as_ref(), &config.data_dir)? else {
        bail!(
            "no current vault key: KASSA_VAULT_KEY is not set and there is no {}",
            kassa_server::vault::key_file(&config.data_dir).display()
        );
    };
    if Vault::new(new_key.expose()).key_check() == current.key_check() {
        bail!("the new vault key is the current one: nothing changed");
    }
    let store = connect(config).await?;
    let current = open_vault(store.as_ref(), current, &source, by.at).await?;
    let counts = rotate(store.as_ref(), &current, &new_key, by).await?;
    println!(
        "re-encrypted under the new vault key: {} card and account numbers, {} webhook secrets, \
         {} TOTP secrets, {} link secrets (audit event vault.key_rotated)",
        counts.vault_entries, counts.webhook_secrets, counts.totp_secrets, counts.link_secrets
    );
    match &source {
        KeySource::Configured => println!(
            "next: set KASSA_VAULT_KEY to the new key for every Kassa instance and command, and \
             start them again; the old key is refused from now on"
        ),
        KeySource::File(path) | KeySource::Generated(path) => {
            replace_key_file(std::path::Path::new(path), new_key.expose()).with_context(|| {
                format!(
                    "the database now needs the new key, but it could not be written to {path}: \
                     put the new key there yourself (mode 0600) before starting Kassa"
                )
            })?;
            println!(
                "wrote the new key to {path} (mode 0600); start Kassa again. Keep a copy of the \
                 new key: the old one is refused from now on"
            );
        }
    }
    Ok(())
}

/// The new key from `input`: 64 hexadecimal characters, surrounding whitespace ignored. The
/// error never repeats what was read.
fn read_new_key(input: impl Read) -> anyhow::Result<Secret<[u8; 32]>> {
    let mut text = String::new();
    input
        .take(4096)
        .read_to_string(&mut text)
        .context("cannot read the new vault key from standard input")?;
    let text = Secret::new(text);
    let trimmed = text.expose().trim();
    if trimmed.is_empty() {
        bail!("no new vault key on standard input (64 hexadecimal characters)");
    }
    parse_key(trimmed).map(Secret::new).map_err(|_| {
        anyhow::anyhow!(
            "the new vault key must be 64 hexadecimal characters (32 bytes), as KASSA_VAULT_KEY \
             takes it; nothing changed"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_key_is_64_hex_characters() {
        let key = "ab".repeat(32);
        let read = read_new_key(format!("{key}\n").as_bytes()).unwrap();
        assert_eq!(read.expose(), &[0xab; 32]);
        for bad in [
            "",
            "\n",
            "abc",
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            let err = read_new_key(bad.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("64 hexadecimal"), "{bad:?}: {err}");
            if !bad.trim().is_empty() {
                assert!(
                    !err.contains(bad.trim()),
                    "the error repeats the input: {err}"
                );
            }
        }
    }
}

//! The vault: secrets sealed with AES-256-GCM under `KASSA_VAULT_KEY` (card and account numbers,
//! webhook signing secrets, TOTP secrets, link secrets), plus the keyed hashes (fingerprints,
//! request digests and limit keys, CSRF tokens, the MAC of challenge mode's proof-of-work
//! challenges).
//!
//! Two kinds of key, so the master key can be rotated (`key_rotation.rs`):
//! - the **encryption key** and the **key check** are derived from the master key, and change
//!   with it: a rotation seals every secret again, and the old key is refused afterwards;
//! - the **hashing keys** never change. A new installation derives them from its first master
//!   key; the first rotation stores them sealed under the new master key
//!   (`installation.hashing_keys_*`), and every later start opens them from there
//!   ([`Vault::adopt_hashing_keys`]). So a card stored before a rotation is still recognised by
//!   its fingerprint, an idempotency key still matches its request, a limit still counts the same
//!   client, and a form's CSRF token still holds.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use kassa_core::id::{PartnerId, VaultEntryId};
use kassa_core::secret::Secret;
use kassa_store::{NewVaultEntry, Partner, SealedSecret};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub struct Vault {
    cipher: Aes256Gcm,
    hashing: HashingKeys,
    /// Names the master key without revealing it, to detect a database used with another key.
    key_check: String,
}

/// The keys of the keyed hashes: the same for the life of an installation, whatever master key
/// seals them.
#[derive(Clone, PartialEq, Eq)]
struct HashingKeys {
    fingerprint: Secret<[u8; 32]>,
    csrf: Secret<[u8; 32]>,
    digest: Secret<[u8; 32]>,
    challenge: Secret<[u8; 32]>,
}

impl HashingKeys {
    /// As a new installation derives them from its master key, by HMAC with distinct labels.
    fn derive(master: &[u8; 32]) -> Self {
        Self {
            fingerprint: Secret::new(hmac(master, &[b"kassa fingerprint v1"])),
            csrf: Secret::new(hmac(master, &[b"kassa csrf v1"])),
            digest: Secret::new(hmac(master, &[b"kassa request digest v1"])),
            challenge: Secret::new(hmac(master, &[b"kassa proof of work challenge v1"])),
        }
    }

    /// The four keys one after the other, to be sealed.
    fn to_bytes(&self) -> Secret<Vec<u8>> {
        let mut out = Vec::with_capacity(128);
        for key in [&self.fingerprint, &self.csrf, &self.digest, &self.challenge] {
            out.extend_from_slice(key.expose());
        }
        Secret::new(out)
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 128 {
            return None;
        }
        let key = |i: usize| -> Secret<[u8; 32]> {
            Secret::new(bytes[i * 32..(i + 1) * 32].try_into().expect("32 bytes"))
        };
        Some(Self {
            fingerprint: key(0),
            csrf: key(1),
            digest: key(2),
            challenge: key(3),
        })
    }
}

/// What the hashing keys are bound to when sealed (no partner: they are the installation's).
const HASHING_KEYS_AAD: &str = "installation/hashing-keys";

/// What a partner's link secret is bound to when sealed (with the partner).
pub const LINK_SECRET_OWNER: &str = "link-secret";

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("KASSA_VAULT_KEY must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("cannot read or write the vault key file {0}: {1}")]
    KeyFile(String, std::io::Error),
    #[error("a vault entry could not be decrypted (wrong key or tampered data)")]
    Decrypt,
}

/// Where a vault key file is kept when `KASSA_VAULT_KEY` is not set, as an absolute path (so
/// messages say where it is whatever directory a command runs in).
pub fn key_file(data_dir: &Path) -> std::path::PathBuf {
    let file = data_dir.join("vault.key");
    std::path::absolute(&file).unwrap_or(file)
}

/// Where the master key came from, so the binary can warn about a generated one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    File(String),
    Generated(String),
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl Vault {
    /// Subkeys are derived from the master key by HMAC with distinct labels, so no key does two
    /// jobs. The hashing keys are the ones of an installation never rotated; after a rotation
    /// [`Vault::adopt_hashing_keys`] replaces them by the stored ones.
    pub fn new(master: &[u8; 32]) -> Self {
        Self::with_hashing(master, HashingKeys::derive(master))
    }

    fn with_hashing(master: &[u8; 32], hashing: HashingKeys) -> Self {
        let enc = hmac(master, &[b"kassa vault encryption v1"]);
        Self {
            cipher: Aes256Gcm::new_from_slice(&enc).expect("32-byte key"),
            hashing,
            key_check: hex::encode(hmac(master, &[b"kassa key check v1"])),
        }
    }

    /// Takes the hashing keys the installation stores sealed under this master key (after a
    /// rotation); fails, changing nothing, when they do not open with it.
    pub fn adopt_hashing_keys(&mut self, sealed: &SealedSecret) -> Result<(), VaultError> {
        self.hashing = self.open_hashing_keys(sealed)?;
        Ok(())
    }

    fn open_hashing_keys(&self, sealed: &SealedSecret) -> Result<HashingKeys, VaultError> {
        let opened = self.open_aad(HASHING_KEYS_AAD, &sealed.nonce, &sealed.ciphertext)?;
        HashingKeys::from_bytes(opened.expose()).ok_or(VaultError::Decrypt)
    }

    /// The vault of `new_master` with this vault's hashing keys — or, when given, the stored
    /// ones, opened with this vault: what a rotation seals everything with.
    pub fn rotated_to(
        &self,
        new_master: &[u8; 32],
        stored_hashing_keys: Option<&SealedSecret>,
    ) -> Result<Vault, VaultError> {
        let hashing = match stored_hashing_keys {
            Some(sealed) => self.open_hashing_keys(sealed)?,
            None => self.hashing.clone(),
        };
        Ok(Vault::with_hashing(new_master, hashing))
    }

    /// The hashing keys sealed under this vault's master key, for the installation to keep.
    pub fn sealed_hashing_keys(&self) -> SealedSecret {
        let (nonce, ciphertext) = self.seal_aad(HASHING_KEYS_AAD, self.hashing.to_bytes().expose());
        SealedSecret { nonce, ciphertext }
    }

    /// A partner's link secret sealed for storage.
    pub fn seal_link_secret(&self, partner: &PartnerId, secret: &str) -> SealedSecret {
        let (nonce, ciphertext) = self.seal_for(partner, LINK_SECRET_OWNER, secret.as_bytes());
        SealedSecret { nonce, ciphertext }
    }

    /// The partner's link secret, to sign or check a creation link with.
    pub fn open_link_secret(&self, partner: &Partner) -> Result<Secret<String>, VaultError> {
        let s = &partner.link_secret;
        let opened = self.open_for(&partner.id, LINK_SECRET_OWNER, &s.nonce, &s.ciphertext)?;
        String::from_utf8(opened.expose().clone())
            .map(Secret::new)
            .map_err(|_| VaultError::Decrypt)
    }

    /// The configured key, else the one kept in `data_dir/vault.key` (tightened to 0600 if
    /// others could read it); None when neither is there (only a database that holds nothing
    /// sealed may then get a new key: see `key_rotation::load_vault`).
    pub fn load(
        configured: Option<&Secret<String>>,
        data_dir: &Path,
    ) -> Result<Option<(Self, KeySource)>, VaultError> {
        let found = Self::read(configured, data_dir)?;
        if let Some((_, KeySource::File(shown))) = &found {
            crate::data_dir::tighten_file(Path::new(shown))
                .map_err(|e| VaultError::KeyFile(shown.clone(), e))?;
        }
        Ok(found)
    }

    /// As [`Vault::load`], changing nothing (`kassa doctor` reports the file's mode as found).
    pub fn read(
        configured: Option<&Secret<String>>,
        data_dir: &Path,
    ) -> Result<Option<(Self, KeySource)>, VaultError> {
        if let Some(key) = configured {
            return Ok(Some((
                Self::new(&parse_key(key.expose())?),
                KeySource::Configured,
            )));
        }
        let path = key_file(data_dir);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some((
                Self::new(&parse_key(text.trim())?),
                KeySource::File(shown),
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(VaultError::KeyFile(shown, e)),
        }
    }

    /// A new random key, written to `data_dir/vault.key` (the directory 0700, the file 0600).
    pub fn generate(data_dir: &Path) -> Result<(Self, KeySource), VaultError> {
        let path = key_file(data_dir);
        let shown = path.display().to_string();
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        crate::data_dir::create_private(data_dir)
            .map_err(|e| VaultError::KeyFile(shown.clone(), e))?;
        write_private(&path, &hex::encode(key))
            .map_err(|e| VaultError::KeyFile(shown.clone(), e))?;
        Ok((Self::new(&key), KeySource::Generated(shown)))
    }

    pub fn key_check(&self) -> String {
        self.key_check.clone()
    }

    /// Encrypts `plaintext` for one vault row; the partner and entry id are bound in as associated
    /// data, so a ciphertext copied to another row or partner does not decrypt.
    pub fn seal(&self, partner: &PartnerId, id: VaultEntryId, plaintext: &[u8]) -> NewVaultEntry {
        let (nonce, ciphertext) = self.seal_for(partner, id.as_str(), plaintext);
        NewVaultEntry {
            id,
            nonce,
            ciphertext,
        }
    }

    pub fn open(
        &self,
        partner: &PartnerId,
        id: &VaultEntryId,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret<Vec<u8>>, VaultError> {
        self.open_for(partner, id.as_str(), nonce, ciphertext)
    }

    /// Encrypts `plaintext` for what `owner` names (a row id) of the partner, both bound in as
    /// associated data; (nonce, ciphertext).
    pub fn seal_for(
        &self,
        partner: &PartnerId,
        owner: &str,
        plaintext: &[u8],
    ) -> (Vec<u8>, Vec<u8>) {
        self.seal_aad(&format!("{partner}/{owner}"), plaintext)
    }

    fn seal_aad(&self, aad: &str, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory data");
        (nonce.to_vec(), ciphertext)
    }

    /// Decrypts what [`Vault::seal_for`] sealed for the same partner and owner.
    pub fn open_for(
        &self,
        partner: &PartnerId,
        owner: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret<Vec<u8>>, VaultError> {
        self.open_aad(&format!("{partner}/{owner}"), nonce, ciphertext)
    }

    fn open_aad(
        &self,
        aad: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret<Vec<u8>>, VaultError> {
        if nonce.len() != 12 {
            return Err(VaultError::Decrypt);
        }
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map(Secret::new)
            .map_err(|_| VaultError::Decrypt)
    }

    /// Recognises the same card or account across payments of one partner without storing it.
    pub fn fingerprint(&self, partner: &PartnerId, kind: &str, number: &str) -> String {
        let mac = hmac(
            self.hashing.fingerprint.expose(),
            &[
                partner.as_str().as_bytes(),
                b"/",
                kind.as_bytes(),
                b"/",
                number.as_bytes(),
            ],
        );
        hex::encode(&mac[..16])
    }

    /// A keyed digest of a request (for idempotency keys): it recognises a repeated body without
    /// storing anything from which a card number in it could be guessed back.
    pub fn request_digest(&self, parts: &[&[u8]]) -> String {
        hex::encode(hmac(self.hashing.digest.expose(), parts))
    }

    /// The key an abuse-limit counter is kept under: `limit:` and a keyed digest of what it
    /// counts (a client IP, an email, a card number), the same for every partner, so a card is
    /// recognised across partners and nothing counted is stored in the clear.
    pub fn limit_key(&self, limit: &str, thing: &str) -> String {
        let mac = hmac(
            self.hashing.digest.expose(),
            &[b"limit/", limit.as_bytes(), b"/", thing.as_bytes()],
        );
        format!("{limit}:{}", hex::encode(&mac[..16]))
    }

    /// A form token bound to the browser's CSRF cookie and to what the form acts on.
    pub fn csrf_token(&self, cookie: &str, scope: &str) -> String {
        hex::encode(hmac(
            self.hashing.csrf.expose(),
            &[cookie.as_bytes(), b"|", scope.as_bytes()],
        ))
    }

    pub fn csrf_valid(&self, cookie: &str, scope: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.csrf_token(cookie, scope);
        expected.as_bytes().ct_eq(token.as_bytes()).into()
    }

    /// The MAC of a proof-of-work challenge's text (`kassa_core::proof_of_work`): hex of 16
    /// bytes, [`kassa_core::proof_of_work::MAC_LEN`] characters.
    pub fn challenge_mac(&self, body: &str) -> String {
        hex::encode(&hmac(self.hashing.challenge.expose(), &[body.as_bytes()])[..16])
    }

    pub fn challenge_mac_valid(&self, body: &str, mac: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.challenge_mac(body)
            .as_bytes()
            .ct_eq(mac.as_bytes())
            .into()
    }
}

/// A master key as `KASSA_VAULT_KEY` and `vault.key` give it: 64 hexadecimal characters.
pub fn parse_key(text: &str) -> Result<[u8; 32], VaultError> {
    let bytes = hex::decode(text).map_err(|_| VaultError::BadKey)?;
    bytes.try_into().map_err(|_| VaultError::BadKey)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Replaces the key in a key file (after a rotation): written beside it with mode 0600, made
/// durable, then renamed over it, so the file holds the old key or the new one, never half.
pub fn replace_key_file(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let fresh = path.with_extension("key.new");
    match std::fs::remove_file(&fresh) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    write_private(&fresh, &hex::encode(key))?;
    std::fs::rename(&fresh, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself is durable once the directory is.
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
    }
    Ok(())
}

/// API keys: `sk_` + 32 base62 characters. Only a SHA-256 hash is stored; the key carries 190
/// bits of randomness, so a fast hash is enough (a slow one is for guessable passwords).
pub fn new_api_key() -> Secret<String> {
    Secret::new(format!("sk_{}", kassa_core::id::random_base62(32)))
}

pub fn hash_api_key(key: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new partner's link secret: `lsk_` and 40 base62 characters.
pub fn new_link_secret() -> Secret<String> {
    Secret::new(format!("lsk_{}", kassa_core::id::random_base62(40)))
}

/// HMAC-SHA256 of `message` under a partner's link secret, lowercase hex.
pub fn link_signature(secret: &str, message: &str) -> String {
    hex::encode(hmac(secret.as_bytes(), &[message.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(&[7u8; 32])
    }

    #[test]
    fn sealed_entries_open_only_for_their_row() {
        let v = vault();
        let partner = PartnerId::generate();
        let id = VaultEntryId::generate();
        let entry = v.seal(&partner, id.clone(), b"4242424242424242");
        assert!(!entry.ciphertext.windows(4).any(|w| w == b"4242"));
        let opened = v
            .open(&partner, &id, &entry.nonce, &entry.ciphertext)
            .unwrap();
        assert_eq!(opened.expose().as_slice(), b"4242424242424242");
        assert!(v
            .open(&PartnerId::generate(), &id, &entry.nonce, &entry.ciphertext)
            .is_err());
        assert!(v
            .open(
                &partner,
                &VaultEntryId::generate(),
                &entry.nonce,
                &entry.ciphertext
            )
            .is_err());
        assert!(Vault::new(&[8u8; 32])
            .open(&partner, &id, &entry.nonce, &entry.ciphertext)
            .is_err());
    }

    #[test]
    fn fingerprints_are_stable_and_keyed() {
        let p = PartnerId::generate();
        assert_eq!(
            vault().fingerprint(&p, "card", "4242"),
            vault().fingerprint(&p, "card", "4242")
        );
        assert_ne!(
            vault().fingerprint(&p, "card", "4242"),
            Vault::new(&[1u8; 32]).fingerprint(&p, "card", "4242")
        );
    }

    #[test]
    fn csrf_tokens_bind_cookie_and_scope() {
        let v = vault();
        let t = v.csrf_token("cookie", "pr_1");
        assert!(v.csrf_valid("cookie", "pr_1", &t));
        assert!(!v.csrf_valid("other", "pr_1", &t));
        assert!(!v.csrf_valid("cookie", "pr_2", &t));
        assert!(!v.csrf_valid("cookie", "pr_1", ""));
    }

    #[test]
    fn challenge_macs_are_keyed_and_checked_whole() {
        let v = vault();
        let mac = v.challenge_mac("v1.18.pr_1.0.1.nonce");
        assert_eq!(mac.len(), kassa_core::proof_of_work::MAC_LEN);
        assert!(v.challenge_mac_valid("v1.18.pr_1.0.1.nonce", &mac));
        assert!(!v.challenge_mac_valid("v1.18.pr_2.0.1.nonce", &mac));
        assert!(!v.challenge_mac_valid("v1.18.pr_1.0.1.nonce", &mac[..31]));
        assert!(!Vault::new(&[8u8; 32]).challenge_mac_valid("v1.18.pr_1.0.1.nonce", &mac));
        assert_ne!(mac, &v.csrf_token("v1.18.pr_1.0.1.nonce", "")[..32]);
    }

    #[test]
    fn key_file_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Vault::load(None, dir.path()).unwrap().is_none());
        let (first, source) = Vault::generate(dir.path()).unwrap();
        assert!(matches!(source, KeySource::Generated(_)));
        let (second, source) = Vault::load(None, dir.path()).unwrap().unwrap();
        assert!(matches!(source, KeySource::File(_)));
        assert_eq!(first.key_check(), second.key_check());
        assert!(matches!(
            Vault::load(Some(&Secret::new("abc".into())), dir.path()),
            Err(VaultError::BadKey)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("kassa-data");
        Vault::generate(&dir).unwrap();
        let key = dir.join("vault.key");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&key), 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, source) = Vault::load(None, &dir).unwrap().unwrap();
        assert!(matches!(source, KeySource::File(_)));
        assert_eq!(mode(&key), 0o600, "tightened when read");
    }

    #[test]
    fn a_rotated_vault_keeps_its_hashes_and_changes_its_cipher() {
        let old = vault();
        let partner = PartnerId::generate();
        let new = old.rotated_to(&[9u8; 32], None).unwrap();
        assert_eq!(
            old.fingerprint(&partner, "card", "4242"),
            new.fingerprint(&partner, "card", "4242")
        );
        assert_eq!(old.csrf_token("c", "s"), new.csrf_token("c", "s"));
        assert_eq!(
            old.limit_key("ip", "1.2.3.4"),
            new.limit_key("ip", "1.2.3.4")
        );
        assert_ne!(old.key_check(), new.key_check());
        let (nonce, sealed) = old.seal_for(&partner, "x", b"secret");
        assert!(new.open_for(&partner, "x", &nonce, &sealed).is_err());
        // A later start on the new key adopts the stored hashing keys.
        let stored = new.sealed_hashing_keys();
        let mut restarted = Vault::new(&[9u8; 32]);
        assert_ne!(
            restarted.fingerprint(&partner, "card", "4242"),
            old.fingerprint(&partner, "card", "4242")
        );
        restarted.adopt_hashing_keys(&stored).unwrap();
        assert_eq!(
            restarted.fingerprint(&partner, "card", "4242"),
            old.fingerprint(&partner, "card", "4242")
        );
        assert_eq!(restarted.challenge_mac("body"), old.challenge_mac("body"));
        // A second rotation keeps them again, from the stored copy.
        let third = restarted.rotated_to(&[10u8; 32], Some(&stored)).unwrap();
        assert_eq!(third.request_digest(&[b"x"]), old.request_digest(&[b"x"]));
        // The old master key does not open them.
        assert!(vault().adopt_hashing_keys(&stored).is_err());
    }

    #[test]
    fn link_secrets_open_for_their_partner_only() {
        let v = vault();
        let id = PartnerId::generate();
        let sealed = v.seal_link_secret(&id, "lsk_abc");
        assert!(!sealed.ciphertext.windows(3).any(|w| w == b"abc"));
        let mut partner = crate_partner(id);
        partner.link_secret = sealed.clone();
        assert_eq!(v.open_link_secret(&partner).unwrap().expose(), "lsk_abc");
        partner.id = PartnerId::generate();
        assert!(v.open_link_secret(&partner).is_err());
        partner.link_secret = SealedSecret {
            nonce: Vec::new(),
            ciphertext: Vec::new(),
        };
        assert!(v.open_link_secret(&partner).is_err());
    }

    fn crate_partner(id: PartnerId) -> Partner {
        use kassa_core::partner::{BrandColor, Slug};
        Partner {
            id,
            slug: Slug::parse("acme").unwrap(),
            name: "Acme".into(),
            billing_host: None,
            billing_host_verification: None,
            brand_color: BrandColor::default(),
            logo_url: None,
            default_redirect_url: None,
            require_signed_links: true,
            allowed_redirect_hosts: Default::default(),
            require_two_factor: false,
            link_secret: SealedSecret {
                nonce: Vec::new(),
                ciphertext: Vec::new(),
            },
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            challenge_mode_until: None,
            processor: kassa_core::processor::Connector::Sandbox,
            contact: Default::default(),
            notification_email: None,
            timezone: Default::default(),
        }
    }

    #[test]
    fn a_key_file_is_replaced_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        Vault::generate(dir.path()).unwrap();
        let path = dir.path().join("vault.key");
        replace_key_file(&path, &[5u8; 32]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(parse_key(text.trim()).unwrap(), [5u8; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.path().join("vault.key.new").exists());
    }

    #[test]
    fn api_keys_have_the_documented_shape() {
        let key = new_api_key();
        assert!(key.expose().starts_with("sk_"));
        assert_eq!(key.expose().len(), 35);
        assert_eq!(hash_api_key(key.expose()).len(), 64);
    }
}

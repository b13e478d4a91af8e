-- Secrets under the vault key, and vault key rotation (docs/api.md §9) (SQLite).
--
-- A partner's link secret is sealed with the vault key like every other secret (AES-256-GCM,
-- the partner bound in). SQL cannot encrypt, so the secrets in clear are sealed by Kassa itself
-- when it next opens the database with its key (`kassa_server::key_rotation::open_vault`: once,
-- in one transaction), which then empties `link_secret`; new partners store '' there.
ALTER TABLE partners ADD COLUMN link_secret_nonce BLOB;
ALTER TABLE partners ADD COLUMN link_secret_ciphertext BLOB;

-- The keys of the keyed hashes (card fingerprints, request digests, limit keys, CSRF tokens,
-- proof-of-work MACs), sealed with the vault key. NULL until the first rotation: they are then
-- derived from the vault key itself; a rotation seals them under the new key, so they (and
-- every fingerprint and digest made with them) stay the same across rotations.
ALTER TABLE installation ADD COLUMN hashing_keys_nonce BLOB;
ALTER TABLE installation ADD COLUMN hashing_keys_ciphertext BLOB;

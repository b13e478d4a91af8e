-- Dashboard roles, two-factor sign-in and idle sessions (docs/api.md §9) (SQLite).
--
-- An email is unique per partner, no longer across partners (a "taken" answer told one partner
-- about another's users). SQLite cannot drop a UNIQUE column constraint, so `users` is rebuilt;
-- `sessions` refers to it and is rebuilt too, empty: the upgrade signs everybody out (sessions
-- now also end when idle, and old rows have no last use to go by).

DROP TABLE sessions;

CREATE TABLE users_0011 (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    partner_id       TEXT NOT NULL REFERENCES partners (id),
    -- Lowercased; one user per email in a partner.
    email            TEXT NOT NULL,
    -- Argon2id, PHC string format.
    password_hash    TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    disabled_at      INTEGER,
    role             TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'viewer')),
    -- The TOTP secret sealed with the vault key (partner and user id bound in); NULL: no
    -- two-factor sign-in.
    totp_nonce       BLOB,
    totp_secret      BLOB,
    -- The last TOTP step accepted, so a code is never accepted twice.
    totp_last_step   INTEGER,
    UNIQUE (partner_id, email)
);
-- Users until now could do everything: they are owners.
INSERT INTO users_0011 (seq, id, partner_id, email, password_hash, created_at, disabled_at, role)
    SELECT seq, id, partner_id, email, password_hash, created_at, disabled_at, 'owner' FROM users;
DROP TABLE users;
ALTER TABLE users_0011 RENAME TO users;
-- Sign-in looks an email up across partners.
CREATE INDEX users_email ON users (email);

-- Only a hash of the session token is stored: a database read does not yield a usable cookie.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- Touched at most once a minute; idle past `sessionIdleTimeout` ends the session.
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Hashes of one-time recovery codes; a code is spent by setting `used_at`, once.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in past its password but not yet finished: waiting for a second-factor code, or for
-- the person to pick one of several partners. One row per user the password matched; none of
-- them opens a dashboard page.
CREATE TABLE sign_in_pending (
    token_hash  TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (token_hash, user_id)
);
CREATE INDEX sign_in_pending_user ON sign_in_pending (user_id);

-- Makes two-factor sign-in mandatory for the partner's owners.
ALTER TABLE partners ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;

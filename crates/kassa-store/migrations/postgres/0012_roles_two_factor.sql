-- Dashboard roles, two-factor sign-in and idle sessions (docs/api.md §9) (PostgreSQL).
--
-- An email is unique per partner, no longer across partners (a "taken" answer told one partner
-- about another's users). The upgrade signs everybody out (sessions now also end when idle, and
-- old rows have no last use to go by).

ALTER TABLE users DROP CONSTRAINT users_email_key;
ALTER TABLE users ADD CONSTRAINT users_partner_email_key UNIQUE (partner_id, email);
-- Sign-in looks an email up across partners.
CREATE INDEX users_email ON users (email);
-- Users until now could do everything: they are owners.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'owner'
    CHECK (role IN ('owner', 'staff', 'viewer'));
ALTER TABLE users ALTER COLUMN role DROP DEFAULT;
-- The TOTP secret sealed with the vault key (partner and user id bound in); NULL: no two-factor
-- sign-in. The last TOTP step accepted, so a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_nonce BYTEA;
ALTER TABLE users ADD COLUMN totp_secret BYTEA;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

DELETE FROM sessions;
-- Touched at most once a minute; idle past `sessionIdleTimeout` ends the session.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL;

-- Hashes of one-time recovery codes; a code is spent by setting `used_at`, once.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in past its password but not yet finished: waiting for a second-factor code, or for
-- the person to pick one of several partners. One row per user the password matched; none of
-- them opens a dashboard page.
CREATE TABLE sign_in_pending (
    token_hash  TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (token_hash, user_id)
);
CREATE INDEX sign_in_pending_user ON sign_in_pending (user_id);

-- Makes two-factor sign-in mandatory for the partner's owners.
ALTER TABLE partners ADD COLUMN require_two_factor BOOLEAN NOT NULL DEFAULT FALSE;

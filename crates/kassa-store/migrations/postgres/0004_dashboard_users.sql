-- Dashboard users and their server-side sessions (PostgreSQL).

CREATE TABLE users (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    partner_id    TEXT NOT NULL REFERENCES partners (id),
    -- Lowercased; one login across all partners.
    email         TEXT NOT NULL UNIQUE,
    -- Argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);
CREATE INDEX users_partner ON users (partner_id);

-- Only a hash of the session token is stored: a database read does not yield a usable cookie.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed logins per email, for throttling.
CREATE TABLE login_failures (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, created_at);

-- The hosts a partner's unsigned creation links may name in `redirectUrl` (docs/api.md §8), one
-- lowercase host name a line; empty: none but the default redirect URL's host.
ALTER TABLE partners ADD COLUMN allowed_redirect_hosts TEXT NOT NULL DEFAULT '';

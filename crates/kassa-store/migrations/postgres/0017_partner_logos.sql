-- Partner logos uploaded to Kassa (docs/api.md §11) (postgres).
--
-- Pages never hot-link a logo: the partner uploads it (PUT /v1/partner/logo, or the dashboard's
-- Settings) and Kassa serves these bytes at /static/logo/{slug}/{sha256}. A PNG or JPEG is kept
-- as sent; an SVG as sanitised. One logo per partner; a new upload replaces it. The old
-- partners.logo_url stays as it was and is no longer shown on any page.
CREATE TABLE partner_logos (
    partner_id TEXT PRIMARY KEY REFERENCES partners(id),
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    -- Hex SHA-256 of bytes: the logo's URL names it, so the URL can be cached for good.
    sha256 TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

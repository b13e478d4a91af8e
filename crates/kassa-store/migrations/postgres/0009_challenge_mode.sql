-- Challenge mode (docs/api.md §8): until when a partner's pay pages ask for a proof of work,
-- in Unix microseconds; NULL when it was never switched on. Past values mean "off".
ALTER TABLE partners ADD COLUMN challenge_mode_until BIGINT;

-- After each decline on a pay page the partner's recent pay-page attempts are counted.
CREATE INDEX payments_partner_link_created ON payments (partner_id, created_at)
    WHERE source = 'payment_request';

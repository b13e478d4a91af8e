-- The dashboard's payment timeline finds the payout a payment or refund went out in.
CREATE INDEX payout_items_source ON payout_items (source_id);

-- Where each account of a batch stands: the position of the last event
-- applied to it. Postings at or before it were applied already.
SELECT b.account_id, b.currency, b.last_position
FROM unnest($1::text[], $2::text[]) AS k(account_id, currency)
JOIN account_balances b USING (account_id, currency)

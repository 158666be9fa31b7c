-- One account's tickets for shows in its currency, newest first, before an
-- (issued_position, ticket_id) cursor.
SELECT t.ticket_id, t.reservation_id, t.show_id, t.tier, t.price, t.status, t.refund,
       t.issued_at, t.issued_position
FROM tickets t
JOIN shows s ON s.show_id = t.show_id
WHERE t.account_id = $1 AND s.currency = $2 AND (t.issued_position, t.ticket_id) < ($3, $4)
ORDER BY t.issued_position DESC, t.ticket_id DESC
LIMIT $5

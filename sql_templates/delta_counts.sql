-- Planned ops, and how many of them are rejected before sending (duplicated keys).
SELECT _lightning_op, COUNT(*), COUNT(_lightning_reject_reason)
FROM __delta__
GROUP BY _lightning_op;

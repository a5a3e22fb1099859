-- Planned ops, and how many of them are rejected before sending (duplicated keys); and, as
-- one 'keys' row, the plan's key check (key_stats.sql: NULL-key rows, duplicated keys and
-- their rows), read along so that it costs no round trip of its own.
SELECT
    'ops' AS part,
    _lightning_op AS op,
    COUNT(*) AS planned,
    COUNT(_lightning_reject_reason) AS rejected,
    0 AS duplicate_rows
FROM __delta__
GROUP BY _lightning_op
UNION ALL
SELECT 'keys', NULL, k.null_key_rows, k.duplicate_keys, k.duplicate_rows
FROM __key_stats__ AS k;

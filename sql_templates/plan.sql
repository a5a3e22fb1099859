-- The run's plan: one row per key (NULL keys fold into one group, counted then deleted),
-- with the hash of the mapped columns and what a later removal needs (the match value).
CREATE TABLE __plan__ AS
SELECT
    _lightning_row_id AS row_id,
    CASE WHEN COUNT(*) = 1 THEN MIN(_lightning_row_hash) END AS row_hash,
    MIN(_lightning_match) AS match_value,
    COUNT(*) AS copies,
    __field_hashes__
FROM __stage__
GROUP BY _lightning_row_id;

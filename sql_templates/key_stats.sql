SELECT
    COALESCE(SUM(CASE WHEN row_id IS NULL THEN copies END), 0) AS null_key_rows,
    COUNT(CASE WHEN row_id IS NOT NULL AND copies > 1 THEN 1 END) AS duplicate_keys,
    COALESCE(SUM(CASE WHEN row_id IS NOT NULL AND copies > 1 THEN copies END), 0)
        AS duplicate_rows
FROM __plan__;

-- The run's rejections table, created with the rows rejected before sending (duplicated keys
-- and shared match values): failed, with their reason. Delivery appends what does not succeed.
-- row_id has the plan's key type, as the delta keeps it (rejections_table.sql makes the same
-- table empty, for a run that builds no delta).
CREATE TABLE __rejections__ AS
SELECT
    _lightning_row_id AS row_id,
    CAST(_lightning_op AS VARCHAR) AS op_type,
    CAST('failed' AS VARCHAR) AS status,
    CAST(_lightning_reject_reason AS VARCHAR) AS failure_reason,
    CAST(_lightning_match AS VARCHAR) AS match_value
FROM __delta__
WHERE _lightning_reject_reason IS NOT NULL;

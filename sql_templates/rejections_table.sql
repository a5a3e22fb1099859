-- Every planned row that did not succeed: failed (attempted) or aborted (never attempted).
-- row_id has the plan's key type (an integer key stays an integer: faster joins).
CREATE TABLE __rejections__ AS
SELECT
    row_id,
    CAST(NULL AS VARCHAR) AS op_type,
    CAST(NULL AS VARCHAR) AS status,
    CAST(NULL AS VARCHAR) AS failure_reason,
    CAST(NULL AS VARCHAR) AS match_value
FROM __plan__
WHERE FALSE;

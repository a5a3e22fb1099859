-- No rejections, typed as a run's rejections table is: row_id has the plan's key type (an
-- integer key stays an integer: faster joins). The baseline's rejections when there is no
-- baseline, and the rows of the rejections table of a run that builds no delta.
SELECT
    row_id,
    CAST(NULL AS VARCHAR) AS op_type,
    CAST(NULL AS VARCHAR) AS status,
    CAST(NULL AS VARCHAR) AS failure_reason,
    CAST(NULL AS VARCHAR) AS match_value
FROM __plan__
WHERE FALSE;

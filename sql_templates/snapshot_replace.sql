-- This sync's rows in the snapshot are replaced: one row per model row, plus removals
-- still pending (their last attempt failed or was aborted). failure_reason is set for failed
-- rows only (an aborted row's reason is the run's error, in sync_runs.error).
DELETE FROM __snapshot__ WHERE sync_id = :sync_id;
INSERT INTO __snapshot__ (sync_id, sync_run_id, row_id, op_type, status, failure_reason, fields)
SELECT
    :sync_id,
    :sync_run_id,
    CAST(s._lightning_row_id AS VARCHAR),
    COALESCE(d._lightning_op, 'unchanged'),
    COALESCE(r.status, 'succeeded'),
    CASE WHEN r.status = 'failed' THEN r.failure_reason END,
    __fields_json__
FROM __stage__ AS s
LEFT JOIN __delta__ AS d ON d._lightning_row_id = s._lightning_row_id
LEFT JOIN __rejections__ AS r ON r.row_id = s._lightning_row_id
WHERE s._lightning_row_id IS NOT NULL
UNION ALL
SELECT
    :sync_id,
    :sync_run_id,
    CAST(r.row_id AS VARCHAR),
    r.op_type,
    r.status,
    CASE WHEN r.status = 'failed' THEN r.failure_reason END,
    NULL
FROM __rejections__ AS r
WHERE r.op_type = 'removed';

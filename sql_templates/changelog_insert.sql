-- failure_reason is set for failed rows only (as documented); an aborted row's reason is
-- the run's error, in sync_runs.error.
INSERT INTO __changelog__ (sync_id, sync_run_id, op_type, row_id, status, failure_reason, fields)
SELECT
    :sync_id,
    :sync_run_id,
    d._lightning_op,
    CAST(d._lightning_row_id AS VARCHAR),
    COALESCE(r.status, 'succeeded'),
    CASE WHEN r.status = 'failed' THEN r.failure_reason END,
    __fields_json__
FROM __delta__ AS d
LEFT JOIN __rejections__ AS r ON r.row_id = d._lightning_row_id;

SELECT MAX(sync_run_id) FROM (
    SELECT sync_run_id FROM __commits__
    UNION ALL
    SELECT sync_run_id FROM __locks__
) AS ids;

-- The sync's lock rows and the largest run id seen (of any sync), in one read: one row per
-- lock row of the sync, or one row of NULLs and the largest id when the sync is not locked.
-- Each row also carries the warehouse's hash probe (Dialect.hash_probe), read along.
SELECT l.sync_run_id, l.owner, l.heartbeat_at, ids.largest, __hash_probe__ AS hash_probe
FROM (
    SELECT MAX(sync_run_id) AS largest FROM (
        SELECT sync_run_id FROM __commits__
        UNION ALL
        SELECT sync_run_id FROM __locks__
    ) AS all_ids
) AS ids
LEFT JOIN __locks__ AS l ON l.sync_id = :sync_id;

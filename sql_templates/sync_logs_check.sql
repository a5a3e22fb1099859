-- One row that names the three sync-log tables and reads none of their rows: the lock read
-- (lock_state.sql) joins it, so that the read fails when one of them is missing
-- (State.sync_logs_check).
SELECT COUNT(*) AS logs FROM (
    SELECT 1 AS one FROM __changelog__ WHERE 1 = 0
    UNION ALL
    SELECT 1 AS one FROM __snapshot__ WHERE 1 = 0
    UNION ALL
    SELECT 1 AS one FROM __runs__ WHERE 1 = 0
) AS sync_logs;

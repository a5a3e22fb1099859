INSERT INTO __locks__ (sync_id, sync_run_id, owner, acquired_at, heartbeat_at)
VALUES (:sync_id, :sync_run_id, :owner, :now, :now);

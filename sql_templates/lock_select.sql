SELECT sync_run_id, owner, heartbeat_at FROM __locks__ WHERE sync_id = :sync_id;

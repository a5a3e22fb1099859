UPDATE __locks__ SET heartbeat_at = :now WHERE sync_id = :sync_id AND sync_run_id = :sync_run_id;

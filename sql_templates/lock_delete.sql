DELETE FROM __locks__ WHERE sync_id = :sync_id AND sync_run_id = :sync_run_id;

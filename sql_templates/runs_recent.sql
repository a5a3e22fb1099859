SELECT * FROM __runs__ WHERE sync_id = :sync_id ORDER BY sync_run_id DESC LIMIT :limit;

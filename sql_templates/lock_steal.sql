DELETE FROM __locks__ WHERE sync_id = :sync_id;

INSERT INTO __commits__ (
    sync_id, sync_run_id, committed_at, plan_table, rejections_table, primary_key,
    hash_version, mapping_signature
) VALUES (
    :sync_id, :sync_run_id, :committed_at, :plan_table, :rejections_table, :primary_key,
    :hash_version, :mapping_signature
);

-- The engine's state in the planner schema. A run counts only once its commit row exists.
CREATE TABLE IF NOT EXISTS __commits__ (
    sync_id VARCHAR,
    sync_run_id BIGINT,
    committed_at TIMESTAMP,
    plan_table VARCHAR,
    rejections_table VARCHAR,
    primary_key VARCHAR,
    hash_version VARCHAR,
    mapping_signature VARCHAR
);
CREATE TABLE IF NOT EXISTS __locks__ (
    sync_id VARCHAR,
    sync_run_id BIGINT,
    owner VARCHAR,
    acquired_at TIMESTAMP,
    heartbeat_at TIMESTAMP
);

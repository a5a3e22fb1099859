INSERT INTO "HIGHTOUCH_PLANNER"."LIGHTNING_LOCKS" (
  "SYNC_ID",
  "SYNC_RUN_ID",
  "OWNER",
  "ACQUIRED_AT",
  "HEARTBEAT_AT"
)
VALUES
  (:sync_id, :sync_run_id, :owner, :now, :now);

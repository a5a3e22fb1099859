UPDATE "hightouch_planner"."lightning_locks" SET "heartbeat_at" = %(now)s
WHERE
  "sync_id" = %(sync_id)s AND "sync_run_id" = %(sync_run_id)s;

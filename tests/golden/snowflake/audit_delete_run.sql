/* Sync-log rows of a run that never committed (warehouses without transactions only). */
DELETE FROM "HIGHTOUCH_AUDIT"."SYNC_CHANGELOG"
WHERE
  "SYNC_ID" = :sync_id AND "SYNC_RUN_ID" = :sync_run_id;

/* This sync's rows in the snapshot are replaced: one row per model row, plus removals */
/* still pending (their last attempt failed or was aborted). failure_reason is set for failed */
/* rows only (an aborted row's reason is the run's error, in sync_runs.error). */
DELETE FROM "HIGHTOUCH_AUDIT"."SYNC_SNAPSHOT"
WHERE
  "SYNC_ID" = :sync_id;

INSERT INTO "HIGHTOUCH_AUDIT"."SYNC_SNAPSHOT" (
  "SYNC_ID",
  "SYNC_RUN_ID",
  "ROW_ID",
  "OP_TYPE",
  "STATUS",
  "FAILURE_REASON",
  "FIELDS"
)
SELECT
  :sync_id,
  :sync_run_id,
  CAST("S"."_LIGHTNING_ROW_ID" AS VARCHAR),
  COALESCE("D"."_LIGHTNING_OP", 'unchanged'),
  COALESCE("R"."STATUS", 'succeeded'),
  CASE WHEN "R"."STATUS" = 'failed' THEN "R"."FAILURE_REASON" END,
  CASE
    WHEN "D"."_LIGHTNING_OP" = 'removed'
    THEN OBJECT_CONSTRUCT_KEEP_NULL('row_id', "D"."_LIGHTNING_ROW_ID")
    ELSE OBJECT_CONSTRUCT_KEEP_NULL(
      'account', "D"."_LIGHTNING_COL_0",
      'id', "D"."_LIGHTNING_COL_1",
      'email', "D"."_LIGHTNING_COL_2",
      'we"ird', "D"."_LIGHTNING_COL_3"
    )
  END
FROM "LIGHTNING_STAGE_1700000000000000" AS "S"
LEFT JOIN "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA" AS "D"
  ON "D"."_LIGHTNING_ROW_ID" = "S"."_LIGHTNING_ROW_ID"
LEFT JOIN "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS "R"
  ON "R"."ROW_ID" = "S"."_LIGHTNING_ROW_ID"
WHERE
  NOT "S"."_LIGHTNING_ROW_ID" IS NULL
UNION ALL
SELECT
  :sync_id,
  :sync_run_id,
  CAST("R"."ROW_ID" AS VARCHAR),
  "R"."OP_TYPE",
  "R"."STATUS",
  CASE WHEN "R"."STATUS" = 'failed' THEN "R"."FAILURE_REASON" END,
  NULL
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS "R"
WHERE
  "R"."OP_TYPE" = 'removed';

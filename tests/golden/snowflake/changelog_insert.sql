/* failure_reason is set for failed rows only (as documented); an aborted row's reason is */
/* the run's error, in sync_runs.error. */
INSERT INTO "HIGHTOUCH_AUDIT"."SYNC_CHANGELOG" (
  "SYNC_ID",
  "SYNC_RUN_ID",
  "OP_TYPE",
  "ROW_ID",
  "STATUS",
  "FAILURE_REASON",
  "FIELDS"
)
SELECT
  :sync_id,
  :sync_run_id,
  "D"."_LIGHTNING_OP",
  CAST("D"."_LIGHTNING_ROW_ID" AS VARCHAR),
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
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA" AS "D"
LEFT JOIN "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS "R"
  ON "R"."ROW_ID" = "D"."_LIGHTNING_ROW_ID";

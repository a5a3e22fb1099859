/* Every planned row that did not succeed: failed (attempted) or aborted (never attempted). */
CREATE TABLE "hightouch_planner"."s_1700000000000000_rejections" (
  "row_id" TEXT,
  "op_type" TEXT,
  "status" TEXT,
  "failure_reason" TEXT,
  "match_value" TEXT
);

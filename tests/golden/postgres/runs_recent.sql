SELECT
  *
FROM "hightouch_audit"."sync_runs"
WHERE
  "sync_id" = %(sync_id)s
ORDER BY
  "sync_run_id" DESC NULLS LAST
LIMIT %(limit)s;

/* The sync's lock rows and the largest run id seen (of any sync), in one read: one row per */
/* lock row of the sync, or one row of NULLs and the largest id when the sync is not locked. */
/* Each row also carries the warehouse's hash probe (Dialect.hash_probe), read along. */
SELECT
  `l`.`sync_run_id`,
  `l`.`owner`,
  `l`.`heartbeat_at`,
  `ids`.`largest`,
  FARM_FINGERPRINT(
    TO_JSON_STRING(
      STRUCT(
        42 AS `a`,
        'lightning' AS `b`,
        CAST(1.5 AS FLOAT64) AS `c`,
        TRUE AS `d`,
        NULL AS `e`,
        CAST('2024-01-02 03:04:05.123456' AS DATETIME) AS `f`,
        CAST('2024-01-02' AS DATE) AS `g`,
        CAST('12.34' AS NUMERIC) AS `h`
      )
    )
  ) AS `hash_probe`
FROM (
  SELECT
    MAX(`sync_run_id`) AS `largest`
  FROM (
    SELECT
      `sync_run_id`
    FROM `hightouch_planner`.`lightning_commits`
    UNION ALL
    SELECT
      `sync_run_id`
    FROM `hightouch_planner`.`lightning_locks`
  ) AS `all_ids`
) AS `ids`
LEFT JOIN `hightouch_planner`.`lightning_locks` AS `l`
  ON `l`.`sync_id` = @sync_id;

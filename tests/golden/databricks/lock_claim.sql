/* Take the sync's lock in one statement where no run holds it, with a run id above every one */
/* seen (State.acquire, where the warehouse cannot keep two runs from both inserting): the */
/* lock read that follows tells whether the row went in. It does not where the lock is held, */
/* or where the run id is not above the largest (a clock behind another host's); the run then */
/* goes on as one that reads first, then inserts, then reads its row back. */
INSERT INTO `hightouch_planner`.`lightning_locks` (
  `sync_id`,
  `sync_run_id`,
  `owner`,
  `acquired_at`,
  `heartbeat_at`
)
SELECT
  :sync_id,
  :sync_run_id,
  :owner,
  :now,
  :now
FROM (
  /* The largest run id of every sync, committed or holding a lock (NULL when there is none): a */
  /* new run id is above it (lock_state.sql reads it, lock_claim.sql checks the claim against it). */
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
WHERE
  COALESCE(`ids`.`largest`, 0) < :sync_run_id
  AND NOT EXISTS(
    SELECT
      1
    FROM `hightouch_planner`.`lightning_locks` AS `l`
    WHERE
      `l`.`sync_id` = :sync_id
  );

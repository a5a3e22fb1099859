-- The diff (SPEC section 3): the last committed rejections and the keys of runs that died
-- after planning take precedence, then the plans.
-- Only the ops this sync acts on are kept; fields are joined back from the stage. A key
-- rejected for its match value (shared with another key) keeps its fields.
CREATE TABLE __delta__ AS
WITH changes AS (
    -- Keys whose plan rows differ (or that only one plan has); equal rows drop out here,
    -- before any per-row CASE runs. The plan's NULL-key group is not a key: it is counted
    -- (key_stats.sql) and then deleted from the plan, after this.
    SELECT
        COALESCE(c.row_id, p.row_id) AS row_id,
        c.row_id IS NOT NULL AS in_current,
        p.row_id IS NOT NULL AS in_previous,
        c.copies AS copies,
        COALESCE(c.match_value, p.match_value) AS match_value,
        __changed_fields__
    FROM (SELECT * FROM __plan__ WHERE row_id IS NOT NULL) AS c
    FULL OUTER JOIN __prev_plan__ AS p ON c.row_id = p.row_id
    WHERE c.row_id IS NULL
        OR p.row_id IS NULL
        OR c.row_hash IS NULL
        OR p.row_hash IS NULL
        OR c.row_hash <> p.row_hash
        OR :resend_unchanged
),
retry_keys AS (
    -- Keys to look at again whatever the plans say: the last committed rejections, and every
    -- key a run that never committed planned to send (it may have sent it: possibly_sent).
    -- A key that may hold stale values anywhere counts as 'changed'.
    SELECT
        k.row_id AS row_id,
        CASE WHEN MAX(CASE WHEN k.op_type = 'added' THEN 0 ELSE 1 END) = 1 THEN 'changed'
            ELSE 'added' END AS last_op,
        MAX(k.possibly_sent) AS possibly_sent,
        MIN(k.match_value) AS match_value
    FROM (
        SELECT row_id, op_type, match_value, 0 AS possibly_sent FROM __prev_rejections__
        UNION ALL
        SELECT row_id, op_type, match_value, 1 AS possibly_sent FROM __unconfirmed__
    ) AS k
    GROUP BY k.row_id
),
retries AS (
    -- Those keys, looked up in this run's plan.
    SELECT
        r.row_id AS row_id,
        r.last_op AS last_op,
        r.possibly_sent AS possibly_sent,
        c.row_id IS NOT NULL AS in_current,
        c.copies AS copies,
        COALESCE(c.match_value, r.match_value) AS match_value
    FROM retry_keys AS r
    LEFT JOIN __plan__ AS c ON c.row_id = r.row_id
),
diff AS (
    SELECT
        COALESCE(t.row_id, ch.row_id) AS row_id,
        CASE
            WHEN t.row_id IS NOT NULL AND t.in_current AND t.last_op = 'added' THEN 'added'
            WHEN t.row_id IS NOT NULL AND t.in_current THEN 'changed'
            WHEN t.row_id IS NOT NULL AND t.last_op = 'added' AND t.possibly_sent = 0 THEN NULL
            WHEN t.row_id IS NOT NULL THEN 'removed'
            WHEN ch.in_current AND ch.in_previous THEN 'changed'
            WHEN ch.in_current THEN 'added'
            ELSE 'removed'
        END AS op_type,
        CASE WHEN COALESCE(t.copies, ch.copies) > 1 THEN 'primary key is not unique' END
            AS reject_reason,
        COALESCE(t.match_value, ch.match_value) AS match_value,
        __kept_changed_fields__
    FROM changes AS ch
    FULL OUTER JOIN retries AS t ON t.row_id = ch.row_id
),
acted AS (
    SELECT * FROM diff
    WHERE (op_type = 'added' AND :send_added)
        OR (op_type = 'changed' AND :send_changed)
        OR (op_type = 'removed' AND :send_removed)
)
SELECT
    ROW_NUMBER() OVER (ORDER BY a.op_type, a.row_id) AS _lightning_seq,
    a.row_id AS _lightning_row_id,
    a.op_type AS _lightning_op,
    COALESCE(a.reject_reason, CASE WHEN a.op_type <> 'removed' THEN m.reason END)
        AS _lightning_reject_reason,
    a.match_value AS _lightning_match,
    __delta_changed_fields__,
    s.__model_columns__
FROM acted AS a
LEFT JOIN __match_rejects__ AS m ON m.row_id = a.row_id
LEFT JOIN __stage__ AS s
    ON s._lightning_row_id = a.row_id
    AND a.reject_reason IS NULL
    AND a.op_type <> 'removed';

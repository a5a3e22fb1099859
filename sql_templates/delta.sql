-- The diff (SPEC section 3): the last committed rejections take precedence, then the plans.
-- Only the ops this sync acts on are kept; fields are joined back from the stage.
CREATE TABLE __delta__ AS
WITH diff AS (
    SELECT
        COALESCE(c.row_id, p.row_id, r.row_id) AS row_id,
        CASE
            WHEN c.row_id IS NOT NULL AND r.op_type = 'added' THEN 'added'
            WHEN c.row_id IS NOT NULL AND r.op_type IS NOT NULL THEN 'changed'
            WHEN c.row_id IS NOT NULL AND p.row_id IS NOT NULL
                AND (c.row_hash IS NULL OR p.row_hash IS NULL OR c.row_hash <> p.row_hash)
                THEN 'changed'
            WHEN c.row_id IS NOT NULL AND p.row_id IS NOT NULL AND :resend_unchanged
                THEN 'changed'
            WHEN c.row_id IS NOT NULL AND p.row_id IS NOT NULL THEN NULL
            WHEN c.row_id IS NOT NULL THEN 'added'
            WHEN r.op_type = 'added' THEN NULL
            WHEN r.op_type IS NOT NULL THEN 'removed'
            ELSE 'removed'
        END AS op_type,
        CASE WHEN c.copies > 1 THEN 'primary key is not unique' END AS reject_reason,
        COALESCE(c.match_value, p.match_value, r.match_value) AS match_value
    FROM __plan__ AS c
    FULL OUTER JOIN __prev_plan__ AS p ON c.row_id = p.row_id
    FULL OUTER JOIN __prev_rejections__ AS r ON r.row_id = COALESCE(c.row_id, p.row_id)
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
    a.reject_reason AS _lightning_reject_reason,
    a.match_value AS _lightning_match,
    s.__model_columns__
FROM acted AS a
LEFT JOIN __stage__ AS s
    ON s._lightning_row_id = a.row_id
    AND a.reject_reason IS NULL
    AND a.op_type <> 'removed';

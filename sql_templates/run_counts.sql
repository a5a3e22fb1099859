-- Outcomes by op; a row rejected before sending (a duplicated key) is counted apart: it is
-- planned and failed, but never attempted.
SELECT
    d._lightning_op,
    COALESCE(r.status, 'succeeded') AS status,
    d._lightning_reject_reason IS NOT NULL AS rejected_before_send,
    COUNT(*)
FROM __delta__ AS d
LEFT JOIN __rejections__ AS r ON r.row_id = d._lightning_row_id
GROUP BY d._lightning_op, COALESCE(r.status, 'succeeded'), d._lightning_reject_reason IS NOT NULL;

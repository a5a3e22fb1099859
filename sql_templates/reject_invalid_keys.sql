-- Rows rejected before sending (duplicated keys): failed, with their reason.
INSERT INTO __rejections__ (row_id, op_type, status, failure_reason, match_value)
SELECT _lightning_row_id, _lightning_op, 'failed', _lightning_reject_reason, _lightning_match
FROM __delta__
WHERE _lightning_reject_reason IS NOT NULL;

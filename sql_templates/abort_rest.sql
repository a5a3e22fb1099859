-- Every row after the last attempted one: aborted, so the next run retries it.
INSERT INTO __rejections__ (row_id, op_type, status, failure_reason, match_value)
SELECT _lightning_row_id, _lightning_op, 'aborted', :reason, _lightning_match
FROM __delta__
WHERE _lightning_reject_reason IS NULL AND _lightning_seq > :after_seq;

SELECT CAST(row_id AS VARCHAR) AS row_id, op_type, status, failure_reason, match_value
FROM __prev_rejections__;

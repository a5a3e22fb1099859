-- A baseline whose key was stored as an integer, read as text (the key's type changed).
SELECT CAST(row_id AS VARCHAR) AS row_id, row_hash, match_value, copies FROM __prev_plan__;

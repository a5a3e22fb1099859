-- Every planned row that did not succeed: failed (attempted) or aborted (never attempted).
CREATE TABLE __rejections__ (
    row_id VARCHAR,
    op_type VARCHAR,
    status VARCHAR,
    failure_reason VARCHAR,
    match_value VARCHAR
);

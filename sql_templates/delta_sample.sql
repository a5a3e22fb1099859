SELECT _lightning_op, _lightning_row_id, __fields_json__ AS fields
FROM __delta__ AS d
ORDER BY _lightning_seq
LIMIT :limit;

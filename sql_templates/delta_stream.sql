SELECT
    _lightning_seq,
    _lightning_row_id,
    _lightning_op,
    _lightning_match,
    __payload__ AS _lightning_payload,
    __stream_changed_fields__,
    d.__model_columns__
FROM __delta__ AS d
WHERE _lightning_reject_reason IS NULL
ORDER BY _lightning_seq;

-- The model, read once: every later step reads this snapshot, never the model again.
CREATE TEMPORARY TABLE __stage__ AS
SELECT
    __row_id__ AS _lightning_row_id,
    __row_hash__ AS _lightning_row_hash,
    __match_value__ AS _lightning_match,
    model_row.*
FROM __model__ AS model_row;

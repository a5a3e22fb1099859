-- The model, read once: every later step reads this snapshot, never the model again.
-- Model columns are stored under positional names (the model's own names are user input and
-- could collide with the engine's columns); the sync logs and the payload map them back.
CREATE TEMPORARY TABLE __stage__ AS
SELECT
    __row_id__ AS _lightning_row_id,
    __row_hash__ AS _lightning_row_hash,
    __match_value__ AS _lightning_match,
    model_row.__stage_columns__
FROM __model__ AS model_row;

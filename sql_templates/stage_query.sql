-- The model's rows as the engine reads them: the key (row_id), the hash of the mapped columns,
-- the match value, and every model column under a positional name (the model's own names are
-- user input and could collide with the engine's columns; the logs and payload map them back).
SELECT
    __row_id__ AS _lightning_row_id,
    __row_hash__ AS _lightning_row_hash,
    __match_value__ AS _lightning_match,
    model_row.__stage_columns__
FROM __model__ AS model_row;

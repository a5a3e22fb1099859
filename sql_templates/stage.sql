-- The model, read once into a stage: every later step reads this snapshot, not the model.
-- (Warehouses that can re-read the model at one snapshot skip this copy: see Planner.)
CREATE TEMPORARY TABLE __stage__ AS
SELECT * FROM __stage_query__ AS staged;

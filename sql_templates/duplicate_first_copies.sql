-- One copy of each duplicated key, for the sync logs: a duplicated key is rejected and never
-- sent, but its changelog row shows one copy's model values, the copy whose fields sort first
-- as JSON text (a stable choice, whatever order the warehouse reads the rows in). The text is
-- a column of its own before it is ordered by (some engines refuse a computed window order).
SELECT * FROM (
    SELECT
        t.*,
        ROW_NUMBER() OVER (
            PARTITION BY t._lightning_row_id ORDER BY t._lightning_fields_text
        ) AS _lightning_copy
    FROM (
        SELECT s.*, CAST(__fields_json__ AS VARCHAR) AS _lightning_fields_text
        FROM __stage__ AS s
        WHERE s._lightning_row_id IN (SELECT row_id FROM __plan__ WHERE copies > 1)
    ) AS t
) AS copies
WHERE _lightning_copy = 1;

-- One copy of each duplicated key, for the sync logs: a duplicated key is rejected and never
-- sent, but its changelog row shows one copy's model values, the copy whose fields sort first
-- as JSON text (a stable choice, whatever order the warehouse reads the rows in).
SELECT * FROM (
    SELECT
        s.*,
        ROW_NUMBER() OVER (
            PARTITION BY s._lightning_row_id ORDER BY CAST(__fields_json__ AS VARCHAR)
        ) AS _lightning_copy
    FROM __stage__ AS s
    WHERE s._lightning_row_id IN (SELECT row_id FROM __plan__ WHERE copies > 1)
) AS copies
WHERE _lightning_copy = 1;

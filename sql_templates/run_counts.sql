SELECT d._lightning_op, COALESCE(r.status, 'succeeded') AS status, COUNT(*)
FROM __delta__ AS d
LEFT JOIN __rejections__ AS r ON r.row_id = d._lightning_row_id
GROUP BY d._lightning_op, COALESCE(r.status, 'succeeded');

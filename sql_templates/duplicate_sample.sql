SELECT row_id, copies FROM __plan__ WHERE copies > 1 ORDER BY row_id LIMIT 10;

DELETE FROM __plan__ WHERE row_id IS NULL;

SELECT _lightning_op, COUNT(*) FROM __delta__ GROUP BY _lightning_op;

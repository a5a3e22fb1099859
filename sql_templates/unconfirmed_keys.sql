-- The keys a run that never committed planned to send (its delta, kept until a later run
-- commits): it may have sent any of them before it died.
SELECT
    __unconfirmed_row_id__ AS row_id,
    _lightning_op AS op_type,
    _lightning_match AS match_value
FROM __dead_delta__
WHERE _lightning_reject_reason IS NULL;

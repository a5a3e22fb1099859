-- The rejections table of a run that builds no delta: empty (rejections_from_delta.sql makes
-- it for a run that does).
CREATE TABLE __rejections__ AS
SELECT * FROM __no_rejections__;

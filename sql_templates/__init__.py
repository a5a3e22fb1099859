"""The engine's SQL, as .sql files in DuckDB's dialect (see engine/sql.py)."""

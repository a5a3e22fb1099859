"""Lightning: in-warehouse reverse ETL (planner, delivery, sync logs, CLI)."""

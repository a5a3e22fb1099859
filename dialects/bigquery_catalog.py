"""BigQuery's catalog through the API, not INFORMATION_SCHEMA: a query of INFORMATION_SCHEMA
bills at least 10 MB, an API call nothing. Datasets are made in the source's location, and a
dataset elsewhere is refused naming both locations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from dialects.bigquery_connect import connect_error
from dialects.bigquery_sql import column_type
from dialects.errors import ErrorKind, WarehouseError


class BigQueryCatalog:
    """Datasets, tables and columns of a BigQuery project (a part of ``BigQueryDialect``)."""

    con: Any
    settings: dict[str, Any]
    sqlglot_dialect: str
    statements_issued: int | None
    project: str
    location: str

    if TYPE_CHECKING:  # given by BigQueryDialect

        def describe(self) -> str: ...

        def _job(self, sql: str, params: dict[str, Any] | None, dry_run: bool = False) -> Any: ...

        def count_statement(self) -> None: ...

    def _check_model_dataset(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        self.count_statement()  # an API call
        try:
            found = self.con.get_dataset(f"{self.project}.{name}")
        except NotFound as error:
            raise WarehouseError(
                f"BigQuery dataset {name} (the source's dataset) was not found in project "
                f"{self.project}. Fix: set dataset under the source to the dataset the models "
                "read (or remove it and qualify the models' tables as dataset.table).",
                ErrorKind.SQL,
                error,
            ) from error
        except Exception as error:  # noqa: BLE001 - classified by the caller
            raise connect_error(error, self.describe()) from error
        self._check_location(found, "the models'")

    def _create_dataset(self, sql: str) -> None:
        """A dataset in the configured location, through the API (a CREATE SCHEMA job would
        take the job's location, and could not run in a session's transaction anyway)."""
        import sqlglot
        from google.cloud import bigquery

        created = sqlglot.parse_one(sql, read=self.sqlglot_dialect)
        target = created.this if isinstance(created, exp.Create) else None
        name = (target.db or target.name) if isinstance(target, exp.Table) else ""
        dataset = bigquery.Dataset(f"{self.project}.{name}")
        dataset.location = self.location
        self.count_statement()  # an API call
        made = self.con.create_dataset(dataset, exists_ok=True)
        self._check_location(made, "the engine's")

    def _check_location(self, dataset: Any, whose: str) -> None:
        """Refuse a dataset outside the configured location, naming both: every job runs in
        ``location``, where BigQuery cannot see it ("not found in location")."""
        where = str(dataset.location or "")
        if where and where.lower() != self.location.lower():
            raise WarehouseError(
                f"BigQuery dataset {dataset.dataset_id} ({whose} dataset) is in location "
                f"{where}, but the source's location is {self.location}: every job runs in "
                f"{self.location}, where that dataset is not found. Fix: set location: {where} "
                f"under the source if all the models' data is there, or recreate "
                f"{dataset.dataset_id} in {self.location} (a dataset's location cannot change).",
                ErrorKind.SQL,
            )

    def _table_id(self, table: exp.Table) -> str:
        project = table.catalog or self.project
        dataset = table.db or self.settings.get("dataset") or ""
        return f"{project}.{dataset}.{table.name}"

    def list_schemas(self) -> list[str]:
        self.count_statement()  # an API call
        # Only the location's datasets: one elsewhere is not visible to the jobs (creating it
        # then says where it is, see _create_dataset).
        return [
            d.dataset_id
            for d in self.con.list_datasets(self.project)
            if str(d._properties.get("location") or self.location).lower() == self.location.lower()
        ]

    def schema_tables(self, schemas: Sequence[str]) -> dict[str, list[str]]:
        return {schema: self.list_tables(schema) for schema in schemas}  # an API call each

    def list_tables(self, schema: str) -> list[str]:
        from google.api_core.exceptions import NotFound

        self.count_statement()  # an API call
        try:
            return [t.table_id for t in self.con.list_tables(f"{self.project}.{schema}")]
        except NotFound:
            return []

    def schema_columns_query(self, schema: str, pattern: str) -> exp.Query | None:
        return None  # an API call per table (table_columns); INFORMATION_SCHEMA reads are billed

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]]:
        self.count_statement()  # an API call
        return [column_type(field) for field in self.con.get_table(self._table_id(table)).schema]

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        """From a dry-run job's schema: nothing runs and nothing is billed."""
        return [column_type(field) for field in self._job(sql, None, dry_run=True).schema or []]

    def view_definition(self, table: exp.Table) -> str | None:
        from google.api_core.exceptions import NotFound

        self.count_statement()  # an API call
        try:
            found = self.con.get_table(self._table_id(table))
        except NotFound:
            return None
        return str(found.view_query) if found.view_query else None

"""BigQuery (``type: bigquery``), through the official ``google-cloud-bigquery`` client.

Settings: ``project`` (where the engine's datasets live and, unless ``billing_project`` names
another project, where jobs run and are billed), ``location`` (required:
every job runs there and ``hightouch_planner`` / ``hightouch_audit`` are created there),
``dataset`` (where a model's unqualified table names resolve), ``credentials_path`` (a
service-account JSON file; without it, application-default credentials), ``anonymous: true``
(send no credentials: local emulators only, refused without ``api_endpoint``),
``api_endpoint`` (private endpoints, local emulators), ``maximum_bytes_billed`` (a per-job cap:
a job that would bill more fails before it runs) and ``labels`` (job labels, besides
``lightning-sync`` and the sync's name).

Choices (each from BigQuery's documentation):

- Every statement is a query job in ``location``, in one session per connection
  (https://cloud.google.com/bigquery/docs/sessions-intro): the stage is a session temporary
  table. A transaction is one multi-statement job (``BEGIN TRANSACTION; ...; COMMIT
  TRANSACTION;``, https://cloud.google.com/bigquery/docs/transactions), sent whole at the end
  of the block, so no transaction is ever open between two jobs. A transaction holds no DDL
  (``Capabilities.ddl_commits``): the engine's commit transaction holds only DML. Each job's
  errors are checked after it ends, whatever the client call reported.
- Row hash: ``FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(...)))`` of the mapped values (64-bit,
  NULL-aware through the JSON), tagged with its answer on a fixed row like the other hashes.
- Parameters are typed ``@name`` query parameters (a naive ``datetime`` is a DATETIME, as
  DuckDB's ``TIMESTAMP`` columns become DATETIME); no value is ever written into SQL text.
- The delta is read page by page from the query's result (``RowIterator.pages``): one page in
  Python memory.
- Rejections are bulk loaded with a load job of newline-delimited JSON from memory, never
  streaming inserts (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-json).
- Catalog lookups (datasets, tables, columns) use the API, not INFORMATION_SCHEMA: a query of
  INFORMATION_SCHEMA bills at least 10 MB, an API call nothing.
- Cost: each job's bytes processed and billed are summed (``Dialect.cost``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlglot import exp

from dialects import array_forms as arrays
from dialects.base import Dialect
from dialects.bigquery_catalog import BigQueryCatalog
from dialects.bigquery_connect import (
    check_settings,
    classify,
    credentials,
    setup_statements,
    wrapped,
)
from dialects.bigquery_sql import (  # also registers sqlglot's "lightningbigquery"
    label_value,
    qualified_tables,
    query_parameters,
    script_of,
)
from dialects.capabilities import Capabilities
from dialects.errors import ErrorKind, WarehouseError

# A fixed row covering the types models use; its fingerprint names the hash's version.
_HASH_PROBE = (
    "SELECT FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(42 AS a, 'lightning' AS b, "
    "CAST(1.5 AS FLOAT64) AS c, TRUE AS d, NULL AS e, "
    "DATETIME '2024-01-02 03:04:05.123456' AS f, DATE '2024-01-02' AS g, "
    "NUMERIC '12.34' AS h)))"
)
_INTEGER_TYPES = frozenset({"INT64", "INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"})
# Types whose JSON in JSON_OBJECT is what the engine's Python encoder writes for the value.
_JSON_AS_IS = _INTEGER_TYPES | {"STRING", "BOOL", "BOOLEAN"}
_DEFAULT_LABEL = "lightning-sync"


class BigQueryDialect(BigQueryCatalog, Dialect):
    """The BigQuery dialect (``type: bigquery``)."""

    name = "bigquery"
    array_forms = arrays.BIGQUERY
    sqlglot_dialect = "lightningbigquery"
    hash_name = "bigquery-farm-fingerprint"
    hash_probe = _HASH_PROBE
    setting_names = frozenset(
        {"project", "location", "dataset", "credentials_path", "anonymous", "api_endpoint"}
        | {"maximum_bytes_billed", "labels", "billing_project"}
    )
    # Functions a model may not call (engine/read_only.py), from BigQuery's reference: they
    # change a session or call services outside the query.
    side_effect_functions = {
        "external_query": "runs SQL on an external database",
        "ml.*": "runs a BigQuery ML model",
        "vector_search": "reads an index outside the query",
        "ai.*": "calls a Vertex AI model",
    }
    capabilities = Capabilities(
        transactions=True,
        temp_tables=True,
        merge=True,
        delete=True,
        identifier_case="preserve",
        max_string_bytes=10 * 1024 * 1024,
        requires_location=True,
        snapshot_rereads=False,
        ddl_commits=True,
        read_only_sessions=False,
        bills_per_table=True,
    )

    def __init__(self, settings: dict[str, Any], project_dir: Path):
        super().__init__(settings, project_dir)
        self._session: str | None = None
        self._script: list[tuple[str, dict[str, Any] | None]] | None = None  # see transaction
        self.bytes_processed = 0
        self.bytes_billed = 0
        self.jobs = 0

    # -- connection -------------------------------------------------------------------------
    @property
    def project(self) -> str:
        return str(self.settings.get("project") or "")

    @property
    def location(self) -> str:
        return str(self.settings.get("location") or "")

    def describe(self) -> str:
        where = f"BigQuery project {self.project or '(none)'} in {self.location or '(no location)'}"
        if self.settings.get("api_endpoint"):
            where += f" at {self.settings['api_endpoint']}"
        return where

    def connect(self, read_only: bool = False) -> None:
        """BigQuery has no read-only session (``Capabilities.read_only_sessions``):
        ``lightning-sync sql`` also applies the models' function rule, and relies on the
        service account's roles."""
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery

        check_settings(self.settings)
        options = None
        if self.settings.get("api_endpoint"):
            options = ClientOptions(api_endpoint=str(self.settings["api_endpoint"]))
        self._con = bigquery.Client(
            project=str(self.settings.get("billing_project") or self.project),
            credentials=credentials(self.settings, self.project_dir),
            location=self.location,
            client_options=options,
        )
        self._session = None
        self._script = None
        self.statements_issued = 0
        self.bytes_processed = self.bytes_billed = self.jobs = 0
        if self.settings.get("dataset"):
            try:
                self._check_model_dataset(str(self.settings["dataset"]))
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        if self._con is None:
            return
        if self._session is not None:
            try:  # ends the session now, rolling back a transaction a failure left open
                self._job("CALL BQ.ABORT_SESSION()", None)
            except Exception:  # noqa: BLE001, S110 - the session expires on its own
                pass
            self._session = None
        self._con.close()
        self._con = None

    # -- jobs -------------------------------------------------------------------------------
    def _config(self, sql: str, params: dict[str, Any] | None, dry_run: bool = False) -> Any:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=query_parameters(sql, params),
            use_legacy_sql=False,
            labels=self._labels(),
        )
        if self.settings.get("dataset"):
            config.default_dataset = f"{self.project}.{self.settings['dataset']}"
        if self.settings.get("maximum_bytes_billed") is not None:
            config.maximum_bytes_billed = int(self.settings["maximum_bytes_billed"])
        if dry_run:
            config.dry_run = True
            config.use_query_cache = False
        elif self._session is None:
            config.create_session = True
        else:
            config.connection_properties = [
                bigquery.ConnectionProperty("session_id", self._session)
            ]
        return config

    def _labels(self) -> dict[str, str]:
        labels = {"tool": _DEFAULT_LABEL}
        sync = self.label.partition("sync=")[2]
        if sync:
            labels["sync"] = label_value(sync)
        for key, value in (self.settings.get("labels") or {}).items():
            labels[label_value(str(key))] = label_value(str(value))
        return labels

    def _job(self, sql: str, params: dict[str, Any] | None, dry_run: bool = False) -> Any:
        """Run one query job to its end; raise its error even where the call reported none."""
        self.count_statement()
        if not sql.lstrip().upper().startswith("BEGIN"):  # a script's parts are qualified
            sql = self._in_data_project(sql)
        job = self.con.query(sql, job_config=self._config(sql, params, dry_run))
        if not dry_run:
            job.result()
        if job.error_result:
            from google.api_core import exceptions

            message = job.error_result.get("message") or str(job.error_result)
            raise exceptions.BadRequest(message, errors=job.errors or [job.error_result])
        if self._session is None and not dry_run and job.session_info is not None:
            self._session = job.session_info.session_id
        self.jobs += 1
        self.bytes_processed += int(job.total_bytes_processed or 0)
        self.bytes_billed += int(getattr(job, "total_bytes_billed", None) or 0)
        return job

    def _in_data_project(self, sql: str) -> str:
        """Jobs run in the billing project: a dataset there is the data project's only when
        the statement says so."""
        billing = self.settings.get("billing_project")
        if not billing or billing == self.project:
            return sql
        return qualified_tables(sql, self.project)

    def cost(self) -> dict[str, int] | None:
        return {
            "jobs": self.jobs,
            "bytes_processed": self.bytes_processed,
            "bytes_billed": self.bytes_billed,
        }

    def estimate_bytes(self, sql: str) -> int | None:
        """The bytes a query would process, from a dry-run job (free, nothing runs)."""
        return int(self._job(sql, None, dry_run=True).total_bytes_processed or 0)

    # -- statements -------------------------------------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        if sql.lstrip().upper().startswith("CREATE SCHEMA"):
            self._create_dataset(sql)
            return
        if self._script is not None:
            self._script.append((self._in_data_project(sql), params))
            return
        self._job(sql, params)

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in self._job(sql, params).result()]

    def query(self, sql: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        rows = self._job(sql, None).result(max_results=max_rows)
        names = [field.name for field in rows.schema or []]
        return names, [tuple(row.values()) for row in rows]

    def stream(
        self, sql: str, params: dict[str, Any] | None, batch_rows: int
    ) -> Iterator[dict[str, list[Any]]]:
        # The result is a table of its own: its pages are fetched one at a time, and jobs run
        # meanwhile (the rejection loads) do not touch it.
        rows = self._job(sql, params).result(page_size=batch_rows)
        names = [field.name for field in rows.schema or []]
        for page in rows.pages:
            values = [tuple(row.values()) for row in page]
            if values:
                yield {name: [row[i] for row in values] for i, name in enumerate(names)}

    def bulk_insert(
        self, table: exp.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        from google.cloud import bigquery

        lines = (
            json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False)
            for row in rows
        )
        data = io.BytesIO(("\n".join(lines) + "\n").encode())
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            labels=self._labels(),
        )
        self.count_statement()
        job = self.con.load_table_from_file(
            data, self._table_id(table), job_config=config, location=self.location
        )
        job.result()
        if job.error_result:
            from google.api_core import exceptions

            raise exceptions.BadRequest(
                job.error_result.get("message") or "load job failed", errors=job.errors
            )

    def transaction(self) -> AbstractContextManager[None]:
        """The block's writes, sent at its end as one multi-statement transaction: one job,
        which BigQuery runs whole or not at all. Nothing is open between jobs, so a process
        killed inside the block leaves nothing behind (its writes were never sent). Reads in
        the block run at once (no write of the block precedes them in the engine)."""
        return self._script_of_block(atomic=True)

    def batch(self) -> AbstractContextManager[None]:
        """The block's writes, sent at its end as one script job (no transaction: BigQuery
        keeps DDL such as ``DROP TABLE`` out of transactions)."""
        return self._script_of_block(atomic=False)

    @contextmanager
    def _script_of_block(self, atomic: bool) -> Iterator[None]:
        if self._script is not None:  # nested: part of the outer block
            yield
            return
        self._script = []
        try:
            yield
            statements = self._script
        finally:
            self._script = None
        if len(statements) == 1 and not atomic:
            self._job(*statements[0])
        elif statements:
            self._job(*script_of(statements, atomic))

    def classify_error(self, error: BaseException) -> ErrorKind:
        return classify(error)

    def is_driver_error(self, error: BaseException) -> bool:
        return self.classify_error(error) is not ErrorKind.TERMINAL

    def wrap(self, error: BaseException, context: str) -> WarehouseError:
        return wrapped(error, context, self.project, self.location)

    def is_integer_type(self, type_name: str) -> bool:
        return type_name.upper() in _INTEGER_TYPES

    # -- SQL fragments ----------------------------------------------------------------------
    def row_hash(self, values: Sequence[exp.Expr], types: Sequence[str]) -> exp.Expr:
        if not values:
            return exp.Literal.number(0)
        fields = [
            exp.PropertyEQ(this=exp.to_identifier(f"h{i}"), expression=value)
            for i, value in enumerate(values)
        ]
        text = exp.Anonymous(this="TO_JSON_STRING", expressions=[exp.Struct(expressions=fields)])
        return exp.Anonymous(this="FARM_FINGERPRINT", expressions=[text])

    def json_text(self, value: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="TO_JSON_STRING", expressions=[value])

    def json_value(self, value: exp.Expr, type_name: str) -> exp.Expr | None:
        return value if type_name.upper() in _JSON_AS_IS else None

    def current_user(self) -> str:
        return str(
            getattr(self.con._credentials, "service_account_email", "") or "<service_account>"
        )

    def grant_statements(self, user: str, schemas: Sequence[str]) -> list[str]:
        return setup_statements(self.project, self.location, user, schemas)

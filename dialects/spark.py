"""Plain Spark (``type: spark``), through a Spark Connect server (``pyspark[connect]``).

Settings: ``remote``, the server's Spark Connect URL (``sc://host:15002``; start one with
Spark's ``sbin/start-connect-server.sh``), and optional ``schema`` (where the models'
unqualified names resolve).

This is the Databricks dialect (:mod:`dialects.databricks`) on a Spark session: the same SQL
text, parameters, cursor handling and Arrow paging, through :mod:`dialects.spark_cursor`. What
plain Spark lacks is declared in ``Capabilities`` and handled here:

- Tables are Spark's default data source tables (Parquet), not Delta: there is no ``DELETE``,
  ``UPDATE`` or ``MERGE`` (``Capabilities.delete``/``merge`` are False). Each of them is run
  as a rewrite of the table. Where it keeps at most 100 rows (the lock table), they are read
  here and written back with ``INSERT OVERWRITE ... VALUES`` (or ``TRUNCATE TABLE``): 2
  statements. Otherwise the rows go to a scratch table, then ``INSERT OVERWRITE`` replaces
  the table's rows with them and the scratch table is dropped (4 statements with the read;
  6 when a stopped rewrite left its scratch table, which is dropped first).
  A process killed during that overwrite can leave the table short of rows, so plain Spark
  is for what a lost lock or log row cannot hurt; Databricks runs the statements as they are.
- No ``information_schema``: schemas, tables and columns are read with ``SHOW`` and
  ``DESCRIBE``. A whole-table model's columns come with the view check's ``DESCRIBE TABLE
  EXTENDED`` of its table, so binding it is one statement, not that and a ``DESCRIBE QUERY``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from dialects.capabilities import Capabilities
from dialects.databricks import DatabricksDialect, value_tuples
from dialects.databricks_connect import error_class
from dialects.errors import ErrorKind, WarehouseError
from dialects.spark_cursor import SparkConnection

_NOISY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
_MATCHED = "_lightning_matched"
_CHANGES = re.compile(r"\b(DELETE|UPDATE|MERGE)\b", re.IGNORECASE)
_RELATION_CACHE = "spark.sql.filesourceTableRelationCacheSize"
_NO_SCHEMA = frozenset({"SCHEMA_NOT_FOUND", "NO_SUCH_DATABASE", "NO_SUCH_NAMESPACE"})
_NOT_FOUND = _NO_SCHEMA | {"TABLE_OR_VIEW_NOT_FOUND"}
# A top-level column in the schema tree of SHOW TABLE EXTENDED's "information" text:
# " |-- <name>: <type> (nullable = true)". Only a complex column has nested field lines
# after it, and such a table is described instead.
_TREE_COLUMN = re.compile(
    r"^ \|-- (?P<name>.+): (?P<kind>[a-z_]+(?:\(\d+,\d+\))?) \(nullable = \w+\)$"
)
# The tree's type names that DESCRIBE spells otherwise; a complex type's tree line names no
# element type (then the table is described instead).
_TREE_TYPES = {"long": "BIGINT", "integer": "INT", "short": "SMALLINT", "byte": "TINYINT"}
_TREE_COMPLEX = frozenset({"array", "map", "struct"})
# A rewritten table keeping at most this many rows is overwritten from here (see
# SparkDialect._overwrite_from_here), with values of these types: as read, so bound (a
# timestamp is read and bound as naive UTC). None is a NULL of the column's type.
_FROM_HERE = 100
_BOUND_AS_READ = frozenset({type(None), str, int, float, bool, dt.datetime})
# DESCRIBE TABLE EXTENDED's "Type" of a table (not a view) and the row its details follow.
_TABLE_TYPES = frozenset({"MANAGED", "EXTERNAL"})
_DETAILS = "# Detailed Table Information"


class SparkDialect(DatabricksDialect):
    """The Spark dialect (``type: spark``)."""

    name = "spark"
    setting_names = frozenset({"remote", "schema"})
    capabilities = Capabilities(
        transactions=False,
        temp_tables=False,
        merge=False,
        delete=False,
        identifier_case="lower",  # Spark's catalog keeps names in lower case
        read_only_sessions=False,
        snapshot_rereads=False,
    )

    def __init__(self, settings: dict[str, Any], project_dir: Path):
        super().__init__(settings, project_dir)
        # The columns of the tables view_definition described (by their SQL name), for the
        # query_columns call that follows it to answer a whole-table model's query with.
        self._described: dict[str, list[tuple[str, str]]] = {}

    def describe(self) -> str:
        return f"Spark at {self.settings.get('remote') or '(no remote)'}"

    def _open(self) -> Any:
        remote = str(self.settings.get("remote") or "")
        if not remote.startswith("sc://"):
            raise WarehouseError(
                "The Spark source's `remote` must be a Spark Connect URL (sc://host:15002). "
                "Fix: start a Spark Connect server (sbin/start-connect-server.sh) and set "
                "remote: sc://<host>:<port>.",
                ErrorKind.CONNECTION,
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise WarehouseError(
                "A spark source needs pyspark's Spark Connect client. Fix: pip install "
                "'lightning-sync[spark]'.",
                ErrorKind.CONNECTION,
                error,
            ) from error
        # pyspark writes every failed query's stack to stderr through these loggers; the
        # engine reports the error itself, once, with its fix.
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).disabled = True
        return SparkConnection(SparkSession.builder.remote(remote).create())

    def connect(self, read_only: bool = False) -> None:
        super().connect()  # Spark has no read-only session either
        # A session caches a table's file list: with the cache on, it would not see rows
        # another session (another run's lock) wrote since it first read the table.
        rows = self.fetchall(f"SET {_RELATION_CACHE}")
        if not rows or str(rows[0][1]).strip() != "0":
            self.close()
            raise WarehouseError(
                f"The Spark server at {self.settings.get('remote')} caches tables' file lists "
                f"({_RELATION_CACHE} is {rows[0][1] if rows else 'unset'}), so a run would not "
                "see another run's lock or commit. Fix: start the Spark Connect server with "
                f"--conf {_RELATION_CACHE}=0.",
                ErrorKind.CONNECTION,
            )

    def setup_statements(self) -> list[str]:
        statements = ["SET TIME ZONE 'UTC'"]
        if self.settings.get("schema"):
            schema = exp.to_identifier(str(self.settings["schema"]), quoted=True)
            statements.append(f"USE {schema.sql(self.sqlglot_dialect)}")
        return statements

    # -- statements plain Spark does not have -----------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        tree = sqlglot.parse_one(sql, read=self.sqlglot_dialect) if _CHANGES.search(sql) else None
        if not isinstance(tree, exp.Delete | exp.Update | exp.Merge):
            super().execute(sql, params)
            return
        target, kept = self._rows_after(tree)
        plain_target = exp.Table(this=target.this.copy(), db=target.args.get("db"))
        written = self.sqlglot_dialect
        if self._overwrite_from_here(plain_target.sql(written), kept, params):
            return
        scratch = exp.Table(
            this=exp.to_identifier(f"{target.name}__rewrite", quoted=True),
            db=target.args.get("db"),
        )
        drop = f"DROP TABLE IF EXISTS {scratch.sql(written)}"
        create = f"CREATE TABLE {scratch.sql(written)} AS {kept.sql(written)}"
        try:
            super().execute(create, params)
        except Exception as error:  # noqa: BLE001 - only a scratch table left behind is ours
            if error_class(error) != "TABLE_OR_VIEW_ALREADY_EXISTS":
                raise
            super().execute(drop)  # left by a rewrite that was stopped before its drop
            super().execute(create, params)
        overwrite = f"INSERT OVERWRITE TABLE {plain_target.sql(written)}"
        super().execute(f"{overwrite} SELECT * FROM {scratch.sql(written)}")
        super().execute(drop)

    def _overwrite_from_here(
        self, target: str, kept: exp.Select, params: dict[str, Any] | None
    ) -> bool:
        """Overwrite a small table (a lock table's few rows) with the rows it keeps, read
        here and written back as parameters: 2 statements and no scratch table. False, with
        nothing written, where it keeps more rows or a value a parameter does not carry as
        it was read."""
        rows = self.fetchall(kept.limit(_FROM_HERE + 1).sql(self.sqlglot_dialect), params)
        if len(rows) > _FROM_HERE or not all(type(v) in _BOUND_AS_READ for r in rows for v in r):
            return False
        if not rows:
            super().execute(f"TRUNCATE TABLE {target}")
            return True
        tuples, values = value_tuples(rows)
        super().execute(f"INSERT OVERWRITE TABLE {target} VALUES {tuples}", values)
        return True

    def _rows_after(self, tree: exp.Expr) -> tuple[exp.Table, exp.Select]:
        """The target table, and a query of its rows as the statement would leave them."""
        if isinstance(tree, exp.Delete):
            target = tree.this
            where = tree.args.get("where")
            keep = exp.not_(exp.func("coalesce", where.this, exp.false())) if where else exp.false()
            return target, exp.select("*").from_(target.copy()).where(keep)
        if isinstance(tree, exp.Update):
            target = tree.this
            where = tree.args.get("where")
            hit = exp.func("coalesce", where.this, exp.false()) if where else exp.true()
            changes = {e.this.name.lower(): e.expression for e in tree.expressions}
            return target, exp.select(*self._columns(target, hit, changes, None)).from_(
                target.copy()
            )
        if isinstance(tree, exp.Merge):
            return tree.this, self._merged(tree)
        raise WarehouseError(
            f"Plain Spark cannot run {type(tree).__name__}", ErrorKind.SQL
        )  # pragma: no cover - only the three kinds above reach here

    def _merged(self, merge: exp.Merge) -> exp.Select:
        whens = merge.args["whens"].expressions
        if len(whens) != 1 or not whens[0].args.get("matched"):
            raise WarehouseError(
                "Plain Spark runs only MERGE ... WHEN MATCHED THEN UPDATE", ErrorKind.SQL
            )
        update = whens[0].args["then"]
        target = merge.this
        source = merge.args["using"]
        alias = source.alias
        marked = exp.Subquery(
            this=exp.select(exp.Star(), exp.alias_(exp.true(), _MATCHED, quoted=True)).from_(
                source.copy()
            ),
            alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
        )
        hit = exp.func("coalesce", exp.column(_MATCHED, table=alias, quoted=True), exp.false())
        changes = {e.this.name.lower(): e.expression for e in update.expressions}
        columns = self._columns(target, hit, changes, target.alias or None)
        return (
            exp.select(*columns)
            .from_(target.copy())
            .join(marked, on=merge.args["on"].copy(), join_type="left")
        )

    def _columns(
        self, target: exp.Table, hit: exp.Expr, changes: dict[str, exp.Expr], alias: str | None
    ) -> list[exp.Expr]:
        out: list[exp.Expr] = []
        for name, _ in self.table_columns(
            exp.Table(this=target.this.copy(), db=target.args.get("db"))
        ):
            column = exp.column(name, table=alias, quoted=True)
            new = changes.get(name.lower())
            value = (
                column if new is None else exp.If(this=hit.copy(), true=new.copy(), false=column)
            )
            out.append(exp.alias_(value, name, quoted=True))
        return out

    # -- catalog: SHOW and DESCRIBE ---------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return [str(row[0]) for row in self.fetchall("SHOW SCHEMAS")]

    def schema_tables(self, schemas: Sequence[str]) -> dict[str, list[str]]:
        return {schema: self.list_tables(schema) for schema in schemas}  # no information_schema

    def schema_columns_query(self, schema: str, pattern: str) -> exp.Query | None:
        return None  # no information_schema: the lock read cannot take the catalog along

    def schema_columns(self, schema: str, pattern: str) -> dict[str, list[tuple[str, str]]] | None:
        # One SHOW TABLE EXTENDED gives the tables and each one's schema tree, where SHOW
        # TABLES and a DESCRIBE per table would be a statement each. Its pattern is a regular
        # expression with * for .*: LIKE's _ becomes ., and other characters must be plain.
        if not re.fullmatch(r"[A-Za-z0-9_%]+", pattern):
            return None
        glob = pattern.replace("_", ".").replace("%", "*")
        name = exp.to_identifier(schema, quoted=True).sql(self.sqlglot_dialect)
        try:
            rows = self.fetchall(f"SHOW TABLE EXTENDED IN {name} LIKE '{glob}'")
        except Exception as error:  # noqa: BLE001 - a missing schema has no tables
            if error_class(error) in _NO_SCHEMA:
                return {}
            raise
        found: dict[str, list[tuple[str, str]]] = {}
        for _, table, is_temporary, information in rows:
            if is_temporary:
                continue
            columns = _tree_columns(str(information))
            if columns is None:  # a type the tree does not spell out: read it as DESCRIBE does
                columns = self.table_columns(
                    exp.Table(
                        this=exp.to_identifier(str(table), quoted=True),
                        db=exp.to_identifier(schema, quoted=True),
                    )
                )
            found[str(table)] = columns
        return found

    def list_tables(self, schema: str) -> list[str]:
        name = exp.to_identifier(schema, quoted=True).sql(self.sqlglot_dialect)
        try:
            rows = self.fetchall(f"SHOW TABLES IN {name}")
        except Exception as error:  # noqa: BLE001 - a missing schema has no tables
            if error_class(error) in _NO_SCHEMA:
                return []
            raise
        return [str(row[1]) for row in rows if not row[2]]  # (namespace, name, isTemporary)

    def view_definition(self, table: exp.Table) -> str | None:
        # A view's query is the "View Text" row of DESCRIBE TABLE EXTENDED; a table has none,
        # and a name that is neither is left to the model's own run to report.
        name = table.sql(self.sqlglot_dialect)
        try:
            rows = self.fetchall(f"DESCRIBE TABLE EXTENDED {name}")
        except Exception as error:  # noqa: BLE001 - not there: the run itself says so
            if error_class(error) in _NOT_FOUND:
                return None
            raise
        names = [str(row[0]) for row in rows]
        start = names.index(_DETAILS) + 1 if _DETAILS in names else 0
        details = {str(row[0]): str(row[1]) for row in rows[start:]}
        columns = _column_rows(rows)
        # DESCRIBE QUERY reads CHAR(n) and VARCHAR(n) as STRING: such a table is not kept.
        if details.get("Type") in _TABLE_TYPES and not any("CHAR(" in k for _, k in columns):
            self._described[name] = columns
        return details.get("View Text")

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        # A whole-table model's query, SELECT * FROM a table, has the columns view_definition
        # has just read from DESCRIBE TABLE EXTENDED, spelled as DESCRIBE QUERY spells them.
        # What was described is used once: a later model reads the catalog as it is then.
        described, self._described = self._described, {}
        table = _whole_table(sql, self.sqlglot_dialect)
        known = described.get(table.sql(self.sqlglot_dialect)) if table else None
        return known if known is not None else super().query_columns(sql)

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]]:
        return _column_rows(self.fetchall(f"DESCRIBE TABLE {table.sql(self.sqlglot_dialect)}"))


def _column_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[str, str]]:
    """(name, type) of the columns DESCRIBE TABLE lists first."""
    columns = []
    for name, kind, *_ in rows:
        if not name or str(name).startswith("#"):
            break  # partition and detail sections follow the columns
        columns.append((str(name), str(kind).upper()))
    return columns


def _whole_table(sql: str, dialect: str) -> exp.Table | None:
    """The table of ``SELECT * FROM <table>`` (a whole-table model's query); else None."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.ParseError:
        return None
    if not isinstance(tree, exp.Select) or [type(e) for e in tree.expressions] != [exp.Star]:
        return None
    source = tree.args.get("from_")
    table = source.this if isinstance(source, exp.From) else None
    others = [k for k, v in tree.args.items() if v and k not in ("expressions", "from_")]
    return table if isinstance(table, exp.Table) and not others and not table.alias else None


def _tree_columns(information: str) -> list[tuple[str, str]] | None:
    """(name, type) of a table's top-level columns, as DESCRIBE TABLE spells them, from its
    "Schema: root" tree (where CHAR(n) and VARCHAR(n) are STRING); None where a column's type
    is complex or a line is not understood."""
    lines = information.split("\n")
    if "Schema: root" not in lines:
        return None
    columns: list[tuple[str, str]] = []
    for line in lines[lines.index("Schema: root") + 1 :]:
        if not line.strip():
            break
        match = _TREE_COLUMN.match(line)
        if match is None or match["kind"] in _TREE_COMPLEX:
            return None
        kind = match["kind"]
        columns.append((match["name"], _TREE_TYPES.get(kind, kind.upper())))
    return columns

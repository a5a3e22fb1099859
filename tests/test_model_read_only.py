"""A model only reads: whatever would write, lock, change the session or reach outside the
warehouse is refused before it runs, on every warehouse, and leaves nothing behind; ordinary
complex queries still run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BigQueryWorkspace, SnowflakeWorkspace, Workspace
from tests.test_bad_input import ROWS, error_text

# (sql, what the error names); {tmp} is a directory the test checks stays empty.
REFUSED_EVERYWHERE = [
    ("select * into new_t from users", "SELECT ... INTO, which creates a table"),
    ("select id, email, name into temporary new_t from users", "SELECT ... INTO"),
    ("SELECT 1 AS id, 'e' AS email, 'n' AS name INTO new_t", "SELECT ... INTO"),
    ("create table new_t as select * from users", "is a CREATE statement, not a SELECT"),
    ("insert into users values (9, 'x', 'y') returning *", "is an INSERT statement"),
    ("with gone as (delete from users returning *) select * from gone", "it holds a DELETE"),
    (
        "with added as (insert into users values (9, 'x', 'y') returning *) select * from added",
        "it holds an INSERT",
    ),
    ("with moved as (update users set name = 'z' returning *) select * from moved", "an UPDATE"),
    (
        "select * from users where id in "
        "(with d as (delete from users returning id) select id from d)",
        "it holds a DELETE",
    ),
    ("copy users to '{tmp}/copied.csv'", "is a COPY statement"),
    ("copy (select * from users) to '{tmp}/copied.csv'", "is a COPY statement"),
    ("select * from users; delete from users", "holds 2 statements"),
    ("select * from users;\nselect * from users", "holds 2 statements"),
    ("set search_path = elsewhere", "is a SET statement"),
    ("call some_procedure()", "is a CALL statement"),
    ("explain select * from users", "is an EXPLAIN statement"),
    ("vacuum", "is a VACUUM statement"),
    ("select * from users for update", "a locking clause (FOR UPDATE / FOR SHARE)"),
    ("select * from users for share", "a locking clause"),
    ("select * from (select * from users) as u for update", "a locking clause"),
    ("select nextval('seq') as id, email, name from users", "nextval(), which advances a sequence"),
    ("select NEXTVAL('seq') as id, email, name from users", "nextval()"),
    ("select \"nextval\"('seq') as id, email, name from users", "nextval()"),
    ("select id, email, setval('seq', 100) as name from users", "setval(), which sets a sequence"),
    (
        "with x as (select id, (select nextval('seq')) as n from users) "
        "select u.id, u.email, u.name from users as u join x on x.id = u.id",
        "nextval()",
    ),
    ("select id, email, name, setseed(0.5) as s from users", "setseed()"),
]
# Snowflake's grammar differs: its form of a case above (its sequences are read as
# ``seq.NEXTVAL``; it has no setval or setseed), or the same SQL, refused because Snowflake
# cannot parse it (it has no RETURNING and no data-modifying WITH).
NOT_SNOWFLAKE_SQL = "could not be parsed as snowflake SQL"
ON_SNOWFLAKE = {
    "insert into users values (9, 'x', 'y') returning *": (
        "insert into users values (9, 'x', 'y')",
        "is an INSERT statement",
    ),
    "with gone as (delete from users returning *) select * from gone": NOT_SNOWFLAKE_SQL,
    "with added as (insert into users values (9, 'x', 'y') returning *) select * from added": (
        NOT_SNOWFLAKE_SQL
    ),
    "with moved as (update users set name = 'z' returning *) select * from moved": (
        NOT_SNOWFLAKE_SQL
    ),
    "select * from users where id in "
    "(with d as (delete from users returning id) select id from d)": NOT_SNOWFLAKE_SQL,
    "select nextval('seq') as id, email, name from users": (
        "select seq.nextval as id, email, name from users",
        "seq.nextval, which advances a sequence",
    ),
    "select NEXTVAL('seq') as id, email, name from users": (
        "select SEQ.NEXTVAL as id, email, name from users",
        "SEQ.NEXTVAL, which advances a sequence",
    ),
    "select \"nextval\"('seq') as id, email, name from users": (
        'select seq."NEXTVAL" as id, email, name from users',
        "advances a sequence",
    ),
    "select id, email, setval('seq', 100) as name from users": (
        "alter sequence seq set increment = 100",
        "is an ALTER statement",
    ),
    "with x as (select id, (select nextval('seq')) as n from users) "
    "select u.id, u.email, u.name from users as u join x on x.id = u.id": (
        "with x as (select id, (select seq.nextval) as n from users) "
        "select u.id, u.email, u.name from users as u join x on x.id = u.id",
        "seq.nextval",
    ),
    "select id, email, name, setseed(0.5) as s from users": (
        "select id, email, name, system$wait(0) as s from users",
        "system$wait(), which holds the warehouse",
    ),
}


# BigQuery has no sequences, no setval and no setseed (real BigQuery refuses those calls as
# unknown functions): its cases put BigQuery's calls that reach outside the query in the same
# places, in the same spellings (lower, upper, quoted, nested in a scalar subquery of a CTE).
# Its other differences need no case of their own: it has no RETURNING, data-modifying WITH,
# COPY or locking clause, and those are refused as written all the same.
ON_BIGQUERY = {
    "select nextval('seq') as id, email, name from users": (
        "select id, email, ai.generate('say hello').result as name from users",
        "ai.generate(), which calls a Vertex AI model",
    ),
    "select NEXTVAL('seq') as id, email, name from users": (
        "SELECT * FROM ML.GENERATE_TEXT(MODEL lightning.m, TABLE users)",
        "ml.generate_text(), which runs a BigQuery ML model",
    ),
    "select \"nextval\"('seq') as id, email, name from users": (
        "select `external_query`('us.crm', 'delete from t') as id, email, name from users",
        "external_query(), which runs SQL on an external database",
    ),
    "select id, email, setval('seq', 100) as name from users": (
        "select * from users where id in (select id from ml.predict(model lightning.m, "
        "table users))",
        "ml.predict(), which runs a BigQuery ML model",
    ),
    "with x as (select id, (select nextval('seq')) as n from users) "
    "select u.id, u.email, u.name from users as u join x on x.id = u.id": (
        "with x as (select id, (select ai.generate_bool('is it?').result) as n from users) "
        "select u.id, u.email, u.name from users as u join x on x.id = u.id",
        "ai.generate_bool()",
    ),
    "select id, email, name, setseed(0.5) as s from users": (
        "select base.* from vector_search(table lightning.docs, 'embedding', table users)",
        "vector_search(), which reads an index outside the query",
    ),
}
# Spark SQL and Databricks have no sequences, no setval and no setseed: their cases put the
# calls that reach outside the query (Databricks' SQL function reference: AI functions,
# http_request, secret, remote_query, read_files; Spark's reflect and java_method) in the
# same places and spellings. Like BigQuery, they have no RETURNING, data-modifying WITH or
# locking clause, which are refused as written all the same.
ON_DATABRICKS = {
    "select nextval('seq') as id, email, name from users": (
        "select reflect('java.lang.System', 'getProperty', 'user.home') as id, email, name "
        "from users",
        "reflect(), which calls a Java method",
    ),
    "select NEXTVAL('seq') as id, email, name from users": (
        "select id, email, AI_QUERY('endpoint', name) as name from users",
        "ai_query(), which calls a model serving endpoint",
    ),
    "select \"nextval\"('seq') as id, email, name from users": (
        "select id, email, `http_request`(conn => 'crm', method => 'GET', path => '/') as name "
        "from users",
        "http_request(), which sends an HTTP request",
    ),
    "select id, email, setval('seq', 100) as name from users": (
        "select id, email, secret('scope', 'key') as name from users",
        "secret(), which reads a secret",
    ),
    "with x as (select id, (select nextval('seq')) as n from users) "
    "select u.id, u.email, u.name from users as u join x on x.id = u.id": (
        "with x as (select id, (select java_method('java.lang.Thread', 'sleep', 1000L)) as n "
        "from users) select u.id, u.email, u.name from users as u join x on x.id = u.id",
        "java_method(), which calls a Java method",
    ),
    "select id, email, name, setseed(0.5) as s from users": (
        "select * from read_files('{tmp}/data.csv', format => 'csv')",
        "read_files(), which reads files from cloud storage",
    ),
}
BY_WAREHOUSE = {"snowflake": ON_SNOWFLAKE, "bigquery": ON_BIGQUERY, "spark": ON_DATABRICKS}


def _case(ws: Workspace, sql: str, what: str) -> tuple[str, str]:
    """The case as written for the workspace's warehouse."""
    cases = BY_WAREHOUSE.get(ws.kind, {})
    if sql not in cases:
        return sql, what
    own = cases[sql]
    return own if isinstance(own, tuple) else (sql, own)


REFUSED_ON = {
    "duckdb": [
        ("attach '{tmp}/other.duckdb' as other", "is an ATTACH statement"),
        ("pragma version", "is a PRAGMA statement"),
        ("install httpfs", "is an INSTALL statement"),
        ("load httpfs", "is a LOAD statement"),
        ("export database '{tmp}/exported'", "could not be parsed"),
        ("select * from read_csv('{tmp}/data.csv')", "read_csv(), which reads files or URLs"),
        ("select * from read_csv_auto('{tmp}/data.csv')", "reads files or URLs"),
        ("select * from read_parquet('{tmp}/data.parquet')", "read_parquet()"),
        ("select * from query('select * from users')", "query(), which runs SQL given as text"),
        ("select * from checkpoint()", "checkpoint(), which writes the database file"),
        ("select id, email, write_log('x') as name from users", "write_log()"),
        ("select * from users, glob('{tmp}/*')", "glob()"),
    ],
    "postgres": [
        ("select pg_terminate_backend(pg_backend_pid()) as id", "ends another session"),
        ("select id, email, pg_catalog.setval('seq', 5)::text as name from users", "setval()"),
        ("select lo_import('/etc/hostname') as id", "lo_import(), which reads or writes"),
        (
            "select * from dblink('dbname=x', 'delete from users') as t(id int)",
            "dblink(), which runs SQL on another server",
        ),
        ("select pg_advisory_lock(1) as id", "pg_advisory_lock(), which takes or releases"),
        ("select set_config('TimeZone', 'Asia/Kolkata', false) as id", "set_config()"),
        ("select query_to_xml('delete from users', true, true, '') as id", "query_to_xml()"),
        ("select * from users limit 1 for no key update", "a locking clause"),
        ("select pg_notify('c', 'x') as id", "pg_notify()"),
    ],
    # BigQuery's statements and calls that write, reach outside the query or change the
    # session (GoogleSQL reference: DML, DDL, EXPORT DATA, LOAD DATA, procedural language,
    # system procedures, EXTERNAL_QUERY, BigQuery ML and AI functions).
    "bigquery": [
        (
            "export data options (uri = 'gs://b/users-*.csv', format = 'CSV') as "
            "select * from users",
            "is an EXPORT statement",
        ),
        (
            "load data into users from files (format = 'CSV', uris = ['gs://b/u.csv'])",
            "it begins with 'load'",
        ),
        ("execute immediate 'delete from users where true'", "is an EXECUTE statement"),
        ("call bq.abort_session()", "is a CALL statement"),
        ("call bq.refresh_materialized_view('lightning.mv')", "is a CALL statement"),
        ("call lightning.archive_users()", "is a CALL statement"),
        ("declare n int64 default 1", "is a DECLARE statement"),
        ("set @@dataset_id = 'other'", "is a SET statement"),
        ("begin transaction", "it begins with 'begin'"),
        ("begin select 1 as id; end", "holds 2 statements"),
        ("create temp function f() as (1); select f() as id", "holds 2 statements"),
        ("assert (select count(*) from users) > 0", "it begins with 'assert'"),
        ("truncate table users", "it begins with 'truncate'"),
        (
            "merge users as t using users as s on t.id = s.id when matched then delete",
            "is a MERGE statement",
        ),
        ("create or replace table users as select 1 as id", "is a CREATE statement"),
        ("create snapshot table users_copy clone users", "is a CREATE statement"),
        ("drop table users", "is a DROP statement"),
        ("alter table users add column age int64", "is an ALTER statement"),
        ("grant `roles/bigquery.dataViewer` on table users to 'user:a@x.com'", "a GRANT"),
        ("select * from external_query('us.crm', 'delete from t')", "external_query()"),
        ("select * from ml.predict(model lightning.m, table users)", "ml.predict()"),
        (
            "select ml.generate_embedding(model lightning.m, (select 'x' as content)) as id",
            "ml.generate_embedding()",
        ),
        (
            "select * from AI.FORECAST(TABLE users, data_col => 'id', timestamp_col => 'd')",
            "ai.forecast(), which calls a Vertex AI model",
        ),
        ("select id, email, AI.GENERATE('x').result as name from users", "ai.generate()"),
    ],
}


NO_SEQUENCES = {"bigquery", "spark"}  # neither BigQuery nor Spark SQL / Databricks has them


def case_ids(cases: list[tuple[str, str]]) -> list[str]:
    return [sql[:60] for sql, _ in cases]


def _snowflake(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    """Snowflake SQL as written (the workspace's ``sql`` transpiles DuckDB's)."""
    assert isinstance(ws, SnowflakeWorkspace)
    with ws.connection().cursor() as cursor:
        return list(cursor.execute(sql).fetchall())


def _sequence_value(ws: Workspace) -> Any:
    if ws.kind in NO_SEQUENCES:
        return None
    if isinstance(ws, SnowflakeWorkspace):
        with ws.connection().cursor() as cursor:
            rows = cursor.execute("SHOW SEQUENCES").fetchall()
            names = [d.name.lower() for d in cursor.description]
        return [r[names.index("next_value")] for r in rows if r[names.index("name")] == "SEQ"]
    if ws.kind == "postgres":
        return ws.query("SELECT last_value, is_called FROM seq")[0]
    return ws.query("SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'seq'")[0]


def _everything(ws: Workspace, scratch: Path) -> dict[str, Any]:
    """What a refused model must leave as it was: relations, rows, the sequence, files."""
    return {
        "relations": _relations(ws),
        "users": sorted(ws.query("SELECT * FROM users"), key=repr),
        "sequence": _sequence_value(ws),
        "files": sorted(str(p) for p in scratch.rglob("*")),
        "out": (ws.root / "out").exists(),
    }


def _relations(ws: Workspace) -> list[Any]:
    if isinstance(ws, BigQueryWorkspace):  # every dataset of the project, from the API
        client = ws.client()
        return sorted(
            (dataset.dataset_id, table.table_id, table.table_type)
            for dataset in client.list_datasets()
            for table in client.list_tables(dataset.reference)
        )
    return ws.query(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
    )


def _setup(ws: Workspace, scratch: Path) -> None:
    ws.users(ROWS)
    scratch.mkdir()
    if ws.kind in NO_SEQUENCES:
        return
    ws.sql("CREATE SEQUENCE seq START 1")
    if ws.kind == "snowflake":
        _snowflake(ws, "SELECT seq.nextval")
    else:
        ws.sql("SELECT nextval('seq')")


def refused_and_nothing_written(ws: Workspace, scratch: Path, sql: str, what: str) -> None:
    _setup(ws, scratch)
    (scratch / "data.csv").write_text("id,email,name\n1,a@x,A\n")
    ws.simple_project(model={"sql": sql.format(tmp=scratch)})
    for command in ("plan", "run"):
        before = _everything(ws, scratch)
        result = ws.cli(command, "s")
        assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
        message = error_text(result)
        assert "models.users.sql" in message and what in message, message
        assert "Fix:" in message and "Traceback" not in message
        assert _everything(ws, scratch) == before


@pytest.mark.each_warehouse
@pytest.mark.parametrize(("sql", "what"), REFUSED_EVERYWHERE, ids=case_ids(REFUSED_EVERYWHERE))
def test_a_model_that_writes_is_refused_and_writes_nothing(
    ws: Workspace, tmp_path: Path, sql: str, what: str
) -> None:
    refused_and_nothing_written(ws, tmp_path / "scratch", *_case(ws, sql, what))


@pytest.mark.parametrize(("sql", "what"), REFUSED_ON["duckdb"], ids=case_ids(REFUSED_ON["duckdb"]))
def test_duckdb_statements_and_functions_are_refused(
    ws: Workspace, tmp_path: Path, sql: str, what: str
) -> None:
    assert ws.kind == "duckdb"
    refused_and_nothing_written(ws, tmp_path / "scratch", sql, what)


@pytest.mark.parametrize(
    ("sql", "what"), REFUSED_ON["postgres"], ids=case_ids(REFUSED_ON["postgres"])
)
def test_postgres_functions_are_refused(
    pg_ws: Workspace, tmp_path: Path, sql: str, what: str
) -> None:
    refused_and_nothing_written(pg_ws, tmp_path / "scratch", sql, what)


@pytest.mark.parametrize(
    ("sql", "what"), REFUSED_ON["bigquery"], ids=case_ids(REFUSED_ON["bigquery"])
)
def test_bigquery_statements_and_functions_are_refused(
    bq_ws: Workspace, tmp_path: Path, sql: str, what: str
) -> None:
    refused_and_nothing_written(bq_ws, tmp_path / "scratch", sql, what)


VIEWS = {
    "duckdb": [
        ("CREATE VIEW v AS SELECT * FROM read_csv('{tmp}/data.csv')", "read_csv()"),
        ("CREATE VIEW v AS SELECT * FROM query('SELECT * FROM users')", "query()"),
    ],
    "postgres": [
        ("CREATE VIEW v AS SELECT * FROM users FOR UPDATE", "a locking clause"),
        ("CREATE VIEW v AS SELECT * FROM users WHERE pg_try_advisory_lock(id)", "advisory lock"),
    ],
    "snowflake": [
        (
            "CREATE VIEW v AS SELECT * FROM users "
            "WHERE SYSTEM$CANCEL_ALL_QUERIES(CURRENT_SESSION()) IS NOT NULL",
            "system$cancel_all_queries(), which cancels running queries",
        ),
        (
            "CREATE VIEW v AS SELECT id, email, name FROM users WHERE id < (SELECT seq.nextval)",
            "seq.nextval, which advances a sequence",
        ),
    ],
    "spark": [
        (
            "CREATE VIEW v AS SELECT id, email, reflect('java.util.UUID', 'randomUUID') AS name "
            "FROM users",
            "reflect(), which calls a Java method",
        ),
        (
            "CREATE VIEW v AS SELECT id, email, name FROM users "
            "WHERE java_method('java.lang.Math', 'abs', id) >= 0",
            "java_method(), which calls a Java method",
        ),
    ],
}


@pytest.mark.each_warehouse
@pytest.mark.parametrize("index", [-1, 0, 1])
@pytest.mark.parametrize("model", [{"sql": "select * from v"}, {"sql": None, "table": "v"}])
def test_a_view_that_does_not_only_read_is_refused(
    ws: Workspace, tmp_path: Path, index: int, model: dict[str, str | None]
) -> None:
    """The views a model reads are held to the model's rule, however deep."""
    scratch = tmp_path / "scratch"
    _setup(ws, scratch)
    (scratch / "data.csv").write_text("id,email,name\n1,a@x,A\n")
    if index == -1:
        view, what = _case(ws, "select nextval('seq') as id, email, name from users", "nextval()")
        view = f"CREATE VIEW v AS {view}"
    else:
        view, what = VIEWS[ws.kind][index]
    views = [
        view.format(tmp=scratch).replace("VIEW v ", "VIEW inner_v "),
        "CREATE VIEW middle_v AS SELECT * FROM (SELECT * FROM inner_v) AS i",
        "CREATE VIEW v AS WITH m AS (SELECT * FROM middle_v) SELECT * FROM m",
    ]
    for statement in views:
        # Snowflake's views as its users write them: unquoted names, stored in upper case.
        _snowflake(ws, statement) if ws.kind == "snowflake" else ws.sql(statement)
    if ws.kind == "snowflake" and model.get("table"):
        model = {**model, "table": "V"}  # a table model names it as stored, quoted
    ws.simple_project(model=model)
    before = _everything(ws, scratch)
    result = ws.cli("run", "s")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    message = error_text(result)
    where = "sql" if model["sql"] else "table"
    assert f"models.users.{where} does not only read: it reads view" in message, message
    assert "inner_v" in message.lower() and what in message and "Fix:" in message
    assert _everything(ws, scratch) == before


def test_postgres_describes_a_model_read_only(pg_ws: Workspace, tmp_path: Path) -> None:
    """What no SQL check sees (a function the server inlines into the model, here one that
    locks rows) still cannot write: the model is described in a read-only transaction."""
    scratch = tmp_path / "scratch"
    _setup(pg_ws, scratch)
    pg_ws.sql(
        "CREATE FUNCTION locked() RETURNS SETOF users LANGUAGE sql STABLE "
        "AS 'SELECT * FROM users FOR UPDATE'"
    )
    pg_ws.simple_project(model={"sql": "select * from locked()"})
    before = _everything(pg_ws, scratch)
    result = pg_ws.cli("run", "s")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    message = error_text(result)
    assert "models.users failed in the warehouse" in message, message
    assert "cannot execute SELECT FOR UPDATE in a read-only transaction" in message
    assert "Fix the model's SQL" in message
    assert _everything(pg_ws, scratch) == before


def test_duckdb_views_reach_no_file(ws: Workspace, tmp_path: Path) -> None:
    """What no SQL check sees (a file named as a table, in a view) is not read either: the
    engine's DuckDB sessions have no file access."""
    scratch = tmp_path / "scratch"
    _setup(ws, scratch)
    (scratch / "data.csv").write_text("id,email,name\n1,a@x,A\n")
    ws.sql(f"CREATE VIEW v AS SELECT * FROM '{scratch}/data.csv'")
    ws.simple_project(model={"sql": "select * from v"})
    before = _everything(ws, scratch)
    result = ws.cli("run", "s")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    message = error_text(result)
    assert "models.users failed in the warehouse" in message, message
    assert "file system operations are disabled by configuration" in message
    assert _everything(ws, scratch) == before


def test_a_file_named_as_a_table_is_not_read(ws: Workspace, tmp_path: Path) -> None:
    """DuckDB reads a file named in FROM as a table: not in a model (file access is off)."""
    assert ws.kind == "duckdb"
    scratch = tmp_path / "scratch"
    _setup(ws, scratch)
    (scratch / "data.csv").write_text("id,email,name\n1,a@x,A\n")
    ws.simple_project(model={"sql": f"select * from '{scratch}/data.csv'"})
    result = ws.cli("run", "s")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "file system operations are disabled by configuration" in error_text(result)


COMPLEX_SELECT = """
-- users, ranked; comments and strings may say INSERT, DELETE or ;
WITH ranked AS (
    SELECT id, email, name,
           row_number() OVER (PARTITION BY id ORDER BY email) AS rn /* window; INSERT */
    FROM users
),
extra AS (
    SELECT 100 AS id, 'DELETE FROM users;' AS email, 'INSERT INTO x; --' AS name
)
SELECT id, email, name || ';' AS name FROM ranked
WHERE rn = 1 AND id IN (SELECT id FROM users WHERE email LIKE '%@x')
UNION ALL
SELECT id, email, name FROM extra
;  -- one trailing semicolon, then a comment
"""


PLAIN = {str(i): {"email": e, "name": n} for i, e, n in ROWS}
COMPLEX = {str(i): {"email": e, "name": n + ";"} for i, e, n in ROWS} | {
    "100": {"email": "DELETE FROM users;", "name": "INSERT INTO x; --"}
}


# BigQuery's spelling where GoogleSQL differs: a quote in a string is escaped with a
# backslash (not doubled), and a set operation says ALL or DISTINCT.
ORDINARY_ON_BIGQUERY = {
    "select id, email, 'nextval(''seq''); delete from users' as name from users": (
        "select id, email, 'nextval(\\'seq\\'); delete from users' as name from users"
    ),
    "select id, email, name from users where id in (select 1 union select 2 "
    "intersect select 2 union select 3) and name not like '%INTO%'": (
        "select id, email, name from users where id in (select 1 union distinct (select 2 "
        "intersect distinct select 2) union distinct select 3) and name not like '%INTO%'"
    ),
}


# Spark SQL's: a quote in a string is escaped with a backslash (two quotes end one string
# and begin the next, which Spark joins).
ORDINARY_ON_SPARK = {
    "select id, email, 'nextval(''seq''); delete from users' as name from users": (
        "select id, email, 'nextval(\\'seq\\'); delete from users' as name from users"
    ),
}


@pytest.mark.each_warehouse
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(COMPLEX_SELECT, COMPLEX, id="cte-window-union-comments-strings"),
        pytest.param("select * from users;", PLAIN, id="trailing-semicolon"),
        pytest.param("select * from users -- a comment", PLAIN, id="trailing-comment"),
        pytest.param("select * from users; /* a comment */", PLAIN, id="semicolon-then-comment"),
        pytest.param("select * from users;\n-- a comment\n", PLAIN, id="semicolon-line-comment"),
        pytest.param("(select * from users)", PLAIN, id="parenthesised"),
        pytest.param(
            "select u.id, u.email, (select max(name) from users as m where m.id = u.id) as name"
            " from users as u order by u.id",
            PLAIN,
            id="scalar-subquery",
        ),
        pytest.param(
            "select id, email, 'nextval(''seq''); delete from users' as name from users",
            {k: {**v, "name": "nextval('seq'); delete from users"} for k, v in PLAIN.items()},
            id="function-and-statement-in-a-string",
        ),
        pytest.param(
            "select id, email, name from users where id in (select 1 union select 2 "
            "intersect select 2 union select 3) and name not like '%INTO%'",
            PLAIN,
            id="set-operations",
        ),
    ],
)
def test_ordinary_queries_still_run(
    ws: Workspace, sql: str, expected: dict[str, dict[str, str]]
) -> None:
    ws.users(ROWS)
    sql = {"bigquery": ORDINARY_ON_BIGQUERY, "spark": ORDINARY_ON_SPARK}.get(ws.kind, {}).get(
        sql, sql
    )
    if ws.kind not in NO_SEQUENCES:
        ws.sql("CREATE SEQUENCE seq START 1")
    ws.simple_project(model={"sql": sql})
    result = ws.cli("run", "s")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    run_dir = sorted((ws.root / "out" / "s").iterdir())[-1]
    lines = (run_dir / "added.jsonl").read_text().splitlines()
    sent = {r["row_id"]: r["fields"] for r in map(json.loads, lines)}
    assert sent == expected


@pytest.mark.each_warehouse
def test_views_that_only_read_still_run(ws: Workspace) -> None:
    ws.users(ROWS)
    views = [
        "CREATE SCHEMA other",
        "CREATE VIEW other.ranked AS SELECT id, email, name, "
        "row_number() OVER (PARTITION BY id ORDER BY email) AS rn FROM users",
        "CREATE VIEW firsts AS SELECT id, email, name FROM other.ranked WHERE rn = 1",
    ]
    if ws.kind == "bigquery":
        # A BigQuery view names its tables with their dataset (it has no default one).
        views = [v.replace("FROM users", "FROM lightning.users") for v in views]
    if ws.kind == "snowflake":
        # CREATE SCHEMA makes the new schema the session's current one on Snowflake.
        views.insert(1, "USE SCHEMA public")
        views = [v.replace("FROM users", "FROM public.users") for v in views]
    for statement in views:
        _snowflake(ws, statement) if ws.kind == "snowflake" else ws.sql(statement)
    ws.simple_project(model={"sql": "with f as (select * from firsts) select * from f"})
    result = ws.cli("run", "s")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    run_dir = sorted((ws.root / "out" / "s").iterdir())[-1]
    lines = (run_dir / "added.jsonl").read_text().splitlines()
    assert {r["row_id"]: r["fields"] for r in map(json.loads, lines)} == PLAIN

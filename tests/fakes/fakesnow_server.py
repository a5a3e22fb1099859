"""The fakesnow Snowflake emulator's server, made to answer as Snowflake where the tests
need it (each change below; nothing else is changed).

Run with the Python of fakesnow's own virtualenv (it pins its own sqlglot and duckdb):
``python tests/fakes/fakesnow_server.py -s -p PORT --host 127.0.0.1``, as ``fakesnow``'s own
server mode.

fakesnow hands Snowflake's ``HASH(...)`` to DuckDB's ``hash``, an unsigned 64-bit value; one
above 2^63 cannot be serialized back to the client (HTTP 500, then the connector retries).
Here it is shifted right by one bit (63 bits, always a valid signed BIGINT): still a hash of
the same values, so plans and diffs behave as on Snowflake.

A constraint a write breaks is answered as Snowflake answers it (an error for the statement,
code 100072), where fakesnow would answer HTTP 500 and the connector would retry.

Transactions of sessions that are gone end as on Snowflake
(https://docs.snowflake.com/en/sql-reference/transactions#aborting-transactions): a session
that is closed or deleted has its open transaction rolled back; a transaction left open by a
client that died (detached) is rolled back once it has been idle for ``DETACHED_AFTER`` seconds
while another session waits to write (Snowflake aborts it after 5 idle minutes when it blocks
another transaction). Until then a write waits, as for a lock on Snowflake, while another
session's transaction is open: fakesnow, on DuckDB, would instead fail the write on its first
conflict, and every write after it for as long as the dead transaction stays open.

A large result is split into chunks as Snowflake splits it: the first rows inline, the rest as
chunks the connector downloads one by one from URLs in the response (served here, each once).
fakesnow would send the whole result inline, so a client could never hold less than all of it.

``ARRAY_CONSTRUCT(...) AS name`` is an ARRAY (JSON underneath), as it already is without the
alias; fakesnow left it a DuckDB list, whose type it cannot describe (HTTP 500).

A column declared ``NUMBER(38,0)`` holds 38 digits, as on Snowflake (a DuckDB DECIMAL(38,0));
fakesnow made it a BIGINT, which refuses integers beyond 64 bits. ``INT``, ``BIGINT`` and a
bare ``NUMBER`` stay BIGINT as fakesnow has them.

A NUMBER column whose values fit 64 bits is sent as Snowflake sends it: the unscaled
integers (``1250`` for ``12.50``) with the scale in the column's metadata, where fakesnow sent
DuckDB's 128-bit decimals (Snowflake's Arrow results carry a NUMBER as the narrowest integer
type that holds a chunk's values, which the connector's Arrow reader converts to doubles
unless told to read decimals).

Two catalog answers are made Snowflake's: ``INFORMATION_SCHEMA.VIEWS.VIEW_DEFINITION`` holds a
view's text as it was written (fakesnow keeps DuckDB's rewrite of it, where ``seq.NEXTVAL``
has become ``nextval('SEQ')``), and ``SHOW SEQUENCES`` answers the sequence's next value
(fakesnow answers its start value, whatever was drawn since). And Snowflake's system control
functions the tests put in views (``SYSTEM$CANCEL_ALL_QUERIES``, ``SYSTEM$WAIT``), which
DuckDB has not, become a NULL for DuckDB, so such a view can be created as on Snowflake (the
engine must refuse it before it runs). Nothing else is changed.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import re
import secrets
import threading
import time
from string import Template
from typing import Any

import duckdb
import fakesnow.arrow
import fakesnow.transforms
import pyarrow as pa
import snowflake.connector
import sqlglot
from fakesnow import info_schema
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.transforms import show
from sqlglot import exp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Before fakesnow.server is imported: it makes its shared database on import.
_VIEW_TEXT = "_fs_global._fs_information_schema.lightning_view_text"
_global_sql = info_schema.fs_global_creation_sql
info_schema.fs_global_creation_sql = lambda: (  # type: ignore[assignment]
    f"{_global_sql()}; CREATE TABLE IF NOT EXISTS {_VIEW_TEXT} (catalog VARCHAR, "
    "schema VARCHAR, name VARCHAR, text VARCHAR, PRIMARY KEY (catalog, schema, name))"
)
info_schema.SQL_CREATE_INFORMATION_SCHEMA_VIEWS_VIEW = Template(
    info_schema.SQL_CREATE_INFORMATION_SCHEMA_VIEWS_VIEW.template.replace(
        "sql as VIEW_DEFINITION",
        f"coalesce((select t.text from {_VIEW_TEXT} as t where t.catalog = database_name "
        "and t.schema = schema_name and t.name = view_name), sql) as VIEW_DEFINITION",
    )
)
show.SQL_CREATE_VIEW_SHOW_SEQUENCES = show.SQL_CREATE_VIEW_SHOW_SEQUENCES.replace(
    "start_value as next_value", "coalesce(last_value + increment_by, start_value) as next_value"
)

server = importlib.import_module("fakesnow.server")  # the package exports a function so named
_transform = FakeSnowflakeCursor._transform
_DONE = "lightning_signed_hash"


_NO_DUCKDB_FUNCTION = {"SYSTEM$CANCEL_ALL_QUERIES", "SYSTEM$WAIT"}


def _signed_hash(self: Any, expression: exp.Expr, params: Any) -> exp.Expr:
    for node in list(expression.find_all(exp.Anonymous)):
        if node.name.upper() in _NO_DUCKDB_FUNCTION:
            node.replace(exp.Null())
            continue
        if node.name.upper() == "HASH" and not node.meta.get(_DONE):
            inner = node.copy()
            inner.meta[_DONE] = True
            shifted = exp.BitwiseRightShift(this=inner, expression=exp.Literal.number(1))
            node.replace(exp.paren(shifted))
    return _transform(self, expression, params)


FakeSnowflakeCursor._transform = _signed_hash  # type: ignore[method-assign]

_execute = FakeSnowflakeCursor._execute


def _constraint_as_error(self: Any, transformed: exp.Expr, params: Any = None) -> None:
    try:
        _execute(self, transformed, params)
    except duckdb.ConstraintException as error:
        message = str(error.args[0]).split("\n")[0]
        raise snowflake.connector.errors.ProgrammingError(
            msg=message, errno=100072, sqlstate="22000"
        ) from error


FakeSnowflakeCursor._execute = _constraint_as_error  # type: ignore[method-assign]


DETACHED_AFTER = 3.0  # seconds; Snowflake: 300
_idle_since: dict[int, float] = {}  # id(connection) -> when its last statement ended
_guard = threading.Lock()
_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_READS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "USE", "LIST", "COMMIT", "ROLLBACK"}


_open: set[int] = set()  # id(connection) of sessions with an explicit transaction open


def _in_transaction(connection: Any) -> bool:
    # fakesnow tracks transactions only with autocommit off; BEGIN ... COMMIT is tracked here.
    return id(connection) in _open or bool(connection._in_transaction)  # noqa: SLF001


def _roll_back(connection: Any) -> None:
    if _in_transaction(connection):
        connection._duck_conn.execute("ROLLBACK")  # noqa: SLF001
        connection._in_transaction = False  # noqa: SLF001
        _open.discard(id(connection))


def _wait_for_other_transactions(current: Any) -> None:
    """Before a write: wait while another session's transaction is open (Snowflake's lock
    wait, table-agnostic here), rolling back one left idle for DETACHED_AFTER seconds."""
    while True:
        with _guard:
            now = time.monotonic()
            waiting = False
            for connection in list(server.sessions.values()):
                if connection is current or not _in_transaction(connection):
                    continue
                idle_since = _idle_since.get(id(connection))
                if idle_since is not None and now - idle_since > DETACHED_AFTER:
                    server.logger.info("rolled back a detached transaction")
                    _roll_back(connection)
                else:
                    waiting = True
            if not waiting:
                return
        time.sleep(0.05)


def _first_word(command: Any) -> str:
    words = _COMMENTS.sub(" ", str(command)).split(None, 1)
    return words[0].upper().rstrip(";") if words else ""


_cursor_execute = FakeSnowflakeCursor.execute


def _execute_tracked(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
    connection = self._conn  # noqa: SLF001
    first = _first_word(command)
    if not _in_transaction(connection) and first not in _READS:
        _wait_for_other_transactions(connection)
    _idle_since.pop(id(connection), None)  # busy
    try:
        result = _cursor_execute(self, command, *args, **kwargs)
        if first in ("BEGIN", "START"):
            _open.add(id(connection))
        return result
    finally:
        if first in ("COMMIT", "ROLLBACK"):
            _open.discard(id(connection))
        _idle_since[id(connection)] = time.monotonic()


FakeSnowflakeCursor.execute = _execute_tracked  # type: ignore[method-assign]


class _Sessions(dict[str, Any]):
    """fakesnow's sessions; one that is deleted (closed or aborted) rolls back first."""

    def __delitem__(self, token: str) -> None:
        connection = self[token]
        super().__delitem__(token)
        with _guard:
            _roll_back(connection)


server.sessions = _Sessions(server.sessions)


CHUNK_ROWS = 10_000  # rows per result chunk (Snowflake sizes its chunks by bytes)
_chunks: dict[str, bytes] = {}  # key -> an Arrow IPC stream not yet downloaded


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


async def _chunked_query_request(request: Request) -> Response:
    response = await server.query_request(request)
    answer = json.loads(bytes(response.body))
    data = answer.get("data") or {}
    inline = data.get("rowsetBase64") if answer.get("success") else None
    if not inline:
        return response
    table = pa.ipc.open_stream(base64.b64decode(inline)).read_all()
    if table.num_rows <= CHUNK_ROWS:
        return response
    base = f"{request.url.scheme}://{request.url.netloc}/lightning-chunks"
    data["rowsetBase64"] = base64.b64encode(_ipc(table.slice(0, CHUNK_ROWS))).decode()
    data["chunks"] = []
    for start in range(CHUNK_ROWS, table.num_rows, CHUNK_ROWS):
        part = table.slice(start, CHUNK_ROWS)
        key = secrets.token_urlsafe(16)
        _chunks[key] = _ipc(part)
        size = len(_chunks[key])
        data["chunks"].append(
            {
                "url": f"{base}/{key}",
                "rowCount": part.num_rows,
                "uncompressedSize": size,
                "compressedSize": size,
            }
        )
    return JSONResponse(answer)


async def _chunk(request: Request) -> Response:
    body = _chunks.pop(request.path_params["key"], None)
    if body is None:
        return Response(status_code=404)
    return Response(body, media_type="application/octet-stream")


def app() -> Starlette:
    """fakesnow's routes, with query results chunked and the chunks served."""
    routes = [
        Route(r.path, _chunked_query_request, methods=["POST"])
        if getattr(r, "path", None) == "/queries/v1/query-request"
        else r
        for r in server.routes
    ]
    routes.append(Route("/lightning-chunks/{key}", _chunk, methods=["GET"]))
    return Starlette(routes=routes)


def main() -> None:
    """fakesnow's server mode (``fakesnow -s -p PORT --host HOST``), with the changes above."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-s", "--server", action="store_true", help="accepted, as fakesnow's")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(app(), host=args.host, port=args.port, log_level="info")


_array_construct = fakesnow.transforms.array_construct_etc


def _aliased_array_construct(expression: exp.Expr) -> exp.Expr:
    parent = expression.parent
    if (
        isinstance(expression, exp.Array)
        and isinstance(parent, exp.Alias)
        and isinstance(parent.parent, exp.Select)
    ):
        return exp.Anonymous(this="json_array", expressions=expression.expressions)
    return _array_construct(expression)


fakesnow.transforms.array_construct_etc = _aliased_array_construct

_integer_precision = fakesnow.transforms.integer_precision


def _number_38_kept(expression: exp.Expr) -> exp.Expr:
    if (
        isinstance(expression, exp.DataType)
        and expression.this == exp.DataType.Type.DECIMAL
        and [p.name for p in expression.expressions] == ["38", "0"]
    ):
        return expression
    return _integer_precision(expression)


fakesnow.transforms.integer_precision = _number_38_kept

_to_sf = fakesnow.arrow.to_sf
_INT64 = range(-(2**63), 2**63)


def _narrow_numbers(table: pa.Table, rowtype: Any) -> pa.Table:
    table = _to_sf(table, rowtype)
    for index, field in enumerate(table.schema):
        if not pa.types.is_decimal(field.type):
            continue
        unscaled = [
            None if v is None else int(v.scaleb(field.type.scale))
            for v in table.column(index).to_pylist()
        ]
        if all(v is None or v in _INT64 for v in unscaled):
            narrowed = field.with_type(pa.int64())  # keeps the scale in its metadata
            table = table.set_column(index, narrowed, pa.array(unscaled, pa.int64()))
    return table


# fakesnow.server took its own name for to_sf when imported above: both are replaced.
fakesnow.arrow.to_sf = _narrow_numbers
server.to_sf = _narrow_numbers

def _name(identifier: Any, default: str | None) -> str | None:
    if not isinstance(identifier, exp.Identifier):
        return default
    return identifier.name if identifier.quoted else identifier.name.upper()


_execute_command = FakeSnowflakeCursor.execute


def _keep_view_text(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
    result = _execute_command(self, command, *args, **kwargs)
    try:
        created = sqlglot.parse_one(command, read="snowflake")
    except sqlglot.errors.ParseError:
        return result
    if isinstance(created, exp.Create) and str(created.args.get("kind")).upper() == "VIEW":
        table = created.this.this if isinstance(created.this, exp.Schema) else created.this
        where = [
            _name(table.args.get("catalog"), self._conn.database),
            _name(table.args.get("db"), self._conn.schema),
            _name(table.this, None),
        ]
        self._duck_conn.execute(
            f"INSERT OR REPLACE INTO {_VIEW_TEXT} VALUES (?, ?, ?, ?)", [*where, command]
        )
    return result


FakeSnowflakeCursor.execute = _keep_view_text  # type: ignore[method-assign]

if __name__ == "__main__":
    main()

"""Snowflake's own forms of what a model may not do (tests/test_model_read_only.py holds the
rule on every warehouse): reading a sequence (``seq.NEXTVAL``) and its system control
functions are refused before anything runs, and leave nothing behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot

from dialects.snowflake import SnowflakeDialect
from engine.read_only import NotReadOnly, check_read_only
from tests.conftest import SnowflakeWorkspace
from tests.test_model_read_only import case_ids, refused_and_nothing_written

# (sql, what the error names)
REFUSED = [
    ("select public.seq.nextval as id, email, name from users", "public.seq.nextval"),
    ("select id, email, name from users where id < (select seq.nextval)", "seq.nextval"),
    ("select system$cancel_query('01a2') as id", "system$cancel_query(), which cancels"),
    ("select system$abort_session(1) as id", "ends another session or transaction"),
    (
        "select id, email, system$send_email('i', 'a@x', 's', name) as name from users",
        "system$send_email(), which sends a message outside the warehouse",
    ),
    ("select system$log('info', 'x') as id", "writes to the account's event table"),
    ("select system$set_return_value('x') as id", "system$set_return_value()"),
    ("select system$pipe_force_resume('p') as id", "resumes a pipe"),
    ("execute immediate 'delete from users'", "is an EXECUTE statement"),
    ("select * from users for update", "a locking clause"),
]


@pytest.mark.parametrize(("sql", "what"), REFUSED, ids=case_ids(REFUSED))
def test_snowflake_statements_and_functions_are_refused(
    sf_ws: SnowflakeWorkspace, tmp_path: Path, sql: str, what: str
) -> None:
    refused_and_nothing_written(sf_ws, tmp_path / "scratch", sql, what)


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("select seq.nextval as id from users", "seq.nextval"),
        ("select db.s.seq.nextval as id from users", "db.s.seq.nextval"),
        ("select u.nextval as id from users as u", None),
        ("select users.nextval as id from users", None),
        ("select n.nextval as id from (select 1 as nextval) as n", None),
        ("with n as (select 1 as nextval) select n.nextval as id from n", None),
        ("select nextval as id from users", None),
        ("select system$typeof(id) as id from users", None),
        ("select system$clustering_information('users') as id", None),
    ],
)
def test_snowflake_sequence_reads_are_told_from_columns_named_nextval(
    sql: str, refused: str | None
) -> None:
    """``x.NEXTVAL`` reads a sequence unless ``x`` is a relation of the query (whose column
    NEXTVAL it then is); Snowflake's information functions only read. (The emulator cannot
    tell: it reads any ``x.nextval`` as a sequence.)"""
    query = sqlglot.parse_one(sql, read=SnowflakeDialect.sqlglot_dialect)
    dialect = SnowflakeDialect({}, Path("."))
    if refused is None:
        check_read_only(query, dialect)
    else:
        with pytest.raises(NotReadOnly, match=re.escape(f"{refused}, which advances a sequence")):
            check_read_only(query, dialect)

"""Snowflake SQL as the engine writes it: sqlglot's Snowflake dialect with one tweak, and
server-side parameter numbering (see :mod:`dialects.snowflake`)."""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake


class LightningSnowflake(Snowflake):
    """sqlglot's Snowflake, writing a JSON object cast to text as ``TO_JSON(...)`` (an
    OBJECT does not cast to VARCHAR)."""

    class Generator(Snowflake.Generator):  # type: ignore[name-defined,misc,valid-type]
        def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
            if isinstance(expression.this, exp.JSONObject) and expression.to.is_type("text"):
                return self.func("TO_JSON", expression.this)
            return str(super().cast_sql(expression, safe_prefix))


@lru_cache(maxsize=256)
def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """The statement with each ``:name`` placeholder as ``:n`` (the connector's server-side
    ``numeric`` style), and the names in number order. Found by parsing, so a ``:`` inside a
    string, a comment or a path (``v:name``) is never taken for one."""
    tree = sqlglot.parse_one(sql, read=LightningSnowflake)
    names: list[str] = []
    placeholders = list(tree.find_all(exp.Placeholder))
    if not placeholders:
        return sql, ()
    for node in placeholders:
        if node.name not in names:
            names.append(node.name)
        node.set("this", str(names.index(node.name) + 1))
    return tree.sql(dialect=LightningSnowflake), tuple(names)

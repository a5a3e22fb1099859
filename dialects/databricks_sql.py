"""Databricks SQL as the engine writes it: sqlglot's Databricks dialect with four tweaks (see
:mod:`dialects.databricks`). The same text runs on plain Spark SQL (``type: spark``), which is
how it is proven without a workspace.

- No ``JSON`` type: a JSON column is a ``STRING`` holding JSON text.
- A JSON object is ``to_json(struct(v AS `k`, ...), map('ignoreNullFields', 'false'))``: sqlglot's
  ``JSON_OBJECT('k': v)`` is not Spark SQL, and ``to_json`` without the option drops the keys
  whose value is NULL (a field changed to NULL would vanish from the sync logs).
- ``UPDATE ... FROM`` (which Databricks does not have) is a ``MERGE INTO`` whose source is the
  ``FROM`` and whose condition is the ``WHERE``.
- A ``LATERAL VIEW``'s table alias keeps its quotes (sqlglot writes it by name).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.databricks import Databricks

KEEP_NULL_FIELDS = exp.Map(
    keys=exp.Array(expressions=[exp.Literal.string("ignoreNullFields")]),
    values=exp.Array(expressions=[exp.Literal.string("false")]),
)


def json_object(node: exp.JSONObject) -> exp.Expr:
    """A JSON object (key/value pairs) as Spark SQL builds it, NULL-valued keys kept."""
    # struct(v AS `k`), not named_struct('k', v): the same struct, and its field names stay
    # quoted identifiers when the statement is parsed again (sqlglot reads named_struct as a
    # struct whose field names are unquoted).
    fields = [
        exp.alias_(pair.expression.copy(), exp.to_identifier(pair.this.name, quoted=True))
        for pair in node.expressions
    ]
    struct = exp.Struct(expressions=fields)
    options = exp.Anonymous(
        this="map",
        expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")],
    )
    return exp.Anonymous(this="to_json", expressions=[struct, options])


def update_as_merge(update: exp.Update) -> exp.Merge:
    """``UPDATE t AS d SET c = f.c FROM (...) AS f WHERE cond`` as the MERGE that does it."""
    source = update.args["from_"].this.copy()
    target = update.this.alias or None
    sets = [
        exp.EQ(this=exp.column(e.this.name, table=target, quoted=True), expression=e.expression)
        for e in (e.copy() for e in update.expressions)
    ]
    action = exp.When(matched=True, then=exp.Update(expressions=sets))
    return exp.Merge(
        this=update.this.copy(),
        using=source,
        on=update.args["where"].this.copy(),
        whens=exp.Whens(expressions=[action]),
    )


class LightningDatabricks(Databricks):
    """sqlglot's Databricks with the engine's JSON and ``UPDATE ... FROM`` renderings."""

    class Generator(Databricks.Generator):  # type: ignore[name-defined,misc,valid-type]
        TYPE_MAPPING = {**Databricks.Generator.TYPE_MAPPING, exp.DataType.Type.JSON: "STRING"}
        TRANSFORMS = {
            **Databricks.Generator.TRANSFORMS,
            exp.JSONObject: lambda self, e: self.sql(json_object(e)),
        }

        def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
            if isinstance(expression.this, exp.JSONObject) and expression.to.is_type("text"):
                return self.sql(expression.this)  # already text
            return str(super().cast_sql(expression, safe_prefix))

        def lateral_sql(self, expression: exp.Lateral) -> str:
            # sqlglot writes a LATERAL VIEW's table alias by name, dropping its quotes.
            alias = expression.args.get("alias")
            if not expression.args.get("view") or alias is None:
                return str(super().lateral_sql(expression))
            table = f" {self.sql(alias, 'this')}" if alias.args.get("this") else ""
            columns = self.expressions(alias, key="columns", flat=True)
            columns = f" AS {columns}" if columns else ""
            view = self.seg(f"LATERAL VIEW{' OUTER' if expression.args.get('outer') else ''}")
            return f"{view}{self.sep()}{self.sql(expression, 'this')}{table}{columns}"

        def update_sql(self, expression: exp.Update) -> str:
            if expression.args.get("from_") is not None and expression.args.get("where"):
                return self.sql(update_as_merge(expression))
            return str(super().update_sql(expression))

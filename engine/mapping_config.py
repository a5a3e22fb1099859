"""The ``mappings`` of a sync in the project file: each destination field's source (a model
column, a constant, a run variable, a Liquid template, or an inline array built from a
column holding an array of objects), validated with the key path and the fix.

How the values are built is :mod:`engine.mapping_values` (and :mod:`engine.inline_arrays`);
what a mapping reads, for the row hash, is :func:`engine.model.mapping_reads`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.templates import parse_error

VARIABLES = ("model_id", "model_name", "sync_id", "sync_run_id", "operation", "current_timestamp")
Variable = Literal[
    "model_id", "model_name", "sync_id", "sync_run_id", "operation", "current_timestamp"
]
Cast = Literal["string", "number", "boolean", "timestamp"]
_KINDS = ("from", "static", "variable", "template", "array")
_ELEMENT_KINDS = ("from", "static", "variable", "array")
_FIELD_PART = re.compile(r"^[^.\s][^.]*$")
#: How deep inline arrays nest (an array of objects inside an element, as Hightouch allows).
ARRAY_LEVELS = 2


def _field_path(value: str) -> str:
    if not value or not all(_FIELD_PART.match(part) for part in value.split(".")):
        raise ValueError(
            f"{value!r} is not a field name or dotted path. Fix: write e.g. email or "
            "address.city."
        )
    return value


def _one_kind(value: Any, kinds: tuple[str, ...], what: str) -> str:
    """The kind of a mapping given as a dict; ValueError naming the fix otherwise."""
    if not isinstance(value, dict):
        raise ValueError(
            f"{value!r} is not a mapping. Fix: write {{from: <{what}>, to: <field>}}, "
            f"or {', '.join(k for k in kinds if k != 'from')} in place of from."
        )
    given = [k for k in kinds if k in value or (k == "from" and "from_" in value)]
    if len(given) != 1:
        found = ", ".join(given) or "none of them"
        raise ValueError(
            f"give exactly one of {', '.join(kinds)} (found {found}). Fix: keep the one the "
            "field's value comes from."
        )
    kind = given[0]
    if "skip_nulls" in value and kind not in ("from", "array"):
        raise ValueError("skip_nulls applies to a column or array mapping only. Fix: remove it.")
    if kind == "variable" and value["variable"] not in VARIABLES:
        raise ValueError(
            f"variable: {value['variable']!r} is not one of {', '.join(VARIABLES)}. "
            "Fix: use one of those."
        )
    if kind == "static" and isinstance(value["static"], (dict, list)):
        raise ValueError(
            "static: must be a string, number, boolean or null. Fix: use a template "
            "for a list or object."
        )
    if (kind == "array") != ("fields" in value):
        raise ValueError(
            "an inline array needs both array (the column or property holding an array of "
            "objects) and fields (what each element maps to). Fix: give both, or neither."
        )
    if kind == "array" and "cast" in value:
        raise ValueError("cast does not apply to an inline array. Fix: cast its fields.")
    return kind


class ElementMapping(BaseModel):
    """One field of each element of an inline array: a property of the element (``from``,
    a dotted path reads a nested one), a constant, a run variable, or an inline array of its
    own (one level deeper)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str | None = Field(default=None, alias="from")
    static: str | int | float | bool | None = None
    variable: Variable | None = None
    array: str | None = None
    fields: list[ElementMapping] | None = None
    to: str
    skip_nulls: bool = False
    cast: Cast | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        _one_kind(value, _ELEMENT_KINDS, "property of the element")
        return value

    _to = field_validator("to")(_field_path)

    @property
    def kind(self) -> str:
        """property, static, variable or array."""
        if self.array is not None:
            return "array"
        if self.variable is not None:
            return "variable"
        return "property" if self.from_ is not None else "static"

    def depth(self) -> int:
        """The inline arrays nested in this field, itself included."""
        inner = max((f.depth() for f in self.fields or []), default=0)
        return inner + (1 if self.array is not None else 0)


class Mapping(BaseModel):
    """One field mapping to a destination field ``to`` (``a.b`` builds a nested object).

    Its value comes from exactly one of: a model column (``from``, with ``skip_nulls``), a
    constant (``static``), a run variable (``variable``), a Liquid ``template``, or an
    inline ``array`` (a column holding an array of objects, each element mapped by
    ``fields``); ``cast`` converts it, failing the row on a value that does not convert.
    """

    from_: str | None = Field(default=None, alias="from")
    static: str | int | float | bool | None = None
    variable: Variable | None = None
    template: str | None = None
    array: str | None = None
    fields: list[ElementMapping] | None = None
    to: str
    skip_nulls: bool = False
    cast: Cast | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        _one_kind(value, _KINDS, "model column")
        return value

    @model_validator(mode="after")
    def _array_levels(self) -> Mapping:
        if self.array is not None and not self.fields:
            raise ValueError("fields: an inline array maps at least one field. Fix: add one.")
        inner = max((f.depth() for f in self.fields or []), default=0)
        if inner + 1 > ARRAY_LEVELS:
            raise ValueError(
                f"inline arrays nest {ARRAY_LEVELS} levels at most (an array inside an "
                "element). Fix: flatten the deeper levels in the model's SQL."
            )
        return self

    _to = field_validator("to")(_field_path)

    @field_validator("template")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            problem = parse_error(value)
            if problem is not None:
                raise ValueError(f"template does not parse: {problem}. Fix the template.")
        return value

    @property
    def kind(self) -> str:
        """column, static, variable, template or array."""
        if self.template is not None:
            return "template"
        if self.array is not None:
            return "array"
        if self.variable is not None:
            return "variable"
        if self.from_ is not None:
            return "column"
        return "static"

    @property
    def column(self) -> str | None:
        """The model column a column or array mapping reads."""
        return self.from_ if self.from_ is not None else self.array

    @property
    def plain_column(self) -> bool:
        """A column sent as is to a top-level field (the warehouse can build it)."""
        return (
            self.kind == "column"
            and not self.skip_nulls
            and self.cast is None
            and "." not in self.to
        )

    def signature(self) -> list[Any]:
        """What identifies the mapping in the sync's signature (a plain one as before)."""
        if self.plain_column:
            return [self.from_, self.to]
        return [self.model_dump(by_alias=True, exclude_defaults=True) | {"kind": self.kind}]

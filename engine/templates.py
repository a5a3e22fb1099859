"""Liquid templates of mappings: parsed once, analysed for the columns they read, rendered
with bounds.

A template sees ``row`` (the model columns it names) and ``context`` (the run variables, see
:data:`engine.config.VARIABLES`). It cannot read files (no template loader: ``include`` and
``render`` find nothing) nor the environment, and a loop or output past the limits below is
an error of that row, never a hang.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError, TemplateNotFoundError

#: Bounds on one rendering (a row's template).
LOOP_ITERATIONS = 10_000
OUTPUT_CHARACTERS = 100_000
LOCAL_NAMESPACE = 100_000
CONTEXT_DEPTH = 30


class _BoundedEnvironment(Environment):
    loop_iteration_limit = LOOP_ITERATIONS
    output_stream_limit = OUTPUT_CHARACTERS
    local_namespace_limit = LOCAL_NAMESPACE
    context_depth_limit = CONTEXT_DEPTH


_ENVIRONMENT = _BoundedEnvironment()


class TemplateFailed(Exception):
    """A template raised for a row (the message is Liquid's, on one line)."""


def _one_line(error: LiquidError) -> str:
    """Liquid's message on one line (a missing template is named, since nothing is found)."""
    text = str(error).splitlines()[0].strip()
    if isinstance(error, TemplateNotFoundError):
        return f"template not found: {text} (templates cannot include files)"
    return text


@lru_cache(maxsize=256)
def parsed(source: str) -> BoundTemplate:
    """The template, parsed (raises LiquidError on a syntax error)."""
    return _ENVIRONMENT.from_string(source)


def parse_error(source: str) -> str | None:
    """Why ``source`` does not parse, or None."""
    try:
        parsed(source)
    except LiquidError as error:
        return _one_line(error)
    return None


def row_columns(source: str) -> list[str] | None:
    """The columns ``row.<name>`` / ``row['name']`` references name, in order of first use;
    None when the template reads ``row`` whole or by a computed name (so it reads every
    column)."""
    names: list[str] = []
    for variable in parsed(source).analyze(include_partials=False).globals.get("row", []):
        segments = variable.segments
        if len(segments) < 2 or not isinstance(segments[1], str):
            return None
        if segments[1] not in names:
            names.append(segments[1])
    return names


def render(source: str, row: dict[str, Any], context: dict[str, Any]) -> str:
    """The template's output for one row; TemplateFailed when it raises or hits a bound."""
    try:
        return parsed(source).render(row=row, context=context)
    except LiquidError as error:
        raise TemplateFailed(_one_line(error)) from None
    except (RecursionError, MemoryError, ValueError, TypeError, ArithmeticError) as error:
        raise TemplateFailed(f"{type(error).__name__}: {error}") from None

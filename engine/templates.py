"""Liquid templates of mappings: parsed once, analysed for the columns they read, rendered
with bounds.

A template sees ``row`` (the model columns it names) and ``context`` (the run variables, see
:data:`engine.mapping_config.VARIABLES`). It cannot read files (no template loader:
``include`` and ``render`` find nothing) nor the environment, and a loop or output past the
limits below is an error of that row, never a hang.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from liquid import BoundTemplate, Environment
    from liquid.exceptions import LiquidError

#: Bounds on one rendering (a row's template).
LOOP_ITERATIONS = 10_000
OUTPUT_CHARACTERS = 100_000
LOCAL_NAMESPACE = 100_000
CONTEXT_DEPTH = 30
#: Bounds on a request body (one rendering per batch of rows).
BODY_LOOP_ITERATIONS = 1_000_000
BODY_OUTPUT_CHARACTERS = 16_000_000


def _json(value: Any) -> str:
    """The ``json`` filter: a value as JSON text (``"a \\"quoted\\" name"``, ``null``)."""
    return orjson.dumps(value, default=str).decode()


@cache
def _environment(body: bool) -> Environment:
    """Liquid's environment with the bounds above (``body``: a request body's); Liquid is
    imported on first use, so a project without templates never loads it."""
    from liquid import Environment

    class BoundedEnvironment(Environment):
        loop_iteration_limit = BODY_LOOP_ITERATIONS if body else LOOP_ITERATIONS
        output_stream_limit = BODY_OUTPUT_CHARACTERS if body else OUTPUT_CHARACTERS
        local_namespace_limit = LOCAL_NAMESPACE
        context_depth_limit = CONTEXT_DEPTH

    environment = BoundedEnvironment()
    environment.filters["json"] = _json
    return environment


class TemplateFailed(Exception):
    """A template raised for a row (the message is Liquid's, on one line)."""


def _one_line(error: LiquidError) -> str:
    """Liquid's message on one line (a missing template is named, since nothing is found)."""
    from liquid.exceptions import TemplateNotFoundError

    text = str(error).splitlines()[0].strip()
    if isinstance(error, TemplateNotFoundError):
        return f"template not found: {text} (templates cannot include files)"
    return text


@lru_cache(maxsize=256)
def parsed(source: str, body: bool = False) -> BoundTemplate:
    """The template, parsed (raises LiquidError on a syntax error); ``body`` gives it the
    bounds of a request body."""
    return _environment(body).from_string(source)


def parse_error(source: str) -> str | None:
    """Why ``source`` does not parse, or None."""
    from liquid.exceptions import LiquidError

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


def loop_columns(source: str, over: str = "rows") -> list[str] | None:
    """The columns a template reads from ``row`` and from the loop variables of its
    ``{% for x in rows %}`` loops (``x.<name>``); None when it reads a row whole, by a
    computed name, or ``rows`` other than by looping over it."""
    from liquid import RenderContext
    from liquid.builtin.tags.for_tag import ForNode

    template = parsed(source)
    context = RenderContext(template)
    roots = {"row"}
    pending = list(template.nodes)
    while pending:
        node = pending.pop()
        if isinstance(node, ForNode) and str(node.expression.iterable) == over:
            roots.add(node.expression.identifier)
        pending.extend(node.children(context, include_partials=False))
    names: list[str] = []
    for root, variables in template.analyze(include_partials=False).variables.items():
        for variable in variables:
            segments = variable.segments
            if root == over and len(segments) > 1:
                return None
            if root not in roots:
                continue
            if len(segments) < 2 or not isinstance(segments[1], str):
                return None
            if segments[1] not in names:
                names.append(segments[1])
    return names


def render(
    source: str, row: dict[str, Any], context: dict[str, Any], body: bool = False, **more: Any
) -> str:
    """The template's output for one row (``more``: other variables, e.g. ``rows``; ``body``:
    with the bounds of a request body); TemplateFailed when it raises or hits a bound."""
    from liquid.exceptions import LiquidError

    try:
        return parsed(source, body).render(row=row, context=context, **more)
    except LiquidError as error:
        raise TemplateFailed(_one_line(error)) from None
    except (RecursionError, MemoryError, ValueError, TypeError, ArithmeticError) as error:
        raise TemplateFailed(f"{type(error).__name__}: {error}") from None

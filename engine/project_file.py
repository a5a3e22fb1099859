"""Finding and reading the project file (``lightning.yml``) into a validated
:class:`engine.config.Project`: ``--project``, ``$LIGHTNING_PROJECT`` or ``./lightning.yml``;
YAML, ``${ENV}`` secrets, and errors worded for the user.

A key given twice in one mapping is refused (YAML would keep the last one silently). Every
value substituted from ``${ENV}`` in the secret sections joins the project's redactor; no error
message of this module shows one, nor the excerpt of the file PyYAML would add.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.config import PROJECT_FILE, SECRET_SECTIONS, ConfigError, Project
from engine.secrets import Redactor, find_secrets

PROJECT_ENV = "LIGHTNING_PROJECT"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def find_project_file(explicit: str | Path | None = None) -> Path:
    """``--project``, else ``$LIGHTNING_PROJECT``, else ``./lightning.yml``."""
    candidate = explicit or os.environ.get(PROJECT_ENV) or PROJECT_FILE
    path = Path(candidate)
    if path.is_dir():
        path = path / PROJECT_FILE
    if not path.exists():
        raise ConfigError(
            f"No project file at {path}. Create {PROJECT_FILE} in this directory, pass "
            f"--project PATH, or set {PROJECT_ENV}."
        )
    return path


def _expand_env(value: Any, where: str, substituted: set[str]) -> Any:
    """``value`` with ``${NAME}`` replaced from the environment; the values substituted in
    the secret sections are added to ``substituted``."""
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(
                    f"{where}: environment variable {name} is not set. Export it "
                    f"(export {name}=...) or change the value in the project file."
                )
            if where.split(".", 1)[0] in SECRET_SECTIONS:
                substituted.add(os.environ[name])
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    if isinstance(value, dict):
        return {
            k: _expand_env(v, f"{where}.{k}" if where else str(k), substituted)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]", substituted) for i, v in enumerate(value)]
    return value


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_duplicate_keys(node: yaml.Node, path: str, seen: set[int]) -> None:
    """Refuse a mapping that names a key twice (PyYAML would keep the last silently)."""
    if id(node) in seen:  # an alias of a node already checked
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key_node.tag != "tag:yaml.org,2002:merge":
                if key in first:
                    line = first[key].start_mark.line + 1
                    raise ConfigError(
                        f"{_key_path(path, key)}: the key {key!r} is given twice, at line "
                        f"{line} and at line {key_node.start_mark.line + 1}; YAML would keep "
                        "only the last. Fix: keep one of them."
                    )
                first[key] = key_node
            _check_duplicate_keys(value_node, _key_path(path, key or "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicate_keys(item, f"{path}[{index}]", seen)


def _read_yaml(text: str) -> Any:
    """The document, after refusing duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicate_keys(node, "", set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error without the excerpt of the file PyYAML adds (it may show a secret)."""
    if isinstance(error, yaml.MarkedYAMLError):
        parts = [error.context, error.problem]
        return ", ".join(str(p) for p in parts if p) or type(error).__name__
    return str(error)


def _format_validation(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: the project file is not valid:"]
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"] if part != "__root__")
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = f"unknown key {loc.rsplit('.', 1)[-1]!r} (check its spelling)"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] == "literal_error":
            message = f"{item.get('input')!r} is not allowed; {message[0].lower()}{message[1:]}"
        elif item["type"] == "string_pattern_mismatch":
            message = (
                f"{item.get('input')!r} is not a valid name: use letters, digits and "
                "underscores, starting with a letter or underscore (at most 63 characters)"
            )
        message = message.removeprefix("Value error, ")
        lines.append(f"  - {loc}: {message}" if loc else f"  - {message}")
    return "\n".join(lines)


def load_project(explicit: str | Path | None = None) -> Project:
    """Find, read, expand and validate the project file."""
    path = find_project_file(explicit)
    try:
        raw = _read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {_yaml_problem(error)}") from None
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with sources, models, syncs")
    substituted: set[str] = set()
    raw = _expand_env(raw, "", substituted)
    redactor = Redactor(
        substituted | find_secrets({k: v for k, v in raw.items() if k in SECRET_SECTIONS})
    )
    try:
        project = Project.model_validate({**raw, "path": path})
    except ValidationError as error:
        raise ConfigError(redactor.redact(_format_validation(error, path))) from None
    project._redactor = redactor
    return project

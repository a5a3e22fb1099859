"""The project file's (``lightning.yml``) schema: sources, models, destinations and syncs.

Errors name the key path and the fix, e.g.::

    lightning.yml: syncs.users_to_api.mode: 'mirorr' is not one of insert, update, upsert,
    mirror, all. Fix: set mode to one of those.

Finding and reading the file (YAML, ``${ENV}`` substitution, the wording of errors) is
:mod:`engine.project_file`. The secret values of the sources, destinations and syncs (see
:mod:`engine.secrets`) make the project's :attr:`Project.redactor`; no error message of this
module shows them.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from engine.mapping_config import Mapping
from engine.secrets import Redactor, find_secrets

PROJECT_FILE = "lightning.yml"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"

Mode = Literal["insert", "update", "upsert", "mirror", "all"]
DeleteBehavior = Literal["do_nothing", "clear", "delete"]
SyncLogTable = Literal["changelog", "snapshot", "runs"]
# Where settings may hold credentials (a sync holds its destination's request settings).
SECRET_SECTIONS = ("sources", "destinations", "syncs")
DEFAULT_SYNC_LOGS: tuple[SyncLogTable, ...] = ("changelog", "runs")


class ConfigError(Exception):
    """The project file is missing, unreadable or invalid; the message says how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(BaseModel):
    """A warehouse connection. ``type`` picks the dialect; the rest are its settings."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str

    def settings(self) -> dict[str, Any]:
        """The dialect's settings (every key but ``type``)."""
        return {k: v for k, v in self.model_dump().items() if k != "type"}


class ModelConfig(_Strict):
    """A model: SQL (or a table) on a source, with a primary key (one column or several)."""

    source: str
    primary_key: str | list[str]
    sql: str | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _sql_or_table(self) -> ModelConfig:
        if (self.sql is None) == (self.table is None):
            raise ValueError("give exactly one of `sql` or `table`")
        keys = self.key_columns
        if not keys or any(not k.strip() for k in keys):
            raise ValueError("primary_key must name at least one column")
        if len(set(keys)) != len(keys):
            raise ValueError("primary_key lists a column twice")
        return self

    @property
    def key_columns(self) -> list[str]:
        """The primary key as a list of column names."""
        return [self.primary_key] if isinstance(self.primary_key, str) else list(self.primary_key)


class DestinationConfig(BaseModel):
    """A destination. ``type`` picks the module; the rest are its settings."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str

    def settings(self) -> dict[str, Any]:
        """The destination's own settings (every key but ``type``)."""
        return {k: v for k, v in self.model_dump().items() if k != "type"}


class ArrayExpansion(_Strict):
    """``array_expansion``: one row per element of the model's array ``column`` (see
    engine/array_expansion.py)."""

    column: str = Field(min_length=1)


class SyncConfig(BaseModel):
    """A sync: model -> destination, with a mode, mappings and sync-log choice.

    Destination-specific settings sit under a key named after the destination type
    (``http:``, ``contentstack:``); the destination validates them.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    model: str
    destination: str
    mode: Mode = "upsert"
    delete_behavior: DeleteBehavior = "do_nothing"
    on_duplicate_keys: Literal["reject", "fail"] = "reject"
    # skip: the first run records every current row as sent and sends none of them.
    first_run: Literal["backfill", "skip"] = "backfill"
    # changed_fields: a changed row carries only the mapped fields whose values changed
    # (destinations updating with PATCH only; see engine/changed_fields.py).
    send: Literal["all_fields", "changed_fields"] = "all_fields"
    sync_logs: list[SyncLogTable] | Literal[False] = Field(
        default_factory=lambda: list(DEFAULT_SYNC_LOGS)
    )
    mappings: list[Mapping] = Field(default_factory=list)
    array_expansion: ArrayExpansion | None = None
    workers: int = 1  # delivery processes, each with a share of the limits (see README)

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{value!r} is not a number of processes. Fix: set 1 or more.")
        return value

    @model_validator(mode="before")
    @classmethod
    def _misspelled_keys(cls, value: Any) -> Any:
        # Unknown keys are allowed (a block named after the destination type); one that is a
        # near miss of a sync setting is a typo, reported before "required key is missing".
        if isinstance(value, dict):
            known = list(cls.model_fields)
            for key in value:
                if isinstance(key, str) and key not in cls.model_fields:
                    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
                    if close:
                        raise ValueError(
                            f"unknown key {key!r}. Did you mean {close[0]!r}? Fix its spelling."
                        )
        return value

    @field_validator("sync_logs", mode="before")
    @classmethod
    def _sync_logs(cls, value: Any) -> Any:
        if value is True:
            return list(DEFAULT_SYNC_LOGS)
        if value is None:
            return list(DEFAULT_SYNC_LOGS)
        return value

    @model_validator(mode="after")
    def _unique_targets(self) -> SyncConfig:
        seen: dict[str, int] = {}
        for index, mapping in enumerate(self.mappings):
            if mapping.to in seen:
                first = seen[mapping.to]
                raise ValueError(
                    f"mappings[{index}].to: {mapping.to!r} is already the target of "
                    f"mappings[{first}]. Fix: map each destination field once."
                )
            seen[mapping.to] = index
        for index, mapping in enumerate(self.mappings):
            parts = mapping.to.split(".")
            for depth in range(1, len(parts)):
                parent = ".".join(parts[:depth])
                if parent in seen:
                    raise ValueError(
                        f"mappings[{index}].to: {mapping.to!r} nests inside {parent!r}, which "
                        f"mappings[{seen[parent]}] sets. Fix: map the whole object or its "
                        "fields, not both."
                    )
        return self

    @property
    def log_tables(self) -> frozenset[str]:
        """The sync-log tables this sync writes."""
        return frozenset(self.sync_logs or ())

    def extra_settings(self, key: str) -> dict[str, Any]:
        """Destination-specific settings under ``key`` (empty if absent)."""
        extra = self.model_extra or {}
        value = extra.get(key) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping of settings")
        return dict(value)


Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Project(_Strict):
    """The whole project file."""

    sources: dict[Name, SourceConfig]
    models: dict[Name, ModelConfig]
    destinations: dict[Name, DestinationConfig] = Field(default_factory=dict)
    syncs: dict[Name, SyncConfig] = Field(default_factory=dict)
    path: Path = Field(default=Path(PROJECT_FILE), exclude=True)
    _redactor: Redactor | None = PrivateAttr(default=None)

    @property
    def redactor(self) -> Redactor:
        """Hides the secret values of this project's sources, destinations and syncs (and, for a
        project read by :func:`engine.project_file.load_project`, every value substituted from
        ``${ENV}``)."""
        if self._redactor is None:
            self._redactor = Redactor(
                find_secrets({name: self.model_dump()[name] for name in SECRET_SECTIONS})
            )
        return self._redactor

    @property
    def directory(self) -> Path:
        """The directory relative paths in the file are resolved against."""
        return self.path.resolve().parent

    @model_validator(mode="after")
    def _references(self) -> Project:
        for name, model in self.models.items():
            if model.source not in self.sources:
                raise ValueError(
                    f"models.{name}.source: no source named {model.source!r} "
                    f"(sources: {', '.join(self.sources) or 'none'})"
                )
        for name, sync in self.syncs.items():
            if sync.model not in self.models:
                raise ValueError(
                    f"syncs.{name}.model: no model named {sync.model!r} "
                    f"(models: {', '.join(self.models) or 'none'})"
                )
            if sync.destination not in self.destinations:
                raise ValueError(
                    f"syncs.{name}.destination: no destination named {sync.destination!r} "
                    f"(destinations: {', '.join(self.destinations) or 'none'})"
                )
            dest_type = self.destinations[sync.destination].type
            for key in sync.model_extra or {}:
                if key != dest_type:
                    raise ValueError(
                        f"syncs.{name}.{key}: unknown key {key!r} (check its spelling). "
                        f"Settings for the {dest_type} destination go under `{dest_type}:`."
                    )
        folded: dict[str, str] = {}
        for name in self.syncs:
            other = folded.setdefault(name.lower(), name)
            if other != name:
                raise ValueError(
                    f"syncs.{name}: differs from sync {other!r} only in letter case. Fix: "
                    "rename one (the engine names its tables after the sync, ignoring case)."
                )
        return self

    def sync(self, name: str) -> SyncConfig:
        """A sync by name, or a ConfigError listing the known ones."""
        if name not in self.syncs:
            known = ", ".join(sorted(self.syncs)) or "none defined"
            raise ConfigError(f"{self.path}: no sync named {name!r} (syncs: {known})")
        return self.syncs[name]

"""Warehouse dialects, one module each, looked up by the source ``type`` in the project file."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dialects.base import COMMON_SETTINGS, Dialect
from dialects.capabilities import Capabilities
from dialects.errors import ErrorKind, WarehouseError

# type -> "module:Class"; a module is imported only when a source of that type is used, so a
# missing optional driver never breaks the others.
REGISTRY: dict[str, str] = {
    "duckdb": "dialects.duckdb:DuckDBDialect",
    "postgres": "dialects.postgres:PostgresDialect",
    "snowflake": "dialects.snowflake:SnowflakeDialect",
    "bigquery": "dialects.bigquery:BigQueryDialect",
    "databricks": "dialects.databricks:DatabricksDialect",
    "spark": "dialects.spark:SparkDialect",
}

# Warehouses the project file may name that have no dialect module yet.
PLANNED: dict[str, str] = {}


def dialect_class(source_type: str) -> type[Dialect]:
    """The Dialect subclass for a source type (raises KeyError for an unknown type)."""
    module_name, class_name = REGISTRY[source_type].split(":")
    module = importlib.import_module(module_name)
    cls: type[Dialect] = getattr(module, class_name)
    return cls


def make_dialect(source_type: str, settings: dict[str, Any], project_dir: Path) -> Dialect:
    """Build (but do not connect) the dialect for a source."""
    return dialect_class(source_type)(settings, project_dir)


__all__ = [
    "COMMON_SETTINGS",
    "Capabilities",
    "Dialect",
    "ErrorKind",
    "PLANNED",
    "REGISTRY",
    "WarehouseError",
    "dialect_class",
    "make_dialect",
]

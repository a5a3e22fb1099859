"""Destinations, one module each, looked up by the destination ``type`` in the project file."""

from __future__ import annotations

import importlib
from pathlib import Path

from engine.config import Project
from engine.destinations.base import Destination, DestinationConfigError

# type -> "module:Class"; a module (and its client library) is imported only when used.
REGISTRY: dict[str, str] = {
    "contentstack": "engine.destinations.contentstack:ContentstackDestination",
    "file": "engine.destinations.file:FileDestination",
    "http": "engine.destinations.http:HttpDestination",
}


def destination_class(type_name: str) -> type[Destination]:
    """The Destination subclass for a type, or a config error listing the known types."""
    if type_name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise DestinationConfigError(
            f"unknown destination type {type_name!r}. Fix: use one of {known}."
        )
    module_name, class_name = REGISTRY[type_name].split(":")
    cls: type[Destination] = getattr(importlib.import_module(module_name), class_name)
    return cls


def build_destination(project: Project, sync_name: str) -> Destination:
    """The destination instance for a sync, with the sync's settings validated."""
    sync = project.sync(sync_name)
    config = project.destinations[sync.destination]
    cls = destination_class(config.type)
    cls.check_sync(sync, sync_name)
    return cls(config, sync, sync_name, Path(project.directory))

"""Destinations, one module each, looked up by the destination ``type`` in the project file."""

from __future__ import annotations

import importlib
from pathlib import Path

from engine.config import Project, SyncConfig
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
    destination = cls(config, sync, sync_name, Path(project.directory))
    check_send(sync, sync_name, destination)
    check_workers(sync, sync_name, destination)
    return destination


def check_workers(sync: SyncConfig, sync_name: str, destination: Destination) -> None:
    """Refuse more delivery processes than the destination can use: each one sends at
    least one request at a time, within the sync's total ``concurrency``."""
    if sync.workers == 1:
        return
    where = f"syncs.{sync_name}.workers"
    if not destination.capabilities.several_processes:
        raise DestinationConfigError(
            f"{where}: the {destination.type_name} destination writes from one process. "
            "Fix: remove workers (or set workers: 1)."
        )
    if sync.workers > destination.concurrency():
        raise DestinationConfigError(
            f"{where}: {sync.workers} processes need a concurrency of at least "
            f"{sync.workers} (each sends at least one request at a time), but "
            f"syncs.{sync_name}.{destination.type_name}.concurrency is "
            f"{destination.concurrency()}. Fix: lower workers, or raise concurrency."
        )
    rate = destination.rate_limit_per_second()
    if rate is not None and rate < sync.workers:
        raise DestinationConfigError(
            f"{where}: {sync.workers} processes would share "
            f"syncs.{sync_name}.{destination.type_name}.rate_limit_per_second of {rate:g}, "
            "less than one request a second each. Fix: lower workers to at most the rate."
        )


def check_send(sync: SyncConfig, sync_name: str, destination: Destination) -> None:
    """Refuse ``send: changed_fields`` where leaving fields out would lose them (see
    :mod:`engine.changed_fields`)."""
    if sync.send != "changed_fields":
        return
    where = f"syncs.{sync_name}.send"
    if sync.mode in ("insert", "all"):
        what = "sends no changed rows" if sync.mode == "insert" else "re-sends every row whole"
        raise DestinationConfigError(
            f"{where}: changed_fields does nothing under mode {sync.mode} (it {what}). Fix: "
            "remove send, or use mode upsert, update or mirror."
        )
    problem = destination.changed_fields_problem()
    if problem is not None:
        raise DestinationConfigError(
            f"{where}: changed_fields needs updates with PATCH semantics (fields left out keep "
            f"their values in the destination), but {problem}"
        )

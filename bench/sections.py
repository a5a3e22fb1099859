"""Sections of bench/RESULTS.md that a benchmark of its own writes (between an HTML comment
pair), replaced in place by a later run of that benchmark and kept when ``python -m bench``
rewrites the rest of the file."""

from __future__ import annotations

from pathlib import Path

#: (begin, end) markers of every such section, in the order they are kept.
CHANGED_FIELDS = (
    "<!-- changed_fields: written by python -m bench.changed_fields -->",
    "<!-- /changed_fields -->",
)
STARTUP = ("<!-- startup -->", "<!-- /startup -->")
MAPPING_DELIVERY = ("<!-- mapping_delivery -->", "<!-- /mapping_delivery -->")
WORKERS = ("<!-- workers -->", "<!-- /workers -->")
REMOTE = ("<!-- remote: written by python -m bench.remote -->", "<!-- /remote -->")
ALL = (CHANGED_FIELDS, STARTUP, MAPPING_DELIVERY, WORKERS, REMOTE)


def kept(path: Path, markers: tuple[str, str]) -> str:
    """The section between ``markers`` in ``path`` (with a blank line before it), or ""."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = markers
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        return ""
    return "\n" + text[start : stop + len(end)] + "\n"


def kept_sections(path: Path) -> str:
    """Every benchmark's own section found in ``path``."""
    return "".join(kept(path, markers) for markers in ALL)


def write(path: Path, section: str, markers: tuple[str, str]) -> None:
    """Put ``section`` (which starts and ends with ``markers``) in ``path``, in place of the
    one before, or at the end."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = markers
    start, stop = text.find(begin), text.find(end)
    if start >= 0 and stop > start:
        text = text[:start] + section.rstrip("\n") + text[stop + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")

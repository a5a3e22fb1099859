"""What the benchmark ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from bench.common import REPO_DIR


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def describe() -> dict[str, Any]:
    """Cores, memory, CPU model, versions, date and commit."""
    import psutil

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": _cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            p: _version(p)
            for p in (
                "duckdb",
                "pyarrow",
                "httpx",
                "aiohttp",
                "reladiff",
                "psycopg",
                "psycopg2-binary",
            )
        },
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": _commit(),
    }

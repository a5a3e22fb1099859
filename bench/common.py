"""Names, paths and small helpers shared by the benchmark modules."""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"

KEY = "user_id"
MODEL_TABLE = "users"
PREV_TABLE = "users_prev"
MAPPED: list[str] = [
    "age",
    "score",
    "email",
    "name",
    "city",
    "created_at",
    "balance",
    "active",
]
UNMAPPED: list[str] = ["last_seen_at", "notes", "login_count"]

# Marks the line a child process prints its JSON result on, so that anything else a
# library prints to stdout cannot be mistaken for the result.
RESULT_PREFIX = "BENCH-RESULT "


def _own_peak_kib() -> int:
    """This process's peak RSS in KiB.

    On Linux ``ru_maxrss`` survives ``execve``: a child started by fork + exec reports
    at least the RSS its parent had when it forked. ``VmHWM`` belongs to the process's
    current address space and starts afresh at exec, so it is this program's own peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss


def peak_rss_mb() -> float:
    """Peak RSS (MiB) of this process, or of a waited-for child if one peaked higher."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if sys.platform == "darwin":
        children //= 1024
    return max(_own_peak_kib(), children) / 1024


def emit_result(result: dict[str, Any]) -> None:
    """Print a child's result as one JSON line for the parent to collect."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (DuckDB and PostgreSQL rules)."""
    return '"' + name.replace('"', '""') + '"'


def env_with_repo_on_path() -> dict[str, str]:
    """Environment for a child process: the repo importable, a fixed string-hash seed.

    The fixed PYTHONHASHSEED lets the app-side baseline keep Python ``hash()`` values
    from one process to the next, as an application keeping row hashes would.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO_DIR), env.get("PYTHONPATH", "")] if p)
    env["PYTHONHASHSEED"] = "0"
    return env

"""Runs one measurement in a child process and collects its JSON result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench.common import REPO_DIR, RESULT_PREFIX, env_with_repo_on_path


def run_child(
    name: str,
    args: dict[str, Any],
    *,
    timeout_s: float = 3600.0,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``bench.child NAME`` with ``args``; returns its result, or ``{"error": ...}``."""
    env = env_with_repo_on_path()
    env.update(extra_env or {})
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.child", name, json.dumps(args)],
            cwd=REPO_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    wall_s = time.perf_counter() - started
    result: dict[str, Any] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
    if result is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        result = {"error": f"exit code {proc.returncode}, no result: " + " | ".join(tail)}
    elif "error" in result:
        tail = proc.stderr.strip().splitlines()[-3:]
        result["stderr_tail"] = tail
    result["process_wall_s"] = wall_s
    return result

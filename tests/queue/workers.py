"""Start and stop real `pgconsole worker` processes for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    dsn: str,
    handler: str,
    ledger: Path,
    *args: str,
    release: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PGC_LEDGER=str(ledger), PYTHONPATH=str(ROOT), **(env or {}))
    if release is not None:
        env["PGC_RELEASE"] = str(release)
    cmd = [
        sys.executable,
        "-m",
        "pgconsole",
        "--dsn",
        dsn,
        "worker",
        "--handler",
        handler,
        "--log-level",
        "WARNING",
        *args,
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll until predicate() is truthy; the timeout only bounds a hang (no timed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)


def read_ledger(path: Path) -> list[tuple[str, int, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        jid, attempt, event = line.split()
        out.append((jid, int(attempt), event))
    return out

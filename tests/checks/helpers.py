"""Helpers for the check tests: run `pgconsole --check` in-process or as a real process, and wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pgconsole.cli import main

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def check_json(capsys: pytest.CaptureFixture[str], dsn: str, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run `pgconsole --check --format json` in this process (same code path as the command)."""
    capsys.readouterr()
    code = main(["--check", "--dsn", dsn, "--format", "json", "--timeout", "30", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def status_of(capsys: pytest.CaptureFixture[str], dsn: str, name: str, *sets: str) -> dict[str, Any]:
    args = ["--only", name]
    for s in sets:
        args += ["--set", s]
    _, report = check_json(capsys, dsn, *args)
    return by_name(report)[name]


def eventually(fn: Callable[[], T], ok: Callable[[T], bool], timeout: float = 20.0, every: float = 0.2) -> T:
    """Poll ``fn`` until ``ok(value)``; return the last value either way (the test asserts on it)."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = fn()
    return value


def run_cli(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pgconsole ...` as a real process (for exit codes, time bounds and imports)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLE_")}
    full_env.pop("DATABASE_URL", None)
    full_env["PGCONSOLE_CONFIG"] = str(ROOT / "tests" / "checks" / "empty-config.toml")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pgconsole", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=str(ROOT),
    )

"""Fixtures for the queue-systems tests: real libraries (Procrastinate, PgQueuer) creating their own
schemas in a pgconsole-migrated database, their own workers run as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect

ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, dsn: str, *args: str, env_key: str, timeout: float = 120) -> str:
    """Run ``python -m module args`` (a library's own worker or producer) to completion."""
    env = {**os.environ, env_key: dsn, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def su(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(db.dsn, autocommit=True, connect_timeout=10)
    yield conn
    conn.close()


@pytest.fixture
def operator(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR)
    yield conn
    conn.close()


@pytest.fixture
def reader(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
    yield conn
    conn.close()


def grant_library_tables(su: psycopg.Connection[Any], tables: list[str], write: list[str]) -> None:
    """What docs/queues.md tells a team to grant: SELECT to the readers, the writes to operators."""
    for t in tables:
        su.execute(f"GRANT SELECT ON {t} TO pgconsole_readonly")
    for t in write:
        su.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO pgconsole_operator")
    su.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO pgconsole_operator")

"""Fixtures for the queue tests: connections as the least-privileged roles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect


@pytest.fixture
def app(db: Any) -> Iterator[psycopg.Connection[Any]]:
    """A producer/worker connection (pgconsole_app, autocommit)."""
    conn = connect(db.dsn_as("pgconsole_app"), Purpose.APP)
    yield conn
    conn.close()


@pytest.fixture
def worker(db: Any) -> Iterator[psycopg.Connection[Any]]:
    """A worker connection (pgconsole_worker: serves every tenant, reads no table)."""
    conn = connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER)
    yield conn
    conn.close()


@pytest.fixture
def operator(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR)
    yield conn
    conn.close()


@pytest.fixture
def su(db: Any) -> Iterator[psycopg.Connection[Any]]:
    """Superuser connection for arranging state (never for the code under test)."""
    conn = psycopg.connect(db.dsn, autocommit=True, connect_timeout=10)
    yield conn
    conn.close()

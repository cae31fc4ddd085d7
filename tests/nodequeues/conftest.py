"""The real pg-boss and graphile-worker (npm) against the test clusters; skipped only where Node is
not installed (.ci/run installs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from tests.nodequeues import nodelibs

if nodelibs.node_binaries() is None:
    pytest.skip(
        "node and npm are not installed (apt-get install nodejs npm; .ci/run does)", allow_module_level=True
    )


@pytest.fixture(scope="session")
def node_libs() -> Path:
    """pg-boss and graphile-worker installed from the npm registry (once per package.json)."""
    return nodelibs.install()


@pytest.fixture
def readonly(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
    yield conn
    conn.close()


@pytest.fixture
def operator(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR)
    yield conn
    conn.close()

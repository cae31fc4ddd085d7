"""A real PgBouncer 1.18 (Debian package) in front of the embedded PostgreSQL 18."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgcluster import Cluster
from tests.pooler.bouncer import Bouncer, pgbouncer_binary, start_bouncer

if pgbouncer_binary() is None:
    pytest.skip(
        "pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def bouncer(pg18: Cluster) -> Iterator[Bouncer]:
    """Transaction pooling, 3 server connections per (database, role): fewer than the clients."""
    b = start_bouncer(pg18, mode="transaction", pool_size=3)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def session_bouncer(pg18: Cluster) -> Iterator[Bouncer]:
    """Session pooling: a client keeps its server connection until it leaves, so the pool must be
    as large as the clients that are connected at once."""
    b = start_bouncer(pg18, mode="session", pool_size=20)
    yield b
    b.stop()

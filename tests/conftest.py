"""Session fixtures: real PostgreSQL 18 (embedded wheel) and 15 (system, when installed)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pgcluster import Cluster, TestDB, available_servers, start_cluster

os.environ.setdefault("LC_ALL", "C")
_CLUSTERS: dict[str, Cluster] = {}


def get_cluster(name: str) -> Cluster:
    if name not in _CLUSTERS:
        _CLUSTERS[name] = start_cluster(name)
    return _CLUSTERS[name]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for c in _CLUSTERS.values():
        try:
            c.stop()
        except Exception:
            pass


@pytest.fixture(scope="session", params=available_servers())
def pg(request: pytest.FixtureRequest) -> Cluster:
    """A running cluster; tests using it run once per available server version."""
    return get_cluster(request.param)


@pytest.fixture(scope="session")
def pg18() -> Cluster:
    """The embedded PostgreSQL 18 only (for tests that need one server, e.g. pure CLI behaviour)."""
    return get_cluster("pg18")


@pytest.fixture
def db(pg: Cluster) -> Iterator[TestDB]:
    """A fresh database cloned from the migrated template, dropped afterwards."""
    name = pg.new_database()
    yield TestDB(pg, name)
    pg.drop_database(name)


@pytest.fixture
def db18(pg18: Cluster) -> Iterator[TestDB]:
    name = pg18.new_database()
    yield TestDB(pg18, name)
    pg18.drop_database(name)

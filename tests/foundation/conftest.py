from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.foundation.helpers import SetUpDB, set_up_database
from tests.pgcluster import Cluster


@pytest.fixture
def setup_db(pg: Cluster) -> Iterator[SetUpDB]:
    """An empty database after `pgconsole setup`, on each server version."""
    d = set_up_database(pg)
    yield d
    pg.drop_database(d.name)

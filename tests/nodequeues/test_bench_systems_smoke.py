"""A smoke run of bench/systems_scale.py at a tiny size (no timing assertions: the figures are in
docs/BENCHMARKS.md): both libraries build their schemas, the fill lands in them, and what the
snapshot shows matches what the fill put there."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from bench.common import Env, server_version
from tests.pgcluster import Cluster

pytestmark = pytest.mark.slow


def test_systems_scale_smoke(pg18: Cluster, node_libs: Path) -> None:
    from bench import systems_scale

    dsn = pg18.dsn()
    env = Env(admin_dsn=dsn, quick=True, repeat=1, server_version=server_version(dsn))
    finished = 3000  # over the pg-boss history cap (2000): its completed count is the planner's
    try:
        res = systems_scale.run(env, finished=finished, pending=100, samples=3)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {systems_scale.DB} WITH (FORCE)")
    failed = sum(1 for g in range(1, finished + 1) if g % 12 == 0 and g % 50 != 0)
    boss = res["systems"]["pgboss"]["counts_as_shown"]
    assert boss["pending"] == [100, "exact"] and boss["failed"] == [failed, "exact"]
    assert boss["completed"][1] == "estimate" and abs(boss["completed"][0] - finished * 0.9) < finished * 0.1
    proc = res["systems"]["procrastinate"]["counts_as_shown"]
    assert proc["pending"][0] == 100 and proc["failed"][0] == failed
    for side in ("snapshot", "group_by_status", "page_first", "page_200", "library_page_first"):
        assert res["systems"]["pgboss"][side]["samples"] >= 3
        assert res["systems"]["procrastinate"][side]["samples"] >= 3

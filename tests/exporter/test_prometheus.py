"""Issue 18's "done when": a real Prometheus scrapes the exporter and reads the queue depth back
equal to the database's; with a dead second target, pgconsole_up is 0 for it and 1 for the live
one, whose series keep coming."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pgconsole.queue import client
from tests.exporter.helpers import get, start_exporter, value, write_config
from tests.exporter.prom import PROMETHEUS, Prometheus
from tests.proxy import silent_server

if TYPE_CHECKING:
    from tests.pgcluster import TestDB

pytestmark = pytest.mark.skipif(
    not PROMETHEUS.exists(), reason="prometheus not installed (apt-get install prometheus)"
)


def _values(result: list[dict[str, object]]) -> dict[str, float]:
    return {r["metric"]["target"]: float(r["value"][1]) for r in result}  # type: ignore[index]


def test_prometheus_reads_queue_depth_and_up_per_target(db: TestDB, tmp_path: Path) -> None:
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'email', '{}' FROM generate_series(1, 37)"
        )
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'report', '{}' FROM generate_series(1, 5)"
        )
    with silent_server() as dead_port:
        cfg = write_config(
            tmp_path / "config.toml",
            {
                "live": {"dsn": db.dsn_as("pgconsole_readonly"), "timeout": 3},
                # Accepts TCP and never answers: the scrape must cost this target its timeout only.
                "dead": {
                    "dsn": f"host=127.0.0.1 port={dead_port} dbname=x user=x",
                    "timeout": 2,
                    "connect_timeout": 2,
                },
            },
        )
        exp = start_exporter(cfg, ["live", "dead"])
        prom = Prometheus(exp.port, interval="3s", scrape_timeout="3s")
        try:
            depth = 'sum by (target) (pgconsole_queue_jobs{state="pending",system="pgconsole"})'
            got = prom.wait_for(depth, lambda r: _values(r).get("live") == 42.0)
            with db.admin() as a:
                in_db = a.execute("SELECT count(*) FROM pgconsole.jobs WHERE status = 'pending'").fetchone()[
                    0
                ]
            assert _values(got) == {"live": float(in_db)} == {"live": 42.0}
            by_type = prom.query('pgconsole_queue_jobs{target="live",state="pending"}')
            assert {r["metric"]["job_type"]: float(r["value"][1]) for r in by_type} == {
                "email": 37.0,
                "report": 5.0,
            }

            up = prom.wait_for("pgconsole_up", lambda r: set(_values(r)) == {"live", "dead"})
            assert _values(up) == {"live": 1.0, "dead": 0.0}
            status = prom.query('pgconsole_check_status{check="connection"}')
            assert _values(status) == {"live": 0.0, "dead": 2.0}
            # Prometheus's own view of the scrape: it succeeds although one target is dead.
            assert _values_by_job(prom.query("up")) == {"pgconsole": 1.0}

            # The live target's series keep coming: a change in the database shows in Prometheus.
            with db.admin() as a:
                a.execute("DELETE FROM pgconsole.jobs WHERE job_type = 'report'")
            got = prom.wait_for(depth, lambda r: _values(r).get("live") == 37.0)
            assert _values(got)["live"] == 37.0
            # And each scrape stays bounded by the dead target's timeout (2 s), not more.
            t0 = time.monotonic()
            code, text = get(f"http://127.0.0.1:{exp.port}/metrics")
            took = time.monotonic() - t0
            assert code == 200 and value(text, "pgconsole_up", target="dead") == 0.0
            assert took < 2 + 1.5, took
        finally:
            prom.stop()
            exp.stop()


def _values_by_job(result: list[dict[str, object]]) -> dict[str, float]:
    return {r["metric"]["job"]: float(r["value"][1]) for r in result}  # type: ignore[index]


def test_completed_and_failed_counters_follow_the_queue(db: TestDB, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", {"live": {"dsn": db.dsn_as("pgconsole_readonly")}})
    exp = start_exporter(cfg, ["live"])
    url = f"http://127.0.0.1:{exp.port}/metrics"
    try:
        get(url)  # the first scrape sets the counters' starting point
        with db.admin() as a:
            ids = [client.enqueue(a, "email", {"n": i}, max_retries=0) for i in range(7)]
            jobs = client.claim(a, "w1", 7)
            assert {j.id for j in jobs} == set(ids)
            client.complete(a, "w1", [(j.id, j.attempt, None) for j in jobs[:5]])
            client.fail(a, "w1", [(j.id, j.attempt, "boom", None, False) for j in jobs[5:]])
        time.sleep(2.5)  # the counters count jobs finished at least SETTLE_S ago
        _, text = get(url)
        assert value(text, "pgconsole_queue_jobs_completed_total", target="live", job_type="email") == 5.0
        assert value(text, "pgconsole_queue_jobs_failed_total", target="live", job_type="email") == 2.0
        _, text = get(url)  # counted once, not again
        assert value(text, "pgconsole_queue_jobs_completed_total", target="live", job_type="email") == 5.0
    finally:
        exp.stop()

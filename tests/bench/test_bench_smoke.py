"""Smoke runs of every benchmark function with tiny sizes, so bench/ cannot rot unnoticed.

No timing assertions: benchmarks are not timed tests (docs/BENCHMARKS.md has the real runs).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import psycopg
import pytest

from bench.common import Env, server_version
from tests.pgcluster import Cluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(pg18: Cluster) -> Iterator[Env]:
    dsn = pg18.dsn()
    yield Env(admin_dsn=dsn, quick=True, repeat=1, server_version=server_version(dsn))


def _pgqueuer() -> bool:
    from bench.peers import pgqueuer_available

    return pgqueuer_available() is not None


def test_throughput_all_sides(env: Env) -> None:
    from bench import throughput

    names = ("pgconsole", "pgconsole-sql", "bare") + (("pgqueuer",) if _pgqueuer() else ())
    res = throughput.run(env, workers=(1,), batches=(10,), names=names, job_scale={10: 200}, max_seconds=60)
    cell = res["cells"][0]
    for name in names:
        run = cell["runs"][name][0]
        assert run["complete"] and not run["worker_failed"], (name, run)


def test_latency(env: Env) -> None:
    from bench import latency

    res = latency.run(env, rate=200.0, samples=10)
    assert res["runs"]["doorbell"][0]["samples"] == 10


def test_notify_cost(env: Env) -> None:
    from bench import notify_cost

    res = notify_cost.run(env, seconds=0.3, producers=2, drain_jobs=200)
    assert all(r[0]["rows"] > 0 for r in res["produce_runs"].values())


@pytest.mark.skipif(not _pgqueuer(), reason="PgQueuer not installed (pip install -e '.[bench]')")
def test_enqueue(env: Env) -> None:
    from bench import enqueue
    from pgconsole.queue import client

    res = enqueue.run(env, bulk=4 * client.COPY_MIN_JOBS, seconds=0.2, pairs=10)  # on the COPY path
    assert res["bulk_spread"]["pgconsole"]["n"] == 1 and res["bulk_spread"]["unnest"]["n"] == 1
    assert res["bulk_copy_vs_unnest"] > 0
    # the single-row goal as both roles, three rounds each (repeat 1), every one timed
    assert set(res["vs_insert"]) == {"superuser", "pgconsole_app"}
    assert all(len(runs) == 3 for runs in res["vs_insert"].values())
    assert all(r["ratio"] > 0 for runs in res["vs_insert"].values() for r in runs)
    # 16 producers against pgbench at 16 clients: both sides ran and made jobs
    assert all(len(rates) == 1 and rates[0] > 0 for rates in res["concurrent_rates"].values())


@pytest.mark.skipif(shutil.which("check_postgres") is None, reason="check_postgres not installed")
def test_check_latency(env: Env) -> None:
    from bench import check_latency

    res = check_latency.run(env, finished=1_000, pending=10, samples=1)
    assert res["check_postgres_seconds"]["n"] == 1
    assert res["pgconsole_seconds"]["n"] == 1, res.get("pgconsole_missing")


def test_dashboard_effect(env: Env) -> None:
    from bench import dashboard
    from bench.dataset import ensure_history

    hist = ensure_history(env, 1_000, 10)
    res = dashboard.effect(env, hist["dsn"], jobs=200, workers=1, batch=10)
    assert res["spread"]["without console"]["n"] == 1


def test_dashboard_effect_alternating(env: Env) -> None:
    from bench import dashboard
    from bench.dataset import ensure_history

    hist = ensure_history(env, 1_000, 10)
    res = dashboard.alternating(env, hist["dsn"], jobs=3_000, workers=1, batch=10, phase_s=0.2)
    phases = res["drains"][0]["phases"]
    assert phases[0]["from"] == 0 and phases[-1]["to"] == 3_000, "the phases account for every job"
    assert all(
        a["to"] == b["from"] and a["console"] != b["console"]
        for a, b in zip(phases, phases[1:], strict=False)
    )
    assert res["neighbours"] == len(res["drains"][0]["neighbour_ratios"])
    # server CPU only grows, though backends and autovacuum workers exit (the postmaster reaps them)
    assert all(p["cpu_s"]["server_other"] >= 0 for p in phases), [p["cpu_s"] for p in phases]


def test_size_and_retention(env: Env) -> None:
    from bench import size

    res = size.run(env, finished=2_000, pending=2_000, retention_budget=2.0, rounds=1, sizes=[500])
    assert res["pairs"] and res["retention"]["deleted"] > 0


def test_report_renders(env: Env) -> None:
    from bench import report

    text = report.render("throughput", {"status": "ok", "cells": [], "skipped": {"x": "why"}})
    assert "why" in text


def test_backend_cpu(env: Env) -> None:
    from bench.backend_cpu import BATCH, measure

    res = measure(env.admin_dsn, [1, 2], batches=30, repeat=1)
    for sessions, by_side in res.items():
        for side, (run,) in by_side.items():
            # every session handled its batches, and the backends' CPU was read while they were
            # still connected: not the zero of a backend that had exited. /proc counts 10 ms ticks
            # and the bare loop's backend takes about 5 us a job, so 3,000 jobs make a tick or more.
            assert run["jobs"] == sessions * 30 * BATCH, (sessions, side, run)
            assert run["us_per_job"] > 0, (sessions, side, run)


def test_row_cost(env: Env) -> None:
    from bench import row_cost

    with env.admin() as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_row_cost_smoke WITH (FORCE)")
        conn.execute("CREATE DATABASE bench_row_cost_smoke")
    # measure_side raises unless each side drains every job it was given; 5,000 jobs at about
    # 15 us a job make several 10 ms ticks of /proc CPU on every side
    res = row_cost.measure(env.dsn("bench_row_cost_smoke"), row_cost.SIDES, jobs=5000, batch=100, repeat=1)
    assert set(res) == set(row_cost.SIDES)
    assert all(run > 0 for runs in res.values() for run in runs), res


def test_enqueue_cost(env: Env) -> None:
    from bench import enqueue_cost

    with env.admin() as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_enqueue_cost_smoke WITH (FORCE)")
        conn.execute("CREATE DATABASE bench_enqueue_cost_smoke")
    # measure_side raises unless each side enqueued every job; 500 enqueues at about 200 us each
    # make several 10 ms ticks of /proc CPU on every side
    dsn = env.dsn("bench_enqueue_cost_smoke")
    res = enqueue_cost.measure(dsn, enqueue_cost.SIDES, jobs=500, repeat=1)
    assert set(res) == set(enqueue_cost.SIDES)
    assert all(run > 0 for runs in res.values() for run in runs), res
    with psycopg.connect(dsn, autocommit=True) as conn:  # the table is left as installed
        row = conn.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid), t.tgenabled FROM pg_attrdef d, pg_trigger t"
            " WHERE d.adrelid = 'pgconsole.jobs'::regclass AND d.adnum = 1"
            " AND t.tgrelid = d.adrelid AND t.tgname = 'jobs_notify_insert'"
        ).fetchone()
    assert row == ("pgconsole.uuid_generate_v7()", "O"), row


def test_exporter_cost(pg18: Cluster, tmp_path: object) -> None:
    from pathlib import Path

    from bench.exporter_cost import PEER, many_targets, side_by_side

    if not PEER.exists():
        pytest.skip("prometheus-postgres-exporter is not installed")
    db = pg18.new_database()
    try:
        one = side_by_side(pg18, db, Path(str(tmp_path)), rounds=1, block=2)
    finally:
        pg18.drop_database(db)
    for side in ("pgconsole fresh", "pgconsole carried", "postgres_exporter"):
        assert one[side]["bytes"] > 1000 and one[side]["wall_s"] > 0, (side, one)
    assert set(one["ratio"]) == {"pgconsole fresh", "pgconsole carried", "pgconsole at 15 s"}
    many = many_targets(pg18, Path(str(tmp_path)), 2, 2)
    assert many["targets"] == 2 and many["wall_p95_s"] > 0


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_console_cost(env: Env) -> None:
    """Every side starts in a real terminal, shows its screen, and is measured: its process tree and
    its backends used CPU (a side that never refreshed would read 0 backends), and its statements
    were seen in pg_stat_statements (the console's own page query among the Jobs screen's). 6 s: CPU is
    read in 10 ms ticks, and pg_activity at a 1 s refresh takes a few ms a second."""
    from bench import console_cost

    res = console_cost.run(
        env, finished=2_000, pending=20, seconds=6, warmup=1, refresh=1, poll=0.05, repeat=1
    )
    for name, (run,) in res["runs"].items():
        assert run["client_cpu_ms_per_s"] > 0, (name, run["screen_at_end"])
        assert run["backends_seen"] >= 1, (name, run["screen_at_end"])
        assert run["server_time"]["calls_per_s"] > 0, (name, run["server_time"])
    jobs = res["runs"]["pgconsole Jobs"][0]
    assert any("pgconsole.jobs" in s["query"] for s in jobs["server_time"]["per_statement"]), jobs[
        "server_time"
    ]
    assert "| pg_activity |" in console_cost.table(res)


def test_chart_cost(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import chart_cost

    chart_cost.main(["--draws", "2", "--rounds", "1"])
    assert "| line_plot |" in capsys.readouterr().out


@pytest.mark.parametrize("burst", [False, True])
def test_exporter_cost_backlogs(pg18: Cluster, burst: bool) -> None:
    """The vacuumed backlog's pages are all visible (the load commits synchronously, so the vacuum
    can mark them); a burst enqueued after the vacuum adds pages none has marked."""
    from bench.exporter_cost import load, visible_pages

    db = pg18.new_database()
    try:
        with pg18.admin(db) as conn:
            load(conn, 2_000, 3_000, burst)
            assert conn.execute(
                "SELECT count(*) FROM pgconsole.jobs WHERE status = 'pending'"
            ).fetchone() == (3_000,)
        seen, _, total = visible_pages(pg18, db).partition(" of ")
        pages = int(total.split()[0])
        assert (int(seen) < pages) if burst else (int(seen) == pages), (burst, seen, total)
    finally:
        pg18.drop_database(db)

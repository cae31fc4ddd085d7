"""Queue checks from real causes: a worker killed mid-job, a burst of failures, an old pending job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psycopg
import pytest

from pgconsole.queue import client
from tests.checks.helpers import ROOT, eventually, status_of

pytestmark = pytest.mark.timeout(120)

WORKER_SCRIPT = """
import sys, time, psycopg
from pgconsole.queue import client
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="pgconsole-worker:" + sys.argv[2])
jobs = client.claim(conn, sys.argv[2], 1, lease_seconds=3600)
print("CLAIMED", jobs[0].id, flush=True)
time.sleep(600)
"""


def test_stuck_job_after_worker_killed(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    with db.admin() as a:
        job_id = client.enqueue(a, "report.render", {"n": 1})
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, db.dsn, "w-kill-1"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
    )
    try:
        line = worker.stdout.readline() if worker.stdout else ""
        assert line.startswith("CLAIMED") and str(job_id) in line, line
        r = status_of(capsys, dsn, "stuck_jobs")
        assert r["status"] == "OK", r  # a live worker with a valid lease is not stuck
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        r = eventually(lambda: status_of(capsys, dsn, "stuck_jobs"), lambda r: r["status"] == "WARNING")
        assert r["status"] == "WARNING", r
        assert "worker_gone" in r["message"]
        assert r["perfdata"]["stuck_jobs"]["value"] == 1
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    # The operator's rescue (after the worker-gone grace period) removes the cause.
    with db.admin() as a:
        a.execute(
            "UPDATE pgconsole.jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", (job_id,)
        )
        rescued = a.execute("SELECT id FROM pgconsole.rescue_stuck_jobs()").fetchall()
        assert [r[0] for r in rescued] == [job_id]
    assert status_of(capsys, dsn, "stuck_jobs")["status"] == "OK"


def test_burst_of_failed_jobs(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    with db.admin() as a:
        a.execute("""INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, result)
                     SELECT 'email.send', 'completed', now(), now(), '{}' FROM generate_series(1, 40)""")
        assert status_of(capsys, dsn, "failure_rate")["status"] == "OK"
        a.execute("""INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_message, error_code)
                     SELECT 'email.send', 'failed', now(), now(), 'SMTP 421 try later', 'smtp'
                       FROM generate_series(1, 5)""")
        r = status_of(capsys, dsn, "failure_rate")
        assert r["status"] == "WARNING", r  # 5 of 45 = 11%
        a.execute("""INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_message, error_code)
                     SELECT 'email.send', 'failed', now(), now(), 'SMTP 421 try later', 'smtp'
                       FROM generate_series(1, 20)""")
        r = status_of(capsys, dsn, "failure_rate")
        assert r["status"] == "CRITICAL", r  # 25 of 65 = 38%
        assert "SMTP 421" in r["message"]
        assert r["perfdata"]["failed_15m"]["value"] == 25
        # The burst ages out of the 15-minute window.
        a.execute(
            "UPDATE pgconsole.jobs SET completed_at = now() - interval '1 hour' WHERE status = 'failed'"
        )
    assert status_of(capsys, dsn, "failure_rate")["status"] == "OK"


def test_failure_rate_of_a_busy_queue_is_that_of_the_newest_finished(db, capsys):
    from pgconsole.monitor.queue_window import WINDOW_CAP

    dsn = db.dsn_as("pgconsole_readonly")
    with db.admin() as a:  # more finished in 15 min than the collector's sample holds
        a.execute(
            """INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, result)
                     SELECT 'email.send', 'completed', now(), now() - interval '1 minute', '{}'
                       FROM generate_series(1, %s)""",
            (WINDOW_CAP + 500,),
        )
        a.execute("""INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_message, error_code)
                     SELECT 'email.send', 'failed', now(), now(), 'SMTP 421 try later', 'smtp'
                       FROM generate_series(1, 300)""")
    r = status_of(capsys, dsn, "failure_rate")
    # the sample: the 300 failures and the newest WINDOW_CAP - 300 completions
    assert (
        f"15.0% of jobs failed in the newest {WINDOW_CAP} finished (300 of {WINDOW_CAP})" in r["message"]
    ), r
    assert r["status"] == "WARNING", r


def test_old_pending_job(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    with db.admin() as a:
        a.execute("INSERT INTO pgconsole.jobs (job_type) VALUES ('fresh')")
        assert status_of(capsys, dsn, "queue_latency")["status"] == "OK"
        # scheduled in the future: not due, so not late
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, scheduled_at) VALUES ('later', now() + interval '1 day')"
        )
        assert status_of(capsys, dsn, "queue_latency")["status"] == "OK"
        old = a.execute("""INSERT INTO pgconsole.jobs (job_type, priority, scheduled_at)
                           VALUES ('report.render', -5, now() - interval '10 minutes') RETURNING id""").fetchone()[
            0
        ]
        r = status_of(capsys, dsn, "queue_latency")
        assert r["status"] == "WARNING", r
        assert 600 <= r["perfdata"]["queue_latency"]["value"] < 700
        assert status_of(capsys, dsn, "queue_latency", "queue_latency.crit=8min")["status"] == "CRITICAL"
        with psycopg.connect(db.dsn, autocommit=True, application_name="pgconsole-worker:w-drain") as w:
            claimed = client.claim(w, "w-drain", 10)
            assert old in {j.id for j in claimed}
            done = client.complete(w, "w-drain", [(j.id, j.attempt, {"ok": True}) for j in claimed])
            assert old in done
    assert status_of(capsys, dsn, "queue_latency")["status"] == "OK"

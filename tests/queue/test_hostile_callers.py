"""The queue's promises against hostile callers (migration 0010; docs/guarantees.md G3, G10, G13-G16).

Every role logs in with its own password over TCP (no SET ROLE under a superuser); the superuser
connection (``su``) only arranges state and reads the outcome. Runs on PostgreSQL 18 and 15.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from pgconsole.queue import client
from pgconsole.queue.models import InvalidInput
from tests.foundation.helpers import cli
from tests.queue.workers import start_worker

ROOT = Path(__file__).resolve().parents[2]


def _tenant(conn: Any, tenant: str | None) -> None:
    conn.execute("SELECT set_config('pgconsole.tenant_id', %s, false)", (tenant or "",))


def _isolated(su: Any) -> None:
    su.execute("UPDATE pgconsole.settings SET value = 'true' WHERE key = 'tenant_isolation'")


def _app_as(db: Any, tenant: str | None) -> psycopg.Connection[Any]:
    conn = connect(db.dsn_as("pgconsole_app"), Purpose.APP)
    _tenant(conn, tenant)
    return conn


def _status(su: Any, jid: Any) -> tuple[Any, ...]:
    row = su.execute(
        "SELECT status, locked_by, attempt, error_code FROM pgconsole.jobs WHERE id = %s", (jid,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def _audits(su: Any, message: str) -> list[dict[str, Any]]:
    rows = su.execute(
        "SELECT metadata, actor FROM pgconsole.job_log WHERE level = 'audit' AND message = %s ORDER BY id",
        (message,),
    ).fetchall()
    return [{**r[0], "actor": r[1]} for r in rows]


# -- G10: tenant confinement in every function -------------------------------------------------


def test_claims_are_confined_to_the_callers_tenant(db: Any, su: Any) -> None:
    _isolated(su)
    with _app_as(db, "A") as a, _app_as(db, "B") as b, _app_as(db, None) as nobody:
        ja = client.enqueue(a, "t", {"secret": "A"})
        jb = [client.enqueue(b, "t", {"secret": "B"}) for _ in range(3)]
        assert client.claim_lean(nobody, "wn", 10, lease_seconds=30) == []  # no tenant: nothing
        assert client.claim(nobody, "wn", 10) == []
        got = client.claim_lean(a, "wa", 10, lease_seconds=30)
        assert [j.id for j in got] == [ja]  # never B's job or payload
        assert client.claim(a, "wa", 10) == []
        n, rows = client.complete_and_claim(a, "wa", [], 10, lease_seconds=30)
        assert (n, rows) == (0, [])
        assert a.execute("SELECT count(*) FROM pgconsole.start_job(%s, 'wa')", (jb[0],)).fetchone() == (0,)
    # the worker role serves every tenant, without a tenant of its own
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as w:
        got = client.claim_lean(w, "ww", 10, lease_seconds=30)
        assert sorted(j.id for j in got) == sorted(jb)


def test_tenant_a_cannot_finish_tenant_bs_running_job(db: Any, su: Any) -> None:
    _isolated(su)
    with _app_as(db, "B") as b:
        jb = client.enqueue(b, "t", {})
        [held] = client.claim(b, "wb", 1)
    with _app_as(db, "A") as a:
        # with every token a reader of B's row would know: still nothing
        assert a.execute("SELECT pgconsole.complete_job(%s, '{}', %s)", (jb, held.attempt)).fetchone() == (
            False,
        )
        assert client.complete(a, "wb", [(jb, held.attempt, {"forged": True})]) == set()
        assert client.fail(a, "wb", [(jb, held.attempt, "forged", None, False)]) == []
        assert a.execute("SELECT pgconsole.fail_job(%s, 'x', NULL, %s)", (jb, held.attempt)).fetchone() == (
            None,
        )
        assert client.heartbeat(a, "wb", [jb]) == []
        assert not client.progress(a, jb, held.attempt, 50)
        assert client.release(a, "wb", [(jb, held.attempt)]) == {}
        assert client.add_log(a, jb, "forged", attempt=held.attempt) is None
        with pytest.raises(client.JobNotFound):
            client.add_log(a, jb, "forged")
    assert _status(su, jb) == ("processing", "wb", 1, None)


# -- G3: fencing for every caller --------------------------------------------------------------


@pytest.mark.parametrize("role", ["pgconsole_app", "pgconsole_worker"])
def test_tokenless_completion_failure_and_progress_are_for_operators(db: Any, su: Any, role: str) -> None:
    with connect(db.dsn_as("pgconsole_app"), Purpose.APP) as app:
        jid = client.enqueue(app, "t", {})
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as holder:
        [held] = client.claim(holder, "holder", 1)
    with connect(db.dsn_as(role), Purpose.WORKER) as other:
        for call in (
            "SELECT pgconsole.complete_job(%s, '{\"forged\": 1}')",
            "SELECT pgconsole.fail_job(%s, 'forged')",
            "SELECT pgconsole.update_job_progress(%s, 99)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="attempt: required"):
                other.execute(call, (jid,))
    assert _status(su, jid) == ("processing", "holder", 1, None)
    # the holder's own seed-style call with its attempt works
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as holder:
        assert holder.execute(
            "SELECT pgconsole.update_job_progress(%s, 40, 'half', %s)", (jid, held.attempt)
        ).fetchone() == (True,)
        assert holder.execute(
            "SELECT pgconsole.complete_job(%s, '{\"ok\": 1}', %s)", (jid, held.attempt)
        ).fetchone() == (True,)
    assert _status(su, jid)[0] == "completed"


def test_an_operator_may_finish_a_job_without_its_token_and_it_is_audited(db: Any, su: Any) -> None:
    with connect(db.dsn_as("pgconsole_app"), Purpose.APP) as app:
        jid = client.enqueue(app, "t", {})
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as w:
        client.claim(w, "stuck-worker", 1)
    with connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR) as op:
        assert op.execute(
            "SELECT pgconsole.fail_job(%s, 'operator gave up', 'manual', NULL, false)", (jid,)
        ).fetchone() == ("failed",)
    [audit] = _audits(su, "fail_job")
    assert audit["actor"] == "pgconsole_operator" and audit["job_id"] == str(jid) and audit["fenced"] is False


# -- G14: maintenance is for staff, and audited ------------------------------------------------


def test_the_app_role_cannot_erase_history_or_run_maintenance(db: Any, app: Any, su: Any) -> None:
    for call in (
        "SELECT pgconsole.cleanup_old_jobs('0s', '0s')",
        "SELECT * FROM pgconsole.rescue_stuck_jobs()",
        "SELECT pgconsole.expire_stale_jobs()",
        "SELECT * FROM pgconsole.retry_failed_jobs()",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(call)


def test_cleanup_expire_and_rescue_write_one_audit_summary_per_call(db: Any, app: Any, su: Any) -> None:
    for _ in range(5):
        client.enqueue(app, "t", {})
    su.execute("UPDATE pgconsole.jobs SET status = 'completed', completed_at = now() - interval '1 hour'")
    stale = client.enqueue(app, "t", {}, expires_at=None)
    su.execute("UPDATE pgconsole.jobs SET expires_at = now() - interval '1 second' WHERE id = %s", (stale,))
    orphan = client.enqueue(app, "t", {})
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as w:
        client.claim_lean(w, "dead", 1, lease_seconds=30)
        su.execute(
            "UPDATE pgconsole.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
            (orphan,),
        )
        assert [r.id for r in client.rescue_stuck(w)] == [orphan]
        assert client.rescue_stuck(w) == []  # nothing changed: no record
    with connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR) as op:
        assert op.execute("SELECT pgconsole.cleanup_old_jobs('0s', '0s')").fetchone() == (5,)
        assert op.execute("SELECT pgconsole.cleanup_old_jobs('0s', '0s')").fetchone() == (0,)
        assert op.execute("SELECT pgconsole.expire_stale_jobs()").fetchone() == (1,)
    [cleanup] = _audits(su, "cleanup_old_jobs")
    assert (cleanup["deleted"], cleanup["actor"], cleanup["completed_older_than"]) == (
        5,
        "pgconsole_operator",
        "00:00:00",
    )
    [expire] = _audits(su, "expire_stale_jobs")
    assert expire["expired"] == 1
    [rescue] = _audits(su, "rescue_stuck_jobs")
    assert (rescue["rescued"], rescue["by_reason"], rescue["actor"]) == (
        1,
        {"lease_expired": 1},
        "pgconsole_worker",
    )
    assert rescue["job_ids"] == [str(orphan)]


# -- G15: a direct INSERT enqueues but cannot forge; values are in range everywhere --------------


def test_a_direct_insert_cannot_forge_a_lease_or_skip_the_payload_limit(db: Any, app: Any, su: Any) -> None:
    app.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('plain', '{\"n\": 1}')"
    )  # still an enqueue
    forgeries = [
        (
            "INSERT INTO pgconsole.jobs (job_type, status, locked_by, lease_expires_at, started_at)"
            " VALUES ('t', 'processing', 'someone-else', now() + interval '1 day', now())",
            "status",
        ),
        ("INSERT INTO pgconsole.jobs (job_type, locked_by) VALUES ('t', 'someone-else')", "locked_by"),
        ("INSERT INTO pgconsole.jobs (job_type, attempt) VALUES ('t', 7)", "attempt"),
        ("INSERT INTO pgconsole.jobs (job_type, result) VALUES ('t', '{}')", "result"),
        ("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('t', 'null')", "payload"),
        ("INSERT INTO pgconsole.jobs (job_type, scheduled_at) VALUES ('t', 'infinity')", "scheduled_at"),
        ("INSERT INTO pgconsole.jobs (job_type, expires_at) VALUES ('t', '-infinity')", "expires_at"),
    ]
    for stmt, field in forgeries:
        with pytest.raises(psycopg.Error, match=field):
            app.execute(stmt)  # type: ignore[arg-type]  # constant SQL above
    big = json.dumps({"blob": "x" * (5 * 1024 * 1024)})
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="payload: .* over the limit"):
        app.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('t', %s::jsonb)", (big,))
    rows = su.execute("SELECT job_type, status, attempt, locked_by FROM pgconsole.jobs").fetchall()
    assert rows == [("plain", "pending", 0, None)]


@pytest.mark.parametrize("when", ["infinity", "-infinity", "4713-01-01 BC", "2300-01-01"])
def test_out_of_range_times_are_refused_naming_the_field(db: Any, app: Any, when: str) -> None:
    with pytest.raises(InvalidInput, match="scheduled_at: must be a finite time"):
        with client.translate_errors():
            app.execute("SELECT pgconsole.create_job(NULL, 't', '{}', 0, 3, %s::timestamptz)", (when,))
    with pytest.raises(InvalidInput, match="expires_at: must be a finite time"), client.translate_errors():
        app.execute("SELECT pgconsole.create_job(NULL, 't', '{}', 0, 3, NULL, %s::timestamptz)", (when,))
    with pytest.raises(InvalidInput, match="scheduled_at"), client.translate_errors():
        app.execute(
            "SELECT * FROM pgconsole.enqueue_jobs('{t}', '{\"{}\"}', NULL, 3, %s::timestamptz)", (when,)
        )


def test_python_and_cli_give_the_same_answers_for_times_and_null_payloads(db: Any, app: Any) -> None:
    from datetime import UTC, datetime

    with pytest.raises(InvalidInput, match="scheduled_at: must be a finite time"):
        client.enqueue(app, "t", {}, scheduled_at=datetime(2300, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="expires_at: must be a finite time"):
        client.enqueue(app, "t", {}, expires_at=datetime(1900, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="payload: must not be null"):
        client.enqueue(app, "t", None)
    with pytest.raises(InvalidInput, match="payload: must not be null"), client.translate_errors():
        app.execute("SELECT pgconsole.create_job(NULL, 't', 'null')")
    assert isinstance(client.enqueue(app, "t", 5), UUID)  # a scalar is a payload like any other, everywhere
    dsn = db.dsn_as("pgconsole_app")
    out = cli("--dsn", dsn, "jobs", "enqueue", "t", "--payload", "null")
    assert out.returncode == 1 and "payload: must not be null" in out.stderr and "Traceback" not in out.stderr
    out = cli("--dsn", dsn, "jobs", "enqueue", "t", "--delay", str(300 * 365 * 86400))
    assert out.returncode == 1 and "scheduled_at: must be a finite time" in out.stderr, out.stderr
    assert cli("--dsn", dsn, "jobs", "enqueue", "t", "--payload", "5").returncode == 0


def test_rows_written_before_the_rules_never_break_reading(db: Any, app: Any, su: Any) -> None:
    """A superuser's (or an old release's) out-of-range values: shown, never a crash, checks meaningful."""
    jid = client.enqueue(app, "t", {})
    su.execute(
        "UPDATE pgconsole.jobs SET created_at = '-infinity', updated_at = 'infinity',"
        " status = 'failed', completed_at = '4713-01-01 BC', error_message = 'old' WHERE id = %s",
        (jid,),
    )
    client.enqueue(app, "t", {})
    dsn = db.dsn_as("pgconsole_operator")
    for fmt in ("text", "json"):
        out = cli("--dsn", dsn, "jobs", "list", "--format", fmt)
        assert out.returncode == 0, out.stderr
        assert str(jid) in out.stdout
    out = cli("--dsn", dsn, "jobs", "show", str(jid), "--format", "json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert "0001-01-01" in json.dumps(shown) and "9999-12-31" in json.dumps(shown)
    check = cli(
        "--check",
        "--dsn",
        db.dsn_as("pgconsole_readonly"),
        "--format",
        "json",
        "--only",
        "queue_latency,stuck_jobs,failure_rate,queue_table_bloat",
    )
    results = {r["name"]: r for r in json.loads(check.stdout)["checks"]}
    assert set(results) == {"queue_latency", "stuck_jobs", "failure_rate", "queue_table_bloat"}, check.stdout
    assert all(r["status"] != "unknown" for r in results.values()), results


# -- G16: one job's outcome never takes a worker down ----------------------------------------------


def test_a_poison_result_fails_its_job_alone_and_the_worker_keeps_running(
    db: Any, app: Any, su: Any, tmp_path: Path
) -> None:
    kinds = ["ok", "huge", "ok", "not_json", "ok", "late_limit", "ok"]
    ids = {client.enqueue(app, "poison", {"kind": k}): k for k in kinds}
    env_dsn = db.dsn  # the handler lowers the limit behind the worker's back for 'late_limit'
    w = start_worker(
        db.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:poison",
        tmp_path / "ledger",
        "--burst",
        "--batch",
        "10",
        "--concurrency",
        "1",
        env={"PGC_SU_DSN": env_dsn},
    )
    out, err = w.communicate(timeout=90)
    assert w.returncode == 0, err.decode()
    assert b"Traceback" not in err
    rows = {r[0]: r[1:] for r in su.execute("SELECT id, status, error_code, retry_count FROM pgconsole.jobs")}
    for jid, kind in ids.items():
        status, code, retries = rows[jid]
        expected = {
            "ok": ("completed", None),
            "huge": ("failed", "result_too_large"),
            "not_json": ("failed", "result_not_json"),
            "late_limit": ("failed", "result_store_failed"),
        }[kind]
        assert (status, code) == expected, (kind, rows[jid])
        assert retries <= 1  # batch-mates were not rescued as lease_expired with retries spent
    assert b"completed 4, failed 3" in err, err.decode()


# -- workers recover by themselves ---------------------------------------------------------------


def test_burst_rescues_a_crashed_workers_jobs_before_deciding_there_is_nothing(
    db: Any, app: Any, su: Any, tmp_path: Path
) -> None:
    ids = [client.enqueue(app, "t", {}) for _ in range(3)]
    dead = connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER, app_suffix="dead")
    client.claim_lean(dead, "dead", 10, lease_seconds=1)
    dead.close()  # the crashed worker: its session is gone, its jobs stay processing
    time.sleep(1.2)  # past the lease
    w = start_worker(
        db.dsn_as("pgconsole_worker"), "tests.queue.handlers:ledger", tmp_path / "ledger", "--burst"
    )
    _, err = w.communicate(timeout=60)
    assert w.returncode == 0, err.decode()
    assert b"rescued 3" in err, err.decode()
    statuses = dict(su.execute("SELECT id, status FROM pgconsole.jobs").fetchall())
    assert {statuses[i] for i in ids} == {"completed"}


def test_worker_retries_its_first_connection_then_gives_up_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "pgconsole",
        "--dsn",
        f"postgresql://u@127.0.0.1:{port}/db",
        "worker",
        "--handler",
        "tests.queue.handlers:ledger",
        "--connect-retry",
        "2",
    ]
    t0 = time.monotonic()
    out = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PGCONSOLE_CONFIG": "/dev/null"},
    )
    took = time.monotonic() - t0
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.count("retrying in") >= 2, out.stderr  # it did retry, with backoff
    assert took < 30  # bounded by --connect-retry (a hang guard, not a timing assertion)


def test_worker_on_a_database_without_the_queue_says_so_in_one_line(db: Any, su: Any) -> None:
    su.execute("DROP SCHEMA pgconsole CASCADE")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pgconsole",
            "--dsn",
            db.dsn_as("pgconsole_worker"),
            "worker",
            "--handler",
            "tests.queue.handlers:ledger",
            "--burst",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PGCONSOLE_CONFIG": "/dev/null"},
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "started" not in out.stderr, out.stderr
    assert "pgconsole setup" in out.stderr and "pgconsole migrate" in out.stderr, out.stderr


# -- G13: audit records are for staff ------------------------------------------------------------


def test_audit_records_are_read_by_staff_only(db: Any, app: Any, su: Any) -> None:
    jid = client.enqueue(app, "t", {})
    client.add_log(app, jid, "producer note")
    with connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR) as op:
        op.execute("SELECT * FROM pgconsole.cancel_jobs(%s, 'because')", ([jid],))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT * FROM pgconsole.job_log")
    assert [e.message for e in client.get_logs(app, jid)] == ["producer note"]
    for role, purpose in (
        ("pgconsole_readonly", Purpose.DASHBOARD),
        ("pgconsole_operator", Purpose.OPERATOR),
    ):
        with connect(db.dsn_as(role), purpose) as staff:
            assert {e.level for e in client.get_logs(staff, jid)} == {"info", "audit"}
            assert staff.execute(
                "SELECT count(*) FROM pgconsole.job_log WHERE level = 'audit'"
            ).fetchone() == (1,)


# -- rows the rules would refuse ----------------------------------------------------------------


def test_rows_that_break_the_time_and_payload_rules_still_read_and_can_be_deleted(
    db: Any, app: Any, su: Any
) -> None:
    """Rows the range and payload rules refuse (written with the rules' trigger disabled, as a
    superuser's repair or a restore of an edited dump can leave them) are listed, shown, counted
    and checked without a crash, and an operator can delete them."""
    good = client.enqueue(app, "t", {})
    su.execute("ALTER TABLE pgconsole.jobs DISABLE TRIGGER jobs_input_rules")
    bad = [
        r[0]
        for r in su.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload, status, scheduled_at, expires_at, completed_at,"
            " error_message) VALUES"
            " ('old', 'null', 'failed', '-infinity', 'infinity', now(), 'old'),"
            " ('old', '{}', 'expired', '1900-01-01', '2300-01-01', now(), 'old') RETURNING id"
        ).fetchall()
    ]
    su.execute("ALTER TABLE pgconsole.jobs ENABLE TRIGGER jobs_input_rules")
    assert su.execute(
        "SELECT count(*) FROM pgconsole.jobs WHERE NOT isfinite(scheduled_at) OR jsonb_typeof(payload) = 'null'"
    ).fetchone() == (1,)

    dsn = db.dsn_as("pgconsole_operator")
    for fmt in ("text", "json"):
        out = cli("--dsn", dsn, "jobs", "list", "--format", fmt)
        assert out.returncode == 0 and all(str(i) in out.stdout for i in bad), out.stderr
    out = cli("--dsn", dsn, "jobs", "show", str(bad[0]), "--format", "json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "0001-01-01" in out.stdout and "9999-12-31" in out.stdout, out.stdout
    with connect(dsn, Purpose.OPERATOR) as op:
        assert op.execute(
            "SELECT * FROM pgconsole.count_jobs_matching_by_status(p_job_types => ARRAY['old'])"
        ).fetchall() == [("failed", 1), ("expired", 1)]
        assert op.execute("SELECT count(*) FROM pgconsole.get_job_queue_stats()").fetchone() is not None
        deleted = op.execute(
            "SELECT id FROM pgconsole.delete_jobs_matching(p_reason => 'repair', p_job_types => ARRAY['old'])"
        ).fetchall()
        assert sorted(r[0] for r in deleted) == sorted(bad)
    check = cli(
        "--check",
        "--dsn",
        db.dsn_as("pgconsole_readonly"),
        "--format",
        "json",
        "--only",
        "queue_latency,failure_rate",
    )
    assert all(r["status"] != "unknown" for r in json.loads(check.stdout)["checks"]), check.stdout
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as w:
        assert [j.id for j in client.claim_lean(w, "after", 10, lease_seconds=30)] == [good]


def test_the_worker_role_reads_nothing_it_has_not_claimed(db: Any, app: Any) -> None:
    jid = client.enqueue(app, "t", {"secret": 1})
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as w:
        for table in ("pgconsole.jobs", "pgconsole.job_log", "pgconsole.workers"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                w.execute(f"SELECT * FROM {table}")  # noqa: S608 - constant names above
        for call in (
            "SELECT * FROM pgconsole.detect_stuck_jobs()",
            "SELECT * FROM pgconsole.get_job_logs(%s)",
            "SELECT * FROM pgconsole.get_user_jobs('u')",
            "SELECT pgconsole.create_job(NULL, 't')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                w.execute(call, (jid,) if "%s" in call else None)  # type: ignore[arg-type]
        [got] = client.claim_lean(w, "w1", 10, lease_seconds=30)  # what it claims, it gets
        assert (got.id, got.payload) == (jid, {"secret": 1})

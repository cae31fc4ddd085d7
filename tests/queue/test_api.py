"""The SQL API through the Python client, under pgconsole_app / pgconsole_operator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from pgconsole.queue import admin, client
from pgconsole.queue.errors import DuplicateJob, JobNotFound
from pgconsole.queue.models import InvalidInput, JobFilter


def test_enqueue_claim_complete_roundtrip(app: psycopg.Connection[Any]) -> None:
    jid = client.enqueue(app, "email.send", {"to": "a@example.com"}, priority=5, user_id="u1")
    low = client.enqueue(app, "email.send", {"n": 2}, priority=-5)
    jobs = client.claim(app, "w1", 10)
    assert [j.id for j in jobs] == [jid, low]  # higher priority first
    assert all(j.attempt == 1 for j in jobs)
    assert all((r := client.get_job(app, j.id)).status == "processing" and r.locked_by == "w1" for j in jobs)
    assert client.progress(app, jid, 1, 50, "half")
    done = client.complete(app, "w1", [(jid, 1, {"ok": True}), (low, 1, None)])
    assert done == {jid, low}
    j = client.get_job(app, jid)
    assert j.status == "completed" and j.result == {"ok": True} and j.completed_at is not None
    # a duplicate completion changes nothing and says so
    assert client.complete(app, "w1", [(jid, 1, {"ok": False})]) == set()
    assert client.get_job(app, jid).result == {"ok": True}


def test_plain_insert_is_an_enqueue(app: psycopg.Connection[Any]) -> None:
    row = app.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('plain', '{}') RETURNING id, status"
    ).fetchone()
    assert row is not None and row[1] == "pending"
    assert row[0].version == 7
    assert [j.id for j in client.claim(app, "w1", 5)] == [row[0]]


def test_job_ids_are_uuidv7_with_the_server_clock(su: psycopg.Connection[Any]) -> None:
    """The id default's layout on every version (18's uuidv7(), else built from gen_random_uuid()):
    version 7, RFC 4122 variant, the first 48 bits the server's Unix time in milliseconds."""
    rows = su.execute(
        "SELECT pgconsole.uuid_generate_v7(), (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
        " FROM generate_series(1, 200)"
    ).fetchall()
    ids = [r[0] for r in rows]
    assert len(set(ids)) == 200
    for u, now_ms in rows:
        assert u.version == 7 and u.variant == "specified in RFC 4122", u
        assert abs((u.int >> 80) - now_ms) < 1000, (u, now_ms)


def test_fail_retries_with_backoff_then_fails(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    jid = client.enqueue(app, "flaky", {}, max_retries=1)
    [j] = client.claim(app, "w1", 1)
    [r] = client.fail(app, "w1", [(jid, j.attempt, "boom", "E1", True)])
    assert r.status == "pending"
    job = client.get_job(app, jid)
    assert job.retry_count == 1 and job.error_message == "boom" and job.scheduled_at > job.updated_at
    su.execute("UPDATE pgconsole.jobs SET scheduled_at = now() - interval '1 s' WHERE id = %s", (jid,))
    [j2] = client.claim(app, "w1", 1)
    assert j2.attempt == 2
    # a late failure of attempt 1 is fenced out
    assert client.fail(app, "w1", [(jid, 1, "late", None, True)]) == []
    [r2] = client.fail(app, "w1", [(jid, 2, "boom again", None, True)])
    assert r2.status == "failed"
    job = client.get_job(app, jid)
    assert job.retry_count == 2 and job.completed_at is not None


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"job_type": "has space"}, "job_type"),
        ({"job_type": "x" * 300}, "job_type"),
        ({"job_type": "ok", "priority": -101}, "priority"),
        ({"job_type": "ok", "priority": 101}, "priority"),
        ({"job_type": "ok", "payload": {"a": "nul\x00"}}, "payload"),
        ({"job_type": "ok", "payload": {"big": "x" * (1024 * 1024 + 1)}}, "payload"),
        ({"job_type": "ok", "payload": {"n": float("nan")}}, "payload"),
        ({"job_type": "ok", "user_id": "u\x00"}, "user_id"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as ei:
        client.enqueue(app, **kwargs)
    assert ei.value.field == field
    assert str(ei.value).startswith(field + ":")
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)


@pytest.mark.parametrize(
    "call, field",
    [
        ("SELECT pgconsole.create_job(NULL, 'has space', '{}')", "job_type"),
        ("SELECT pgconsole.create_job(NULL, 'ok', '{}', p_priority => 500)", "priority"),
        ("SELECT pgconsole.create_job(NULL, repeat('x', 300), '{}')", "job_type"),
    ],
)
def test_sql_api_rejects_bad_input(app: psycopg.Connection[Any], call: str, field: str) -> None:
    with pytest.raises(psycopg.Error) as ei:
        app.execute(call)  # type: ignore[call-overload]
    assert ei.value.sqlstate == "22023"
    assert str(ei.value).startswith(field + ":")


def test_sql_payload_limit_is_configurable(app: psycopg.Connection[Any], su: psycopg.Connection[Any]) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '100' WHERE key = 'payload_max_bytes'")
    with pytest.raises(InvalidInput) as ei:
        client.enqueue(app, "t", {"x": "y" * 200})
    assert ei.value.field == "payload"


def test_malformed_json_through_sql(app: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        app.execute("SELECT pgconsole.create_job(NULL, 't', '{\"a\": 1,,}'::jsonb)")
    with pytest.raises(psycopg.errors.UntranslatableCharacter):
        app.execute("SELECT pgconsole.create_job(NULL, 't', '{\"a\": \"\\u0000\"}'::jsonb)")


def test_unknown_job_id(app: psycopg.Connection[Any]) -> None:
    import uuid

    with pytest.raises(JobNotFound):
        client.get_job(app, uuid.uuid4())
    with pytest.raises(JobNotFound):
        client.cancel(app, uuid.uuid4())
    with pytest.raises(InvalidInput) as ei:
        client.get_job(app, "not-a-uuid")
    assert ei.value.field == "id"


def test_create_job_dedupe_key_conflict(app: psycopg.Connection[Any]) -> None:
    client.enqueue(app, "t", {}, dedupe_key="k1")
    with pytest.raises(DuplicateJob):
        client.enqueue(app, "t", {}, dedupe_key="k1")


def test_operator_actions_by_ids(app: psycopg.Connection[Any], operator: psycopg.Connection[Any]) -> None:
    a = client.enqueue(app, "t", {})
    b = client.enqueue(app, "t", {})
    [jb] = [j for j in client.claim(app, "w1", 2) if j.id == b] or [None]  # type: ignore[list-item]
    rows = admin.cancel_jobs(operator, [a, b], reason="test")
    by_id = {r.id: r for r in rows}
    # both were claimed by the claim above, so both are processing: cancel only requests
    assert {r.new_status for r in rows} == {"cancel_requested"}
    assert client.get_job(app, b).status == "processing"
    assert client.get_job(app, b).cancel_requested_at is not None
    hb = {h.id: h for h in client.heartbeat(app, "w1", [a, b])}
    assert hb[b].cancel_requested and hb[a].cancel_requested
    assert by_id.keys() == {a, b}
    assert jb is not None


def test_operator_cannot_touch_table_directly(operator: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        operator.execute("UPDATE pgconsole.jobs SET status = 'failed'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        operator.execute("DELETE FROM pgconsole.jobs")


def test_app_cannot_call_operator_functions(app: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT * FROM pgconsole.retry_jobs(ARRAY[]::uuid[], 'x')")


def test_readonly_reads_stats_and_stuck(db: Any) -> None:
    from pgconsole.db import Purpose, connect

    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as ro:
        assert client.detect_stuck(ro) == []
        assert ro.execute("SELECT * FROM pgconsole.get_job_queue_stats()").fetchall() == []
        assert admin.count_matching(ro, JobFilter(statuses=["failed"])) == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ro.execute("SELECT pgconsole.create_job(NULL, 't')")


def test_dry_run_statement_is_runnable(
    app: psycopg.Connection[Any], operator: psycopg.Connection[Any]
) -> None:
    ids = client.enqueue_many(app, [("t", {"k": i}) for i in range(3)])
    flt = JobFilter(statuses=["pending"], job_types=["t"], older_than=timedelta(0), payload_contains={"k": 1})
    dr = admin.dry_run(operator, "cancel", flt, reason="r")
    assert dr.count == 1
    assert "cancel_jobs_matching" in dr.statement
    res = admin.run_by_filter(operator, "cancel", flt, reason="r", batch_size=2)
    assert [r.id for r in res.rows] == [ids[1]]

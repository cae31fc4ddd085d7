"""The hot path: no NOTIFY from claim/complete (0006), the doorbell for re-pending work, the claim
and the worker's completion-with-claim, their plans (0008, 0009), and enqueue's plain INSERT."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from pgconsole.queue import client
from pgconsole.queue.errors import QueueError, translated
from pgconsole.queue.models import InvalidInput


def _complete_and_claim(
    conn: psycopg.Connection[Any],
    worker: str,
    items: list[tuple[Any, int, Any]],
    limit: int,
    *,
    lease_seconds: int,
) -> tuple[int, list[Any]]:
    """The worker's completion (complete_and_claim_jobs) as the worker runtime sends it."""
    with client._claim_cursor(conn) as cur:
        done, rows = client._complete_and_claim_rows(
            cur,
            worker,
            [i.hex for i, _, _ in items],
            [a for _, a, _ in items],
            client.results_param([r for _, _, r in items]),
            limit,
            lease_seconds=lease_seconds,
        )
    return done, [client._claimed_job(r) for r in rows]


def _listener(db: Any) -> psycopg.Connection[Any]:
    conn = connect(db.dsn_as("pgconsole_app"), Purpose.APP)
    conn.execute("LISTEN pgconsole_jobs")
    return conn


def _heard(conn: psycopg.Connection[Any]) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=0.3)]


def test_the_insert_doorbell_payload(db: Any, app: psycopg.Connection[Any]) -> None:
    """docs/sql-api.md's payload for each shape the trigger tells apart: one row; several rows of
    several types; more than ten rows (no ids); an INSERT of no rows (no doorbell)."""
    listener = _listener(db)
    ins = (
        "INSERT INTO pgconsole.jobs (job_type, payload) SELECT t, '{}' FROM unnest(%s::text[]) t RETURNING id"
    )
    try:
        for types in (["a.one"], ["b.x", "a.y", "b.x"], ["c.many"] * 12, []):
            ids = [str(r[0]) for r in app.execute(ins, (types,)).fetchall()]
            heard = [json.loads(p) for p in _heard(listener)]
            if not types:
                assert heard == []
                continue
            counts = {t: types.count(t) for t in types}
            assert heard == [
                {"op": "insert", "count": len(types), "types": counts, "ids": ids if len(ids) <= 10 else None}
            ], (types, heard)
    finally:
        listener.close()


def test_claim_and_complete_do_not_notify_new_work_does(db: Any, app: psycopg.Connection[Any]) -> None:
    listener = _listener(db)
    try:
        client.enqueue_many(app, [("hp", {"i": i}) for i in range(3)])
        heard = _heard(listener)
        assert len(heard) == 1 and '"op": "insert"' in heard[0]  # one doorbell per statement
        jobs = client.claim(app, "w1", 3, lease_seconds=30)
        assert len(jobs) == 3
        assert client.complete(app, "w1", [(j.id, j.attempt, None) for j in jobs]) == {j.id for j in jobs}
        assert _heard(listener) == []  # the hot path sends nothing
    finally:
        listener.close()


def test_rows_made_pending_again_ring_once_per_statement(
    db: Any, app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    listener = _listener(db)
    try:
        client.enqueue_many(app, [("hp", {"i": i}) for i in range(4)], max_retries=3)
        _heard(listener)
        a, b, c, d = client.claim(app, "w1", 4, lease_seconds=30)
        # fail with retry (two rows, one statement) -> one notification
        client.fail(app, "w1", [(a.id, a.attempt, "boom", None, True), (b.id, b.attempt, "boom", None, True)])
        assert _heard(listener) == ['{"op": "update", "status": "pending"}']
        # a permanent failure makes nothing claimable -> nothing
        client.fail(app, "w1", [(c.id, c.attempt, "boom", "permanent", False)])
        assert _heard(listener) == []
        # release (shutdown) -> one
        assert client.release(app, "w1", [(d.id, d.attempt)]) == {d.id: "pending"}
        assert len(_heard(listener)) == 1
        # rescue of an expired lease -> one
        [e] = client.claim(app, "w2", 1, lease_seconds=30)
        su.execute(
            "UPDATE pgconsole.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (e.id,)
        )
        _heard(listener)  # the arranging UPDATE itself changes no status
        with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as rescuer:  # rescue: not the app's
            assert [r.id for r in client.rescue_stuck(rescuer)] == [e.id]
        assert len(_heard(listener)) == 1
    finally:
        listener.close()


def test_lean_claim_fences_like_claim(app: psycopg.Connection[Any], su: psycopg.Connection[Any]) -> None:
    jid = client.enqueue(app, "hp", {"x": 1}, priority=7, user_id="u1", max_retries=2)
    low = client.enqueue(app, "hp", {"x": 2})
    [j, j2] = client.claim(app, "w1", 5, lease_seconds=30)
    assert (j.id, j2.id) == (jid, low)  # priority order as claim_jobs
    assert (j.job_type, j.payload, j.attempt, j.priority, j.user_id, j.retry_count, j.max_retries) == (
        "hp",
        {"x": 1},
        1,
        7,
        "u1",
        0,
        2,
    )
    assert j.lease_expires_at is not None
    row = su.execute(
        "SELECT status, locked_by, lease_expires_at - now() FROM pgconsole.jobs WHERE id = %s", (jid,)
    ).fetchone()
    assert row is not None and row[:2] == ("processing", "w1") and 25 <= row[2].total_seconds() <= 30
    # a stale attempt is refused
    assert client.complete(app, "w1", [(jid, 0, None)]) == set()
    assert client.complete(app, "w1", [(jid, 1, None)]) == {jid}


@pytest.mark.parametrize(
    ("worker", "limit", "lease", "field"),
    [
        ("bad id!", 1, 30, "worker_id"),
        ("w", 0, 30, "limit"),
        ("w", 1, 0, "lease_seconds"),
        ("w", 1, 86401, "lease_seconds"),
    ],
)
def test_lean_claim_checks_input(
    app: psycopg.Connection[Any], worker: str, limit: int, lease: Any, field: str
) -> None:
    with pytest.raises((InvalidInput, QueueError)) as exc:
        client.claim(app, worker, limit, lease_seconds=lease)
    assert field in str(exc.value)


def test_claim_without_a_lease_takes_the_default_lease_setting(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '600' WHERE key = 'default_lease_seconds'")
    client.enqueue(app, "hp", {"x": 1})
    client.enqueue(app, "hp", {"x": 2})
    [j] = client.claim(app, "w1", 1)  # claim_jobs: reads the setting
    [k] = client.claim(app, "w1", 1, lease_seconds=30)  # claim_jobs_lean: the lease given
    assert j.lease_expires_at is not None and k.lease_expires_at is not None
    assert 550 <= (j.lease_expires_at - k.lease_expires_at).total_seconds() + 30 <= 600
    assert (j.payload, k.payload) == ({"x": 1}, {"x": 2})


def test_lean_claim_grants(su: psycopg.Connection[Any]) -> None:
    rows = su.execute(
        "SELECT p.proname, p.prosecdef, array_to_string(p.proconfig, ';'),"
        "       has_function_privilege('pgconsole_app', p.oid, 'EXECUTE'),"
        "       has_function_privilege('pgconsole_readonly', p.oid, 'EXECUTE'),"
        "       has_function_privilege('public', p.oid, 'EXECUTE')"
        "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'pgconsole' AND p.proname IN ('claim_jobs_lean', 'jobs_notify_repending')"
        " ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == ["claim_jobs_lean", "jobs_notify_repending"]
    lean, trig = rows
    assert lean[1:] == (
        True,
        "search_path=pg_catalog, pg_temp;plan_cache_mode=force_generic_plan;enable_bitmapscan=off",
        True,
        False,
        False,
    )
    assert trig[5] is False


# -- migration 0007: completions ride with the next claim; the cheaper job_type check ------------
def test_complete_and_claim_completes_fenced_then_claims(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    ids = client.enqueue_many(app, [("hp", {"i": i}) for i in range(5)])
    a, b = client.claim(app, "w1", 2, lease_seconds=30)
    never = next(i for i in ids if i not in (a.id, b.id))
    # one current attempt, one stale attempt, one id that was never claimed
    items = [(a.id, a.attempt, None), (b.id, b.attempt - 1, None), (never, 1, None)]
    done, claimed = _complete_and_claim(app, "w1", items, 2, lease_seconds=30)
    assert done == 1
    assert len(claimed) == 2 and all(j.attempt == 1 and j.job_type == "hp" for j in claimed)
    left = set(ids) - {a.id, b.id} - {j.id for j in claimed}
    status = dict(su.execute("SELECT id, status FROM pgconsole.jobs").fetchall())
    assert status[a.id] == "completed" and status[b.id] == "processing"
    assert {status[j.id] for j in claimed} == {"processing"} and {status[i] for i in left} == {"pending"}
    # another worker cannot complete w1's jobs through it
    c = claimed[0]
    done, claimed2 = _complete_and_claim(app, "w2", [(c.id, c.attempt, None)], 5, lease_seconds=30)
    assert done == 0 and {j.id for j in claimed2} == left
    assert su.execute("SELECT status FROM pgconsole.jobs WHERE id = %s", (c.id,)).fetchone() == (
        "processing",
    )
    # results are stored; nothing left to claim is an empty list, not an error
    done, claimed3 = _complete_and_claim(app, "w1", [(c.id, c.attempt, {"ok": True})], 5, lease_seconds=30)
    assert (done, claimed3) == (1, [])
    assert su.execute("SELECT result FROM pgconsole.jobs WHERE id = %s", (c.id,)).fetchone() == (
        {"ok": True},
    )


def test_complete_and_claim_bad_input_changes_nothing(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    [jid] = client.enqueue_many(app, [("hp", {})])
    [j] = client.claim(app, "w1", 1, lease_seconds=30)
    with pytest.raises(
        (InvalidInput, QueueError)
    ) as exc:  # refused before anything runs: nothing is completed
        _complete_and_claim(app, "w1", [(j.id, j.attempt, None)], 0, lease_seconds=30)
    assert "limit" in str(exc.value)
    assert su.execute("SELECT status FROM pgconsole.jobs WHERE id = %s", (jid,)).fetchone() == ("processing",)


def test_complete_and_claim_grants(su: psycopg.Connection[Any]) -> None:
    row = su.execute(
        "SELECT p.prosecdef, array_to_string(p.proconfig, ';'),"
        "       has_function_privilege('pgconsole_app', p.oid, 'EXECUTE'),"
        "       has_function_privilege('pgconsole_readonly', p.oid, 'EXECUTE'),"
        "       has_function_privilege('public', p.oid, 'EXECUTE')"
        "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'pgconsole' AND p.proname = 'complete_and_claim_jobs'"
    ).fetchone()
    assert row == (
        True,
        "search_path=pg_catalog, pg_temp;plan_cache_mode=force_generic_plan;enable_bitmapscan=off",
        True,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("job_type", "ok"),
    [
        ("a", True),
        ("x" * 100, True),
        ("a.b:c-d_e", True),
        ("", False),
        ("x" * 101, False),
        ("bad type", False),
        ("é", False),
        ("a\nb", False),
    ],
)
def test_job_type_rule_unchanged_by_cheaper_check(
    su: psycopg.Connection[Any], job_type: str, ok: bool
) -> None:
    """0007 replaced ^[...]{1,100}$ by ^[...]+$ AND length <= 100: the same accepted set."""
    try:
        with su.transaction():
            su.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES (%s, '{}')", (job_type,))
        accepted = True
    except psycopg.errors.CheckViolation:
        accepted = False
    assert accepted is ok


# -- migration 0014: the input rules are checked where their columns are written ------------------

# (rule, column, a value it refuses, the column's type): the ten rules 0014 moved from CHECK
# constraints into the jobs_input_rules trigger, each named as its constraint was.
_INPUT_RULES = [
    ("jobs_job_type_check", "job_type", "bad type", "text"),
    ("jobs_priority_check", "priority", "101", "smallint"),
    ("jobs_retry_count_check", "retry_count", "5", "integer"),
    ("jobs_max_retries_check", "max_retries", "1001", "integer"),
    ("jobs_dedupe_key_check", "dedupe_key", "", "text"),
    ("jobs_user_id_check", "user_id", "x" * 201, "text"),
    ("jobs_tenant_id_check", "tenant_id", "", "text"),
    ("jobs_scheduled_at_range_check", "scheduled_at", "1969-12-31 23:59:59+00", "timestamptz"),
    ("jobs_expires_at_range_check", "expires_at", "2200-01-01 00:00:00+00", "timestamptz"),
    ("jobs_payload_not_json_null_check", "payload", "null", "jsonb"),
]


@pytest.mark.parametrize(("rule", "column", "bad", "typ"), _INPUT_RULES, ids=[r[0] for r in _INPUT_RULES])
def test_each_input_rule_refuses_a_bad_insert_and_update_under_its_constraint_name(
    su: psycopg.Connection[Any], rule: str, column: str, bad: str, typ: str
) -> None:
    """As a superuser (whom jobs_guard_insert skips), a row breaking the rule is refused on INSERT and
    on an UPDATE of the column, with SQLSTATE 23514 and the old constraint's name, which
    queue.errors turns into InvalidInput for that field; the job is left as it was."""
    values = {"job_type": "'t'", "payload": "'{}'::jsonb", column: f"%s::{typ}"}
    insert = f"INSERT INTO pgconsole.jobs ({', '.join(values)}) VALUES ({', '.join(values.values())})"  # noqa: S608
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        with su.transaction():
            su.execute(insert, (bad,))  # type: ignore[arg-type]
    assert refused.value.diag.constraint_name == rule
    as_queue_error = translated(refused.value)
    assert isinstance(as_queue_error, InvalidInput) and as_queue_error.field == rule.removeprefix(
        "jobs_"
    ).removesuffix("_check")
    [(jid,)] = su.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('t', '{}') RETURNING id"
    ).fetchall()
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        with su.transaction():
            su.execute(f"UPDATE pgconsole.jobs SET {column} = %s::{typ} WHERE id = %s", (bad, jid))  # type: ignore[arg-type]  # noqa: S608
    assert refused.value.diag.constraint_name == rule
    assert su.execute(
        "SELECT job_type, priority, retry_count, max_retries, dedupe_key, user_id, tenant_id, jsonb_typeof(payload)"
        " FROM pgconsole.jobs WHERE id = %s",
        (jid,),
    ).fetchone() == ("t", 0, 0, 3, None, None, None, "object")


def test_the_claim_and_completion_do_not_evaluate_the_input_rules(
    db: Any, su: psycopg.Connection[Any]
) -> None:
    """A pending row that breaks an input rule (written with the trigger disabled, as a repair can
    leave one) is claimed and completed: neither UPDATE sets a column the rules read, so neither
    evaluates them (a CHECK constraint, even NOT VALID, was evaluated at both)."""
    su.execute("ALTER TABLE pgconsole.jobs DISABLE TRIGGER jobs_input_rules")
    try:
        [(jid,)] = su.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload, user_id) VALUES ('r', '{}', '') RETURNING id"
        ).fetchall()
    finally:
        su.execute("ALTER TABLE pgconsole.jobs ENABLE TRIGGER jobs_input_rules")
    with connect(db.dsn_as("pgconsole_worker"), Purpose.WORKER) as w:
        [got] = client.claim_lean(w, "w1", 10, lease_seconds=30, job_types=["r"])
        assert got.id == jid
        assert client.complete(w, "w1", [(got.id, got.attempt, {"ok": 1})]) == {jid}
    assert su.execute("SELECT status, user_id FROM pgconsole.jobs WHERE id = %s", (jid,)).fetchone() == (
        "completed",
        "",
    )


# -- migration 0008: the claim is planned once (a generic plan), and that plan is index-only -----
@pytest.mark.parametrize(
    ("call", "rows"),
    [
        (
            "SELECT count(*) FROM pgconsole.complete_and_claim_jobs('w1', '{}', '{}', NULL, 5, 30)",
            6,
        ),  # + header
        ("SELECT count(*) FROM pgconsole.claim_jobs_lean('w1', 5, 30)", 5),
        ("SELECT count(*) FROM pgconsole.claim_jobs('w1', 5)", 5),
        ("SELECT count(*) FROM pgconsole.complete_and_claim_jobs('w1', '{}', '{}', NULL, 5, 30, '{hp}')", 6),
        ("SELECT count(*) FROM pgconsole.claim_jobs_lean('w1', 5, 30, '{hp}')", 5),
        ("SELECT count(*) FROM pgconsole.claim_jobs('w1', 5, '{hp}')", 5),
    ],
)
def test_claim_runs_a_generic_plan_through_the_indexes(
    su: psycopg.Connection[Any], call: str, rows: int
) -> None:
    """auto_explain (sent to this session as NOTICEs) shows each nested statement's plan as run.

    A custom plan estimates the claim's LIMIT as the value passed (5 rows); the generic plan cannot
    know it and estimates 10% of the pending rows, so a larger estimate proves the cached generic
    plan ran (checked against 0007's functions, which showed rows=5). That plan must read the pending index in claim order
    and the primary key, never the whole table (the 0007 text's generic plan hash-joined a
    sequential scan of jobs), and a typed claim must test the type on its own (an ``IS NULL OR``
    filter made a worker read from the heap every pending job of other types ahead of its own:
    here 3,000 older jobs of another type); from PostgreSQL 17 the index entries answer it."""
    su.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload, scheduled_at)"
        " SELECT 'other', '{}', now() - interval '1 hour' FROM generate_series(1, 3000)"
    )
    su.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'hp', '{}' FROM generate_series(1, 2000)"
    )
    su.execute("ANALYZE pgconsole.jobs")
    plans: list[str] = []
    su.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    for stmt in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on",
        "SET auto_explain.log_level = notice",
    ):
        su.execute(stmt)
    for _ in range(7):  # past the plan cache's five custom plans
        plans.clear()
        assert su.execute(call).fetchone() == (rows,)
    claim = [p for p in plans if "SKIP LOCKED" in p or "LockRows" in p]
    assert len(claim) == 1, plans
    # the generic plan: the function's variables stay parameters ($n) in the claim's tenant test
    # (a custom plan would have folded the session's NULL tenant confinement away)
    assert re.search(r"\(\$\d+ IS NULL\) OR \(tenant_id = \$\d+\)", claim[0]), claim[0]
    assert "Seq Scan" not in claim[0] and "Hash Join" not in claim[0], claim[0]
    if "{hp}" in call:
        assert "OR (job_type = ANY" not in claim[0], claim[0]  # a plain type test, no OR with NULL
        if su.info.server_version >= 170000:  # PostgreSQL 17 keeps claim order with ANY on a later column
            assert "Index Cond: ((scheduled_at <= now()) AND (job_type = ANY ($" in claim[0], claim[0]
    assert "jobs_pending_claim_idx" in claim[0] and "jobs_pkey" in claim[0], claim[0]


# -- migration 0009: no bitmap scan in the worker's statements, even with stale statistics -------
@pytest.mark.parametrize(
    "call",
    [
        "SELECT count(*) FROM pgconsole.claim_jobs_lean('w1', 10, 30)",
        "SELECT count(*) FROM pgconsole.claim_jobs_lean('w1', 10, 30, '{hp}')",
        "SELECT count(*) FROM pgconsole.claim_jobs('w1', 10)",
        "COMPLETE_AND_CLAIM",
    ],
)
def test_worker_statements_use_no_bitmap_with_stale_statistics(
    su: psycopg.Connection[Any], call: str
) -> None:
    """Statistics of an empty table, then 20,000 pending jobs (a first backlog before autovacuum
    analyzes it). With a bitmap the claim's UPDATE ANDed the whole pending index with the primary
    key (20,000 entries read for 10 rows; 1,400-1,650 jobs/s instead of 8,000-9,000 in a drain)."""
    su.execute("VACUUM ANALYZE pgconsole.jobs")
    su.execute("ALTER TABLE pgconsole.jobs SET (autovacuum_enabled = off)")
    su.execute(
        "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'hp', '{}' FROM generate_series(1, 20000)"
    )
    plans: list[str] = []
    su.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    for stmt in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_analyze = on",
        "SET auto_explain.log_nested_statements = on",
        "SET auto_explain.log_level = notice",
    ):
        su.execute(stmt)
    for _ in range(7):  # past the plan cache's five custom plans (where one is not forced)
        plans.clear()
        if call == "COMPLETE_AND_CLAIM":
            held = su.execute("SELECT id, attempt FROM pgconsole.claim_jobs_lean('w1', 10, 30)").fetchall()
            plans.clear()
            n = su.execute(
                "SELECT count(*) FROM pgconsole.complete_and_claim_jobs('w1', %s, %s, NULL, 10, 30)",
                ([r[0] for r in held], [r[1] for r in held]),
            ).fetchone()
            assert n == (11,)
        else:
            assert su.execute(call).fetchone() == (10,)
    nested = [p for p in plans if "pgconsole.jobs" in p and "Query Text: SELECT count(*)" not in p]
    assert nested, plans
    for p in nested:
        assert "Bitmap" not in p and "Seq Scan" not in p, p
        # The pending index is walked in claim order and the primary key probed: no scan of them
        # returns more than a batch. The completion may walk this worker's own processing rows
        # (jobs_processing_idx, locked_by = the worker): bounded by what the worker holds (here
        # at most 80), never by the table.
        for m in re.finditer(
            r"Index (?:Only )?Scan using (\w+).*?actual time=[^ ]+ rows=([\d.]+) loops=(\d+)", p
        ):
            bound = 80 if m.group(1) == "jobs_processing_idx" else 20
            assert float(m.group(2)) * int(m.group(3)) <= bound, p


# -- enqueue: a job without user_id or dedupe key is a plain INSERT, the same row as create_job's ---
_ROW = (
    "SELECT job_type, payload, priority, max_retries, user_id, tenant_id, status, attempt, dedupe_key,"
    " expires_at - created_at, scheduled_at - created_at < interval '1 minute' FROM pgconsole.jobs WHERE id = %s"
)


@pytest.mark.parametrize("role", [None, "pgconsole_owner", "pgconsole_app"])
def test_enqueue_inserts_the_row_create_job_would(su: psycopg.Connection[Any], role: str | None) -> None:
    """As a superuser, the owner (neither fires jobs_guard_insert) and the app role."""
    su.execute("UPDATE pgconsole.settings SET value = '3600' WHERE key = 'default_job_ttl_seconds'")
    if role:
        su.execute(f"SET ROLE {role}")
    for kwargs in ({}, {"priority": -3, "max_retries": 0, "tenant_id": "t1"}):
        fast = client.enqueue(su, "hp", {"a": [1, "é"]}, **kwargs)
        made = su.execute(
            "SELECT pgconsole.create_job(NULL, 'hp', %s, %s, %s, p_tenant_id => %s)",
            (
                client.jsonb_param("payload", {"a": [1, "é"]}),
                kwargs.get("priority", 0),
                kwargs.get("max_retries", 3),
                kwargs.get("tenant_id"),
            ),
        ).fetchone()
        assert made is not None
        assert su.execute(_ROW, (fast,)).fetchone() == su.execute(_ROW, (made[0],)).fetchone()


@pytest.mark.parametrize("role", [None, "pgconsole_owner", "pgconsole_app"])
def test_enqueue_keeps_the_configured_payload_limit_for_every_role(
    su: psycopg.Connection[Any], role: str | None
) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '20' WHERE key = 'payload_max_bytes'")
    if role:
        su.execute(f"SET ROLE {role}")
    client.enqueue(su, "hp", {"x": "y" * 10})  # 19 bytes as jsonb text
    with pytest.raises(InvalidInput, match=r"^payload: 24 bytes is over the limit of 20 bytes"):
        client.enqueue(su, "hp", {"x": "y" * 15})
    su.execute("RESET ROLE")
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (1,)


@pytest.mark.parametrize(
    ("session_tenant", "tenant_id", "refused"),
    [
        (None, None, "tenant_id: pgconsole.tenant_id is not set"),
        ("A", "B", "tenant_id: may only create jobs for the current tenant"),
        ("A", None, None),
        ("A", "A", None),
    ],
)
@pytest.mark.parametrize("role", [None, "pgconsole_app"])
def test_enqueue_under_tenant_isolation_answers_as_create_job(
    su: psycopg.Connection[Any],
    role: str | None,
    session_tenant: str | None,
    tenant_id: str | None,
    refused: str | None,
) -> None:
    su.execute("UPDATE pgconsole.settings SET value = 'true' WHERE key = 'tenant_isolation'")
    if role:
        su.execute(f"SET ROLE {role}")
    if session_tenant:
        su.execute("SELECT set_config('pgconsole.tenant_id', %s, false)", (session_tenant,))
    if refused:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):
            client.enqueue(su, "hp", {}, tenant_id=tenant_id)
    else:
        jid = client.enqueue(su, "hp", {}, tenant_id=tenant_id)
        assert su.execute("SELECT tenant_id FROM pgconsole.jobs WHERE id = %s", (jid,)).fetchone() == ("A",)
    su.execute("RESET ROLE")
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0 if refused else 1,)

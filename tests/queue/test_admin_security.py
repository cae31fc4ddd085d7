"""Operator actions by filter (dry-run = action, audit), RLS by tenant, hostile search_path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from pgconsole.queue import admin, client
from pgconsole.queue.errors import JobNotFound
from pgconsole.queue.models import JobFilter


def _arrange(app: Any, su: Any) -> dict[str, list[Any]]:
    """failed (a: smtp, b: dns), processing (a), pending (a), completed (b)."""
    ids = client.enqueue_many(
        app, [("a", {"k": i % 2}) for i in range(6)] + [("b", {"k": 1}) for _ in range(4)]
    )
    su.execute(
        "UPDATE pgconsole.jobs SET status = 'failed', completed_at = now() - interval '2 hours',"
        " error_message = CASE WHEN job_type = 'a' THEN 'SMTP timeout' ELSE 'dns failure' END, retry_count = 4"
        " WHERE id = ANY(%s)",
        ([ids[0], ids[1], ids[2], ids[6], ids[7]],),
    )
    su.execute(
        "UPDATE pgconsole.jobs SET status = 'completed', completed_at = now() - interval '3 days'"
        " WHERE id = %s",
        (ids[8],),
    )
    processing = [j.id for j in client.claim(app, "w1", 2, job_types=["a"])]
    return {"ids": ids, "processing": processing}


def _audit(su: Any, action: str) -> list[tuple[Any, ...]]:
    return su.execute(
        "SELECT job_id, actor, metadata->>'old_status', metadata->>'new_status', metadata->>'reason'"
        " FROM pgconsole.job_log WHERE level = 'audit' AND message = %s",
        (action,),
    ).fetchall()


@pytest.mark.parametrize(
    "action, flt",
    [
        ("retry", JobFilter(job_types=["a"], error_contains="smtp")),
        ("retry", JobFilter(statuses=["failed"], older_than=timedelta(hours=1))),
        ("cancel", JobFilter(job_types=["a"])),
        ("cancel", JobFilter(payload_contains={"k": 1})),
        ("delete", JobFilter(older_than=timedelta(hours=1))),
        ("delete", JobFilter(statuses=["failed", "completed"], job_types=["b"])),
    ],
)
def test_filter_action_touches_exactly_what_the_dry_run_counted(
    app: Any, operator: Any, su: Any, action: Any, flt: JobFilter
) -> None:
    arranged = _arrange(app, su)
    before = dict(su.execute("SELECT id, status FROM pgconsole.jobs").fetchall())
    dry = admin.dry_run(operator, action, flt, reason="incident 42")
    assert dry.count > 0
    assert su.execute("SELECT count(*) FROM pgconsole.job_log").fetchone() == (0,)  # dry run wrote nothing
    progress: list[tuple[int, int]] = []
    res = admin.run_by_filter(
        operator,
        action,
        flt,
        reason="incident 42",
        batch_size=2,
        progress=lambda d, e: progress.append((d, e)),
    )
    assert res.changed == dry.count
    assert progress[-1] == (dry.count, dry.count)
    changed = {r.id for r in res.rows}
    assert not changed & set(arranged["processing"])  # processing jobs skipped
    after = dict(su.execute("SELECT id, status FROM pgconsole.jobs").fetchall())
    for jid in arranged["processing"]:
        assert after[jid] == "processing"
    # every other job unchanged
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    audit = _audit(su, action)
    assert sorted(a[0] for a in audit) == sorted(changed)  # one audit record per changed job
    assert {a[1] for a in audit} == {"pgconsole_operator"} and {a[4] for a in audit} == {"incident 42"}
    for r in res.rows:
        assert (r.id, "pgconsole_operator", r.old_status, r.new_status, "incident 42") in audit
    # running it again changes nothing (compare-and-set)
    assert admin.run_by_filter(operator, action, flt, reason="again").changed == 0


def test_audit_records_are_append_only(app: Any, operator: Any, su: Any) -> None:
    _arrange(app, su)
    admin.run_by_filter(operator, "delete", JobFilter(), reason="r")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        su.execute("DELETE FROM pgconsole.job_log WHERE level = 'audit'")


def test_reason_is_required(operator: Any) -> None:
    from pgconsole.queue.models import InvalidInput

    with pytest.raises(InvalidInput, match="^reason:"):
        admin.retry_jobs(operator, [], reason=" ")
    with pytest.raises(psycopg.Error, match="reason"):
        operator.execute("SELECT * FROM pgconsole.retry_jobs(ARRAY[]::uuid[], NULL)")


# ---------------------------------------------------------------------------------------------
# RLS by tenant


def _as_tenant(conn: Any, tenant: str | None) -> None:
    conn.execute("SELECT set_config('pgconsole.tenant_id', %s, true)", (tenant or "",))


def test_tenant_isolation(db: Any, su: Any) -> None:
    su.execute("UPDATE pgconsole.settings SET value = 'true' WHERE key = 'tenant_isolation'")
    ids: dict[str, Any] = {}
    with connect(db.dsn_as("pgconsole_app"), Purpose.APP) as c:
        for t in ("A", "B"):
            with c.transaction():
                _as_tenant(c, t)
                ids[t] = client.enqueue(c, "t", {"p": 1}, user_id="shared-user")
                client.add_log(c, ids[t], f"log of {t}")
                [j] = client.claim(c, "w", 1)
                client.complete(c, "w", [(j.id, j.attempt, {"t": t})])
        # tenant A sees only A, through the table and through every function
        with c.transaction():
            _as_tenant(c, "A")
            assert [r[0] for r in c.execute("SELECT id FROM pgconsole.jobs").fetchall()] == [ids["A"]]
            assert [r.job_id for r in client.get_logs(c, ids["A"])] == [ids["A"]]
            users = c.execute("SELECT id FROM pgconsole.get_user_jobs('shared-user')").fetchall()
            assert [r[0] for r in users] == [ids["A"]]
            assert c.execute("SELECT count(*) FROM pgconsole.get_job_logs(%s)", (ids["B"],)).fetchone() == (
                0,
            )
            cached = client.cached_result(c, "shared-user", "t", {"p": 1})
            assert cached is not None and cached.job_id == ids["A"]
            with pytest.raises(JobNotFound):
                client.cancel(c, ids["B"])
        with c.transaction():
            _as_tenant(c, "A")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # WITH CHECK: no writes into B
                c.execute("INSERT INTO pgconsole.jobs (job_type, tenant_id) VALUES ('t', 'B')")
        # tenant unset (fresh session: NULL) and after SET LOCAL ended ('' left behind): zero rows
        for conn in (c, connect(db.dsn_as("pgconsole_app"), Purpose.APP)):
            assert conn.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)
            assert conn.execute(
                "SELECT count(*) FROM pgconsole.get_job_logs(%s)", (ids["A"],)
            ).fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM pgconsole.get_user_jobs('shared-user')").fetchone() == (
                0,
            )
            assert client.cached_result(conn, "shared-user", "t", {"p": 1}) is None
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                client.enqueue(conn, "t", {})
    # staff roles see every tenant
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as ro:
        assert ro.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (2,)


# ---------------------------------------------------------------------------------------------
# SECURITY DEFINER hygiene


def test_definer_functions_pin_search_path(su: Any) -> None:
    rows = su.execute(
        "SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'pgconsole' AND p.prosecdef"
    ).fetchall()
    assert len(rows) >= 25
    for name, config in rows:
        assert config is not None and "search_path=pg_catalog, pg_temp" in config, name
    public = su.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'pgconsole' AND has_function_privilege('public', p.oid, 'EXECUTE')"
    ).fetchall()
    assert public == []


def test_definer_functions_ignore_hostile_shadows(db: Any, app: Any, su: Any) -> None:
    _arrange(app, su)
    su.execute("CREATE TABLE public.jobs (id uuid, status text, job_type text, error_message text)")
    su.execute("CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'pwned' $$")
    su.execute(
        "CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$"
    )
    su.execute("GRANT ALL ON public.jobs TO PUBLIC")
    with connect(db.dsn_as("pgconsole_operator"), Purpose.OPERATOR) as op:
        op.execute("CREATE TEMP TABLE jobs (id uuid, status text, job_type text, error_message text)")
        op.execute("CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'pwned' $$")
        op.execute("SET search_path = pg_temp, public, pgconsole")
        flt = JobFilter(job_types=["a"], error_contains="SMTP", older_than=timedelta(hours=1))
        dry = admin.dry_run(op, "retry", flt, reason="r")
        assert dry.count == 3
        res = admin.run_by_filter(op, "retry", flt, reason="r")
        assert res.changed == 3
        assert op.execute("SELECT count(*) FROM pg_temp.jobs").fetchone() == (0,)
    assert su.execute("SELECT count(*) FROM public.jobs").fetchone() == (0,)
    assert su.execute("SELECT count(*) FROM pgconsole.jobs WHERE status = 'pending'").fetchone()[0] >= 3

"""Upgrading from the previous schema (every shipped migration but the newest) with `pgconsole
migrate` keeps jobs of every state, their log lines and audit records exactly as they were, gives
the catalog of a fresh database, and the jobs go on working: the running job is finished by its
worker with its attempt, due work is claimed, a failed job is retried, a dedupe key still holds
(issue 19)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from pgconsole.schema.migrator import EXIT_OK, apply, load_migrations
from tests.foundation.helpers import SetUpDB, copy_migrations, set_up_database
from tests.foundation.test_migrate_prerelease import catalog, history, migrate_cli
from tests.pgcluster import Cluster

WORKER = "upgrade-worker-1"
LEASE_SECONDS = 3600  # outlives the test: the running job must still be held after the upgrade
DEDUPE_KEY = "upgrade-report-42"
# create_job's arguments after the job type and payload, as a producer leaves them.
CREATE_DEFAULTS: dict[str, Any] = {
    "user_id": None,
    "priority": 0,
    "max_retries": 3,
    "scheduled_at": None,
    "expires_at": None,
    "dedupe_key": None,
    "tenant_id": None,
}


def build_previous(db: SetUpDB, tmp: Path) -> list[str]:
    """Apply every shipped migration but the newest with the runner; return the files left over."""
    shipped = [m.filename for m in load_migrations()]
    assert len(shipped) >= 2, shipped
    directory = copy_migrations(tmp / f"previous-{db.name}", only=shipped[:-1])
    with db.admin() as conn:
        apply(conn, directory)
    return shipped[-1:]


def connect(db: SetUpDB, role: str) -> psycopg.Connection[Any]:
    return psycopg.connect(db.dsn_as(role), autocommit=True)


def one(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def claim(conn: psycopg.Connection[Any], job_type: str) -> tuple[Any, int]:
    """Claim the one due job of ``job_type`` as the worker does; return its id and attempt."""
    rows = conn.execute(
        "SELECT id, attempt FROM pgconsole.claim_jobs(%s, 10, ARRAY[%s], %s)",
        (WORKER, job_type, LEASE_SECONDS),
    ).fetchall()
    assert len(rows) == 1, (job_type, rows)
    return rows[0][0], rows[0][1]


def make_jobs_of_every_state(db: SetUpDB) -> dict[str, Any]:
    """Jobs in every state through the previous schema's own API, as producers, a worker and an
    operator make them. Returns their ids (and the running job's attempt) by name."""
    ids: dict[str, Any] = {}
    with connect(db, "pgconsole_app") as app:

        def create(name: str, job_type: str, **kw: Any) -> None:
            args = {**CREATE_DEFAULTS, **kw}
            ids[name] = one(
                app,
                "SELECT pgconsole.create_job(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    args["user_id"],
                    job_type,
                    Jsonb({"name": name}),
                    args["priority"],
                    args["max_retries"],
                    args["scheduled_at"],
                    args["expires_at"],
                    args["dedupe_key"],
                    args["tenant_id"],
                ),
            )

        now = datetime.now(UTC)
        create("due", "up.due", priority=5)
        create("future", "up.future", scheduled_at=now + timedelta(days=30))
        create("future_soon", "up.future", scheduled_at=now + timedelta(days=1))
        create("dedupe", "up.dedupe", dedupe_key=DEDUPE_KEY)
        create("user", "up.user", user_id="user-7", tenant_id="tenant-a")
        create("running", "up.running")
        create("done", "up.done")
        create("failed", "up.failed", max_retries=0)
        create("cancelled", "up.cancelled")
        create("operator_cancelled", "up.cancelled")
        create("expired", "up.expired", expires_at=now - timedelta(minutes=1))
        assert all(ids.values()), ids
        assert one(
            app, "SELECT pgconsole.add_job_log(%s, 'info', 'queued by the report page')", (ids["due"],)
        )
        assert (
            one(app, "SELECT pgconsole.cancel_job(%s, NULL, 'not needed any more')", (ids["cancelled"],))
            == "cancelled"
        )

    with connect(db, "pgconsole_worker") as w:
        w.execute(
            "SELECT pgconsole.register_worker(%s, 'host-a', 4242, 4, 10, ARRAY['up.running'], 5)", (WORKER,)
        )
        ids["running"], ids["running_attempt"] = claim(w, "up.running")
        assert one(
            w,
            "SELECT pgconsole.add_job_log(%s, %s, 'info', 'halfway', '{\"step\": 2}')",
            (ids["running"], ids["running_attempt"]),
        )
        done, done_attempt = claim(w, "up.done")
        assert w.execute(
            "SELECT id FROM pgconsole.complete_jobs(%s, ARRAY[%s]::uuid[], ARRAY[%s], ARRAY['{\"rows\": 17}'::jsonb])",
            (WORKER, done, done_attempt),
        ).fetchall() == [(done,)]
        failed, failed_attempt = claim(w, "up.failed")
        assert w.execute(
            "SELECT status FROM pgconsole.fail_jobs(%s, ARRAY[%s]::uuid[], ARRAY[%s], ARRAY['disk full'],"
            " ARRAY['ENOSPC'], ARRAY[true], ARRAY['Traceback: line 1'])",
            (WORKER, failed, failed_attempt),
        ).fetchall() == [("failed",)]  # retryable, but no retry left

    with connect(db, "pgconsole_operator") as op:
        assert op.execute(
            "SELECT old_status, new_status FROM pgconsole.cancel_jobs(ARRAY[%s]::uuid[], 'duplicate request')",
            (ids["operator_cancelled"],),
        ).fetchall() == [("pending", "cancelled")]
        assert one(op, "SELECT pgconsole.expire_stale_jobs()") == 1

    with db.admin() as conn:
        states: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM pgconsole.jobs GROUP BY 1").fetchall()
        )
        log = conn.execute("SELECT level, message FROM pgconsole.job_log ORDER BY id").fetchall()
    assert states == {
        "pending": 5,
        "processing": 1,
        "completed": 1,
        "failed": 1,
        "cancelled": 2,
        "expired": 1,
    }
    assert ("audit", "cancel") in log and ("audit", "expire_stale_jobs") in log, log
    assert {m for lv, m in log if lv in ("info", "error")} >= {
        "queued by the report page",
        "halfway",
        "cancelled",
        "attempt 1 failed: disk full",
    }, log
    return ids


# Tables a later migration may add rows to (a new setting with its default); in every other table
# the rows after the upgrade are exactly the rows before.
MAY_GAIN_ROWS = {"settings"}

Rows = dict[str, dict[str, dict[str, Any]]]


def contents(db: SetUpDB) -> Rows:
    """Every row of every pgconsole table but the migration history, as a jsonb object keyed by
    the row's primary key."""
    with db.admin() as conn:
        tables = conn.execute(
            "SELECT c.relname, (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i"
            "   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
            "  WHERE i.indrelid = c.oid AND i.indisprimary)"
            "  FROM pg_class c WHERE c.relnamespace = 'pgconsole'::regnamespace"
            "   AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations' ORDER BY 1"
        ).fetchall()
        out: Rows = {}
        for table, pkey in tables:
            assert pkey, f"{table} has no primary key to match its rows by"
            query = sql.SQL("SELECT to_jsonb(t) FROM {} t").format(sql.Identifier("pgconsole", table))
            rows = conn.execute(query).fetchall()
            out[table] = {"/".join(str(r[0][k]) for k in pkey): r[0] for r in rows}
    return out


def as_before(before: Rows, after: Rows) -> Iterator[str]:
    """What differs between the rows before and after, column by column. A later migration may
    add tables and columns; it must not drop or change a row or an old column's value, nor add
    rows (but to MAY_GAIN_ROWS)."""
    for table, rows in before.items():
        if table not in after:
            yield f"table {table} is gone"
            continue
        for key, old in rows.items():
            new = after[table].get(key)
            if new is None:
                yield f"{table} row {key} is gone"
                continue
            for col, value in old.items():
                if col not in new:
                    yield f"{table} row {key}: column {col} is gone"
                elif new[col] != value:
                    yield f"{table} row {key}: {col} was {value!r}, is {new[col]!r}"
        if table not in MAY_GAIN_ROWS:
            for key in after[table].keys() - rows.keys():
                yield f"{table} row {key} is new"


@pytest.fixture
def previous_and_fresh(pg: Cluster) -> Iterator[tuple[SetUpDB, SetUpDB]]:
    old, fresh = set_up_database(pg), set_up_database(pg)
    try:
        yield old, fresh
    finally:
        pg.drop_database(old.name)
        pg.drop_database(fresh.name)


def test_upgrading_from_the_previous_schema_keeps_jobs_of_every_state_and_they_still_work(
    previous_and_fresh: tuple[SetUpDB, SetUpDB], tmp_path: Path
) -> None:
    old, fresh = previous_and_fresh
    newest = build_previous(old, tmp_path)
    with fresh.admin() as conn:
        apply(conn)
    assert [v for v, _, _ in history(old)] == [m.version for m in load_migrations()[:-1]]
    ids = make_jobs_of_every_state(old)
    before = contents(old)

    r = migrate_cli(old)
    assert r.returncode == EXIT_OK, r.stderr
    assert f"applied {len(newest)} migration(s)" in r.stdout and newest[0] in r.stdout, r.stdout

    problems = list(as_before(before, contents(old)))
    assert problems == [], problems
    assert catalog(old) == catalog(fresh)
    assert history(old) == history(fresh)
    again = migrate_cli(old)
    assert again.returncode == EXIT_OK and "database is up to date" in again.stdout, again

    # The jobs go on: the running job is finished only by its worker with the attempt of its claim.
    running, attempt = ids["running"], ids["running_attempt"]
    with connect(old, "pgconsole_worker") as w:
        complete = "SELECT id FROM pgconsole.complete_jobs(%s, ARRAY[%s]::uuid[], ARRAY[%s], ARRAY['{\"ok\": 1}'::jsonb])"
        assert w.execute(complete, (WORKER, running, attempt + 1)).fetchall() == []
        assert w.execute(complete, (WORKER, running, attempt - 1)).fetchall() == []
        assert w.execute(complete, ("another-worker", running, attempt)).fetchall() == []
        assert old.scalar("SELECT status FROM pgconsole.jobs WHERE id = %s", (running,)) == "processing"
        assert w.execute(complete, (WORKER, running, attempt)).fetchall() == [(running,)]
        with old.admin() as conn:
            assert conn.execute(
                "SELECT status, result, attempt FROM pgconsole.jobs WHERE id = %s", (running,)
            ).fetchone() == ("completed", {"ok": 1}, attempt)
        # Due work is claimed; work scheduled later is not.
        assert claim(w, "up.due") == (ids["due"], 1)
        assert (
            w.execute(
                "SELECT id FROM pgconsole.claim_jobs(%s, 10, ARRAY['up.future', 'up.expired', 'up.cancelled'])",
                (WORKER,),
            ).fetchall()
            == []
        )
        assert claim(w, "up.user") == (ids["user"], 1)

    # An operator retries the failed job, and a worker runs it again (attempt 2).
    with connect(old, "pgconsole_operator") as op:
        assert op.execute(
            "SELECT id, old_status, new_status FROM pgconsole.retry_jobs(ARRAY[%s]::uuid[], 'disk cleaned up')",
            (ids["failed"],),
        ).fetchall() == [(ids["failed"], "failed", "pending")]
    with connect(old, "pgconsole_worker") as w:
        assert claim(w, "up.failed") == (ids["failed"], 2)

    # The dedupe key still blocks a second active job, and finds the first.
    with connect(old, "pgconsole_app") as app:
        with pytest.raises(errors.UniqueViolation):
            app.execute("SELECT pgconsole.create_job(NULL, 'up.dedupe', p_dedupe_key => %s)", (DEDUPE_KEY,))
        assert app.execute(
            "SELECT id, created FROM pgconsole.find_or_create_job(NULL, 'up.dedupe', p_dedupe_key => %s)",
            (DEDUPE_KEY,),
        ).fetchall() == [(ids["dedupe"], False)]

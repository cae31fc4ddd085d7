"""enqueue_many's COPY path (migration 0009): the same rows as enqueue_jobs' unnest path, for each
role and tenant-isolation setting, all or nothing on a bad job (named), and nothing left behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from pgconsole.queue import client
from pgconsole.queue.models import InvalidInput, NewJob

N = 2 * client.COPY_MIN_JOBS  # on the COPY path

# Everything enqueue_many decides about a row, relative to its creation time.
_ROWS = (
    "SELECT job_type, payload, priority, max_retries, user_id, tenant_id, status, attempt, dedupe_key,"
    " expires_at - created_at, scheduled_at - created_at < interval '1 minute', result, locked_by"
    " FROM pgconsole.jobs WHERE id = ANY(%s) ORDER BY payload->>'i', job_type"
)


def _jobs(n: int, tag: str) -> list[Any]:
    return [(f"t{i % 3}", {"i": f"{tag}{i:05d}", "s": 'é\\"\n'}) for i in range(n)]


def _as(su: psycopg.Connection[Any], role: str | None, tenant: str | None) -> None:
    su.execute("RESET ROLE")
    if role:
        su.execute(f"SET ROLE {role}")
    su.execute("SELECT set_config('pgconsole.tenant_id', %s, false)", (tenant or "",))


@pytest.mark.parametrize("isolation", [False, True])
@pytest.mark.parametrize("role", [None, "pgconsole_app"])
def test_copy_path_rows_equal_the_unnest_paths(
    su: psycopg.Connection[Any], role: str | None, isolation: bool
) -> None:
    su.execute("UPDATE pgconsole.settings SET value = '3600' WHERE key = 'default_job_ttl_seconds'")
    su.execute(
        "UPDATE pgconsole.settings SET value = %s WHERE key = 'tenant_isolation'", (str(isolation).lower(),)
    )
    _as(su, role, "A" if isolation else None)
    copied = client.enqueue_many(su, _jobs(N, "x"), max_retries=7)
    # the same jobs through enqueue_jobs' arrays (the path below COPY_MIN_JOBS), in one call
    arrays = su.execute(
        client._ENQUEUE_MANY,
        (
            [t for t, _ in _jobs(N, "x")],
            [client.jsonb_param("payload", p) for _, p in _jobs(N, "x")],
            [0] * N,
            7,
            None,
        ),
    ).fetchall()
    assert len(copied) == N == len(set(copied))
    got = su.execute(_ROWS, (copied,)).fetchall()
    assert got == su.execute(_ROWS, ([r[0] for r in arrays],)).fetchall()
    assert {r[5] for r in got} == ({"A"} if isolation else {None})
    assert {r[9] for r in got} == {timedelta(hours=1)}
    # ids come back in the order given
    order = su.execute(
        "SELECT id FROM pgconsole.jobs WHERE id = ANY(%s) ORDER BY payload->>'i'", (copied,)
    ).fetchall()
    assert [r[0] for r in order] == copied
    # nothing stays on the session: the staging table went with the call
    assert su.execute("SELECT to_regclass('pg_temp.pgconsole_enqueue_stage')").fetchone() == (None,)
    su.execute("RESET ROLE")


def test_small_and_large_batches_and_models(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    """Either side of the threshold, NewJob and tuples mixed, inside the caller's transaction too."""
    for n in (1, client.COPY_MIN_JOBS - 1, client.COPY_MIN_JOBS, client.COPY_MIN_JOBS + 1):
        jobs: list[Any] = [NewJob(job_type="m", payload={"i": f"{i:05d}"}, priority=i % 5) for i in range(n)]
        ids = client.enqueue_many(app, jobs)
        rows = su.execute(
            "SELECT id, priority FROM pgconsole.jobs WHERE id = ANY(%s) ORDER BY payload->>'i'", (ids,)
        ).fetchall()
        assert [r[0] for r in rows] == ids and [r[1] for r in rows] == [i % 5 for i in range(n)]
    with app.transaction():
        a = client.enqueue_many(app, _jobs(N, "a"))
        b = client.enqueue_many(app, _jobs(N, "b"))  # a second staging table in the same transaction
    assert su.execute("SELECT count(*) FROM pgconsole.jobs WHERE id = ANY(%s)", (a + b,)).fetchone() == (
        2 * N,
    )


def test_without_autocommit_the_callers_transaction_decides(db: Any, su: psycopg.Connection[Any]) -> None:
    with psycopg.connect(db.dsn_as("pgconsole_app")) as conn:  # autocommit off
        ids = client.enqueue_many(conn, _jobs(N, "r"))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.rollback()
        assert su.execute("SELECT count(*) FROM pgconsole.jobs WHERE id = ANY(%s)", (ids,)).fetchone() == (0,)
        ids = client.enqueue_many(conn, _jobs(N, "c"))
        conn.commit()
        assert su.execute("SELECT count(*) FROM pgconsole.jobs WHERE id = ANY(%s)", (ids,)).fetchone() == (N,)


def test_one_doorbell_per_call(db: Any, app: psycopg.Connection[Any]) -> None:
    listener = psycopg.connect(db.dsn_as("pgconsole_app"), autocommit=True)
    try:
        listener.execute("LISTEN pgconsole_jobs")
        client.enqueue_many(app, _jobs(N, "n"))
        heard = [n.payload for n in listener.notifies(timeout=0.5)]
        assert len(heard) == 1 and f'"count": {N}' in heard[0], heard
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("no spaces", {}), r"^jobs\[5000\]\.job_type: must be 1-100 characters"),
        (("t", None), r"^jobs\[5000\]\.payload: must not be null"),
        (("t", {"x": float("nan")}), r"^jobs\[5000\]\.payload: not JSON-serialisable"),
        (("t", {"x": "\x00"}), r"^jobs\[5000\]\.payload: contains a NUL"),
    ],
)
def test_a_bad_job_in_the_middle_inserts_nothing_and_is_named(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any], bad: Any, message: str
) -> None:
    jobs = _jobs(10_000, "h")
    jobs[5000] = bad
    with pytest.raises(InvalidInput, match=message):
        client.enqueue_many(app, jobs)
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)
    assert app.execute("SELECT to_regclass('pg_temp.pgconsole_enqueue_stage')").fetchone() == (None,)
    assert app.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert len(client.enqueue_many(app, _jobs(N, "ok"))) == N  # the connection is fine afterwards


def test_the_servers_payload_limit_names_the_job(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    """A limit configured below the client's default is the server's to enforce (first bad job named)."""
    su.execute("UPDATE pgconsole.settings SET value = '40' WHERE key = 'payload_max_bytes'")
    jobs = _jobs(10_000, "h")
    jobs[7000] = ("t", {"x": "y" * 50})
    jobs[8000] = ("t", {"x": "y" * 60})
    with pytest.raises(InvalidInput, match=r"^jobs\[7000\]\.payload: 59 bytes is over the limit of 40 bytes"):
        client.enqueue_many(app, jobs)
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)


def test_bad_arguments_are_refused_by_the_server(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    with pytest.raises(InvalidInput, match=r"^max_retries: must be between 0 and 1000 \(got 5000\)"):
        client.enqueue_many(app, _jobs(N, "r"), max_retries=5000)
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)


def test_tenant_isolation_refuses_a_session_without_tenant(
    app: psycopg.Connection[Any], su: psycopg.Connection[Any]
) -> None:
    su.execute("UPDATE pgconsole.settings SET value = 'true' WHERE key = 'tenant_isolation'")
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="tenant_id: pgconsole.tenant_id is not set"
    ):
        client.enqueue_many(app, _jobs(N, "i"))
    assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)


def test_the_staging_table_is_the_owners_and_only_the_owners(app: psycopg.Connection[Any]) -> None:
    """The caller cannot put a table, view or policy of its own in the staging table's place (it
    would run as the owner when enqueue_staged reads it), nor alter the owner's table."""
    with app.transaction():
        app.execute(
            "CREATE TEMP TABLE pgconsole_enqueue_stage (ord int, job_type text, payload jsonb, priority int2)"
        )
        app.execute("INSERT INTO pgconsole_enqueue_stage VALUES (0, 't', '{}', 0)")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=r"^jobs: no staged rows"):
            app.execute(client._STAGED, (3, None))
        raise psycopg.Rollback
    with app.transaction():
        app.execute(client._STAGE)
        for ddl in (
            "ALTER TABLE pg_temp.pgconsole_enqueue_stage ENABLE ROW LEVEL SECURITY",
            "CREATE RULE r AS ON INSERT TO pg_temp.pgconsole_enqueue_stage DO INSTEAD NOTHING",
            "DROP TABLE pg_temp.pgconsole_enqueue_stage",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), app.transaction():
                app.execute(ddl)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app.transaction():
            app.execute("SELECT count(*) FROM pg_temp.pgconsole_enqueue_stage")
        raise psycopg.Rollback


def test_functions_are_granted_to_the_app_only(db: Any) -> None:
    for role in ("pgconsole_readonly", "pgconsole_worker", "pgconsole_operator"):
        with psycopg.connect(db.dsn_as(role), autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(client._STAGE)

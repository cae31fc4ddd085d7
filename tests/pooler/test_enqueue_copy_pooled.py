"""enqueue_many's COPY path through a real PgBouncer in transaction mode: more clients than server
connections enqueue at once, a bad batch fails alone, and no server connection keeps a staging
table (or anything else in its temporary schema) afterwards."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from pgconsole.db.connect import Purpose, connect
from pgconsole.queue import client
from pgconsole.queue.models import InvalidInput

pytestmark = pytest.mark.timeout(180)

_LEFT = (
    "SELECT to_regclass('pg_temp.pgconsole_enqueue_stage'),"
    " (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()), pg_backend_pid()"
)


def _every_server_connection(dsn: str, n: int = 3) -> list[tuple[Any, ...]]:
    """``n`` clients in open transactions at once hold all ``n`` server connections of the pool."""
    conns = [psycopg.connect(dsn, connect_timeout=10, prepare_threshold=None) for _ in range(n)]
    try:
        rows = [c.execute(_LEFT).fetchone() for c in conns]
        for c in conns:
            c.rollback()
        return [r for r in rows if r is not None]
    finally:
        for c in conns:
            c.close()


def test_copy_enqueue_through_transaction_pooling(bouncer: Any, db18: Any) -> None:
    dsn = bouncer.dsn(db18.name, "pgconsole_app")
    per_batch, batches, clients = 2 * client.COPY_MIN_JOBS, 3, 6  # 6 clients, 3 server connections
    got: dict[int, list[Any]] = {}
    errors: list[BaseException] = []

    def produce(k: int) -> None:
        try:
            conn = connect(dsn, Purpose.APP)
            try:
                ids: list[Any] = []
                for b in range(batches):
                    ids += client.enqueue_many(
                        conn, [("pool.copy", {"k": k, "b": b, "i": i}) for i in range(per_batch)]
                    )
                got[k] = ids
            finally:
                conn.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    # a bad batch through the pool: refused, nothing of it inserted
    conn = connect(dsn, Purpose.APP)
    try:
        bad: list[Any] = [("pool.bad", {"i": i}) for i in range(1000)]
        bad[500] = ("pool bad", {})
        with pytest.raises(InvalidInput, match=r"^jobs\[500\]\.job_type"):
            client.enqueue_many(conn, bad)
        # under tenant isolation the tenant is set per transaction, the only scope a pool keeps
        with db18.admin() as a:
            a.execute("UPDATE pgconsole.settings SET value = 'true' WHERE key = 'tenant_isolation'")
        with conn.transaction():
            conn.execute("SELECT set_config('pgconsole.tenant_id', 'T1', true)")
            tenant_ids = client.enqueue_many(conn, [("pool.tenant", {"i": i}) for i in range(per_batch)])
    finally:
        conn.close()
    with db18.admin() as a:
        a.execute("UPDATE pgconsole.settings SET value = 'false' WHERE key = 'tenant_isolation'")
        counts = dict(a.execute("SELECT job_type, count(*) FROM pgconsole.jobs GROUP BY 1").fetchall())
        tenants = a.execute(
            "SELECT DISTINCT tenant_id FROM pgconsole.jobs WHERE id = ANY(%s)", (tenant_ids,)
        ).fetchall()
        for k, ids in got.items():  # each client's ids, in its order
            rows = a.execute(
                "SELECT id FROM pgconsole.jobs WHERE id = ANY(%s)"
                " ORDER BY (payload->>'b')::int, (payload->>'i')::int",
                (ids,),
            ).fetchall()
            assert [r[0] for r in rows] == ids and len(ids) == per_batch * batches, k
    assert counts == {"pool.copy": clients * batches * per_batch, "pool.tenant": per_batch}
    assert tenants == [("T1",)]
    for row in _every_server_connection(dsn):
        assert row[:2] == (None, 0), row  # no staging table, nothing temporary at all

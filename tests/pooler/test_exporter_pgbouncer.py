"""The exporter through a real PgBouncer in transaction mode, with its admin console: every scrape
answers (no prepared statement, no session state), the queue depth is the database's, and the
PgBouncer series show clients waiting while the pool is exhausted."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.exporter.helpers import get, start_exporter, value, write_config
from tests.pooler.bouncer import ADMIN_PASSWORD
from tests.pooler.helpers import wait_until

pytestmark = pytest.mark.timeout(180)


def _sleeper(dsn: str, seconds: float, errors: list[BaseException]) -> threading.Thread:
    def body() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=None, connect_timeout=10) as c:
                c.execute("SELECT pg_sleep(%s)", (seconds,))
        except psycopg.errors.QueryCanceled:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def test_exporter_through_transaction_pooling(bouncer: Any, db18: Any, tmp_path: Path) -> None:
    with db18.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'email', '{}' FROM generate_series(1, 12)"
        )
    cfg = write_config(
        tmp_path / "c.toml",
        {"pooled": {"dsn": bouncer.dsn(db18.name, "pgconsole_readonly"), "pgbouncer_dsn": bouncer.admin_dsn}},
    )
    exp = start_exporter(cfg, ["pooled"])
    url = f"http://127.0.0.1:{exp.port}/metrics"
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []
    try:
        for _ in range(5):  # repeated scrapes: statements that psycopg would prepare after the 5th use
            code, text = get(url)
            assert code == 200 and value(text, "pgconsole_up", target="pooled") == 1.0, text[-2000:]
            assert (
                value(text, "pgconsole_queue_jobs", target="pooled", job_type="email", state="pending")
                == 12.0
            )
            assert value(text, "pgconsole_pgbouncer_up", target="pooled") == 1.0
        assert ADMIN_PASSWORD not in text
        app = bouncer.dsn(db18.name, "pgconsole_app")
        labels = {"target": "pooled", "database": db18.name, "user": "pgconsole_app"}

        def series(name: str) -> float:
            return value(get(url)[1], name, **labels) or 0.0

        threads = [_sleeper(app, 120, errors) for _ in range(3)]  # every server connection of the pool
        assert wait_until(lambda: series("pgconsole_pgbouncer_servers_active") >= 3, timeout=20), errors
        threads += [_sleeper(app, 0, errors) for _ in range(4)]  # and four clients queued behind them

        assert wait_until(lambda: series("pgconsole_pgbouncer_clients_waiting") >= 4, timeout=20), errors
        _, text = get(url)
        assert (
            value(text, "pgconsole_check_status", target="pooled", check="pgbouncer_clients_waiting") == 1.0
        )
    finally:
        with db18.admin() as a:
            a.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND query LIKE 'SELECT pg_sleep%%' AND pid <> pg_backend_pid()"
            )
        for t in threads:
            t.join(30)
        exp.stop()
    assert not errors, errors

"""PgBouncer's own view from real causes: every server connection of a pool of 3 held busy with
pg_sleep through the pool, more clients queued behind them: pgbouncer_clients_waiting and
pgbouncer_maxwait go WARNING, then CRITICAL; the console's source shows the waiting pool; once
the sleeps end both are OK again. Without pgbouncer_dsn the checks are not run."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import psycopg
import pytest

from pgconsole.monitor.pgbouncer import collect_pgbouncer
from pgconsole.tui.source import PgSource
from tests.pooler.bouncer import ADMIN_PASSWORD
from tests.pooler.helpers import run_cli, wait_until

pytestmark = pytest.mark.timeout(180)

CHECKS = "pgbouncer_clients_waiting,pgbouncer_maxwait"


def _check(db: Any, bouncer_dsn: str | None, *extra: str) -> tuple[int, dict[str, Any], str]:
    args = ["--check", "--format", "json", "--dsn", db.dsn_as("pgconsole_readonly"), *extra]
    if bouncer_dsn:
        args += ["--pgbouncer", bouncer_dsn]
    r = run_cli(args)
    data = json.loads(r.stdout)
    return r.returncode, {c["name"]: c for c in data["checks"]}, r.stdout + r.stderr


def _hold(dsn: str, seconds: float, out: list[BaseException]) -> threading.Thread:
    def body() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=None, connect_timeout=10) as c:
                c.execute("SELECT pg_sleep(%s)", (seconds,))
        except psycopg.errors.QueryCanceled:
            pass  # the test ends the sleeps when it is done
        except BaseException as exc:  # noqa: BLE001
            out.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def _waiting(bouncer: Any, db: Any) -> tuple[int, float]:
    with bouncer.admin() as a:
        stats = collect_pgbouncer(a)
    pools = [p for p in stats.pools if p.database == db.name and p.user == "pgconsole_app"]
    return (pools[0].cl_waiting, pools[0].maxwait_s) if pools else (0, 0.0)


def test_checks_follow_waiting_clients(bouncer, db18):
    app = bouncer.dsn(db18.name, "pgconsole_app")
    admin = bouncer.admin_dsn
    code, by_name, text = _check(db18, admin, "--only", CHECKS)
    assert by_name["pgbouncer_clients_waiting"]["status"] == "OK", text
    assert by_name["pgbouncer_maxwait"]["status"] == "OK", text
    assert code == 0
    assert ADMIN_PASSWORD not in text
    errors: list[BaseException] = []
    # every server connection of the pool, until the test cancels the sleeps (a loaded box makes
    # each `--check` process take seconds: no fixed sleep length would fit)
    sleepers = [_hold(app, 120, errors) for _ in range(3)]
    assert wait_until(lambda: _waiting(bouncer, db18) == (0, 0.0) and _server_busy(bouncer, db18), timeout=10)
    queued = [_hold(app, 0, errors) for _ in range(4)]  # these wait for a server connection
    assert wait_until(lambda: _waiting(bouncer, db18)[0] >= 4, timeout=10), _waiting(bouncer, db18)
    code, by_name, text = _check(db18, admin, "--only", CHECKS)
    waiting = by_name["pgbouncer_clients_waiting"]
    assert waiting["status"] == "WARNING", text  # 4 waiting: warn 1, crit 10
    assert waiting["perfdata"]["pgbouncer_clients_waiting"]["value"] >= 4
    assert f"{db18.name}/pgconsole_app" in waiting["message"]
    assert code == 1
    code, by_name, text = _check(db18, admin, "--only", CHECKS, "--set", "pgbouncer_clients_waiting.crit=4")
    assert by_name["pgbouncer_clients_waiting"]["status"] == "CRITICAL", text
    assert code == 2
    # the oldest waiting client's wait grows: WARNING from 1 s, CRITICAL at a threshold it has passed
    assert wait_until(lambda: _waiting(bouncer, db18)[1] >= 1.5, timeout=10)
    code, by_name, text = _check(db18, admin, "--only", "pgbouncer_maxwait")
    assert by_name["pgbouncer_maxwait"]["status"] == "WARNING", text
    code, by_name, text = _check(
        db18, admin, "--only", "pgbouncer_maxwait", "--set", "pgbouncer_maxwait.crit=1s"
    )
    assert by_name["pgbouncer_maxwait"]["status"] == "CRITICAL", text
    assert code == 2
    # the console's source: the pools panel and the banner's checks see the same
    source = PgSource(db18.dsn_as("pgconsole_operator"), pgbouncer_dsn=admin)
    try:
        pools = asyncio.run(source.pgbouncer())
        overview = asyncio.run(source.overview())
    finally:
        source.close()
    assert pools.configured and pools.stats is not None and pools.stats.clients_waiting >= 4, pools
    banner = {c.name: c for c in overview.checks}
    assert banner["pgbouncer_clients_waiting"].status.name == "WARNING", banner["pgbouncer_clients_waiting"]
    with db18.admin() as a:
        a.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE 'SELECT pg_sleep%%' AND pid <> pg_backend_pid()"
        )
    for t in sleepers + queued:
        t.join(30)
    assert not errors, errors
    code, by_name, text = _check(db18, admin, "--only", CHECKS)
    assert by_name["pgbouncer_clients_waiting"]["status"] == "OK", text
    assert by_name["pgbouncer_maxwait"]["status"] == "OK", text


def _server_busy(bouncer: Any, db: Any) -> bool:
    with bouncer.admin() as a:
        stats = collect_pgbouncer(a)
    return any(p.sv_active >= 3 for p in stats.pools if p.database == db.name and p.user == "pgconsole_app")


def test_not_run_without_pgbouncer_dsn(db18, bouncer):
    code, by_name, text = _check(db18, None)
    assert "pgbouncer_clients_waiting" not in by_name and "pgbouncer_maxwait" not in by_name, text
    code, by_name, text = _check(db18, None, "--only", "pgbouncer_maxwait")
    r = by_name["pgbouncer_maxwait"]
    assert r["status"] == "UNKNOWN" and "pgbouncer_dsn" in r["message"], text
    assert code == 3
    # with one: every check of the default set plus the two
    code, by_name, text = _check(db18, bouncer.admin_dsn)
    assert by_name["pgbouncer_clients_waiting"]["status"] == "OK", text


def test_unreachable_pgbouncer_is_unknown_and_redacted(db18):
    from pgconsole.embedded import free_port

    dsn = f"postgresql://pgb_admin:{ADMIN_PASSWORD}@127.0.0.1:{free_port()}/pgbouncer"
    started = time.monotonic()
    code, by_name, text = _check(db18, dsn, "--only", f"connection,{CHECKS}")
    assert time.monotonic() - started < 15
    assert by_name["connection"]["status"] == "OK"
    r = by_name["pgbouncer_clients_waiting"]
    assert r["status"] == "UNKNOWN" and "cannot reach PgBouncer" in r["message"], text
    assert ADMIN_PASSWORD not in text
    assert code == 3

"""One action path (issue 16): the same filter typed in the console and given to `pgconsole jobs`
shows the same rows, changes the same jobs and leaves the same audit records.

Two databases get the same jobs (same ids). In one, an operator retries through the CLI; in the
other, through the console: the filter line, `R` (everything matching), `y`. The jobs changed
and their audit records must be equal, and the Jobs table must have shown exactly those jobs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from textual.widgets import DataTable

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen
from pgconsole.tui.source import PgSource
from tests import pgcluster
from tests.pgcluster import Cluster
from tests.tui.helpers import rows, until

SIZE = (140, 40)
REASON = "pgconsole console"  # the console's default reason; the CLI is given the same
FILTER_LINE = "status:failed,cancelled type:email age:>1h"
CLI_FILTER = ["--status", "failed", "--status", "cancelled", "--type", "email", "--older-than", "1h"]

# (job_type, status, created seconds ago, finished seconds ago or None)
JOBS = [
    ("email.send", "failed", 7200, 7000),  # matches
    ("email.receive", "cancelled", 9000, 5000),  # matches
    ("email.send", "failed", 10800, 600),  # created 3 h ago, failed 10 min ago: not older than 1 h
    ("email.send", "completed", 7200, 7000),  # state not in the filter
    ("report.build", "failed", 7200, 7000),  # type not in the filter
    ("emailer.x", "failed", 7200, 7000),  # "email" is a prefix: emailer matches too
    ("email.send", "pending", 7200, None),  # state not in the filter
]
IDS = [str(uuid.UUID(int=0x0190_0000_0000_7000_8000_0000_0000_0000 + i)) for i in range(len(JOBS))]
# Volatile parts of an audit record: which session wrote it (os_user is the same: both run here).
VOLATILE = {"application_name", "backend_pid", "client_addr", "txid"}


@pytest.fixture
def twin_dbs(pg: Cluster) -> Iterator[tuple[pgcluster.TestDB, pgcluster.TestDB]]:
    names = [pg.new_database(), pg.new_database()]
    dbs = (pgcluster.TestDB(pg, names[0]), pgcluster.TestDB(pg, names[1]))
    for d in dbs:
        with psycopg.connect(d.dsn, autocommit=True) as conn:
            for jid, (jt, st, created, finished) in zip(IDS, JOBS, strict=True):
                conn.execute(
                    "INSERT INTO pgconsole.jobs (id, job_type, status, error_message, created_at, completed_at,"
                    " max_retries, retry_count) VALUES (%s, %s, %s, %s, now() - make_interval(secs => %s),"
                    " now() - make_interval(secs => %s), 3, 1)",
                    (jid, jt, st, "boom" if st == "failed" else None, created, finished),
                )
    yield dbs
    for n in names:
        pg.drop_database(n)


def _outcome(d: pgcluster.TestDB) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    with psycopg.connect(d.dsn, autocommit=True) as conn:
        states = {str(r[0]): r[1] for r in conn.execute("SELECT id, status FROM pgconsole.jobs").fetchall()}
        audit = [
            (str(r[0]), r[1], r[2], r[3], {k: v for k, v in r[4].items() if k not in VOLATILE})
            for r in conn.execute(
                "SELECT job_id, level, message, actor, metadata FROM pgconsole.job_log"
                " WHERE level = 'audit' ORDER BY job_id"
            ).fetchall()
        ]
    return states, audit


async def test_the_console_and_the_cli_change_the_same_jobs_with_the_same_audit(
    twin_dbs: tuple[pgcluster.TestDB, pgcluster.TestDB],
) -> None:
    by_cli, by_console = twin_dbs
    operator = "pgconsole_operator"

    dry = subprocess.run(
        [sys.executable, "-m", "pgconsole", "--dsn", by_cli.dsn_as(operator), "jobs", "retry", *CLI_FILTER]
        + ["--dry-run", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["count"] == 3
    done = subprocess.run(
        [sys.executable, "-m", "pgconsole", "--dsn", by_cli.dsn_as(operator), "jobs", "retry", *CLI_FILTER]
        + ["--yes", "--reason", REASON, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    cli_changed = {r["id"] for r in json.loads(done.stdout)["rows"]}
    assert cli_changed == {IDS[0], IDS[1], IDS[5]}

    app = PgConsoleApp(PgSource(by_console.dsn_as(operator)), refresh=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = lambda: app.screen.query_one("#jobs-table", DataTable)  # noqa: E731
        await until(pilot, lambda: len(table().rows) == len(JOBS), what="every job listed")
        await pilot.press("slash", *FILTER_LINE, "enter")
        shown = await until(
            pilot, lambda: len(table().rows) == 3 and {str(k.value) for k in table().rows}, what="the filter"
        )
        assert shown == cli_changed, "the table shows the jobs the CLI's filter changes"
        assert len(rows(table())) == 3
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await until(
            pilot,
            lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished,
            timeout=30,
            what="the retry",
        )
        await pilot.press("enter")
        await pilot.press("q")

    cli_states, cli_audit = _outcome(by_cli)
    console_states, console_audit = _outcome(by_console)
    assert console_states == cli_states
    assert [IDS[i] for i in (0, 1, 5)] == [a[0] for a in console_audit]
    assert console_audit == cli_audit
    assert all(a[3] == operator and a[4]["filter"]["older_than"] == "01:00:00" for a in console_audit)

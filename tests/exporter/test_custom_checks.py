"""Custom SQL checks (issue 18 item 4): thresholds, direction, read-only, one statement, timeout,
config errors in one line; in --check and in the exporter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import pytest

from tests.checks.helpers import run_cli
from tests.exporter.helpers import get, start_exporter, value, write_config
from tests.exporter.test_many_targets import SCHEMA

if TYPE_CHECKING:
    from tests.pgcluster import TestDB

BACKLOG = "SELECT count(*) FROM pgconsole.jobs WHERE status = 'pending'"


def _custom(name: str, sql: str, warn: float, crit: float, **extra: str) -> str:
    lines = [f"[checks.custom.{name}]", f"sql = {json.dumps(sql)}", f"warn = {warn}", f"crit = {crit}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def _check(cfg: Path, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    proc = run_cli(
        "--check", "--format", "json", "--timeout", "20", *args, env={"PGCONSOLE_CONFIG": str(cfg)}
    )
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    return proc.returncode, {c["name"]: c for c in report["checks"]}


def _enqueue(db: TestDB, n: int) -> None:
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'email', '{}' FROM generate_series(1, %s)",
            (n,),
        )


def test_custom_check_turns_warning_then_critical_at_its_thresholds(db: TestDB, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {"p": {"dsn": db.dsn_as("pgconsole_readonly")}},
        extra=_custom("backlog", BACKLOG, 10, 20, unit="", description="pending jobs"),
    )
    only = ("--profile", "p", "--only", "custom.backlog")
    for n, status, code in ((9, "OK", 0), (1, "WARNING", 1), (9, "WARNING", 1), (1, "CRITICAL", 2)):
        _enqueue(db, n)  # 9, 10 (= warn), 19, 20 (= crit)
        rc, checks = _check(cfg, *only)
        assert (rc, checks["custom.backlog"]["status"]) == (code, status), checks
    assert checks["custom.backlog"]["message"] == "pending jobs: 20 (>= 20)"
    # Unfiltered, the custom check is one of the checks and sets the exit code.
    rc, checks = _check(cfg, "--profile", "p")
    assert checks["custom.backlog"]["status"] == "CRITICAL" and rc == 2


def test_low_is_bad_direction(db: TestDB, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {"p": {"dsn": db.dsn_as("pgconsole_readonly")}},
        extra=_custom("workers", "SELECT 2", 3, 1, direction="low-is-bad"),
    )
    rc, checks = _check(cfg, "--profile", "p", "--only", "custom.workers")
    assert (rc, checks["custom.workers"]["status"]) == (1, "WARNING")


def test_custom_check_cannot_write_run_two_statements_or_overrun(db: TestDB, tmp_path: Path) -> None:
    extra = (
        _custom("writes", "DELETE FROM pgconsole.jobs RETURNING 1", 1, 2)
        + _custom("escapes", "SELECT 1; COMMIT; DELETE FROM pgconsole.jobs", 1, 2)
        + _custom("slow", "SELECT pg_sleep(30)::text::int", 1, 2)
        + _custom("nulls", "SELECT NULL::int", 1, 2)
        + _custom("percent", "SELECT count(*) FROM pg_class WHERE relname LIKE 'pg_%'", 1e9, 2e9)
    )
    _enqueue(db, 3)
    # As the superuser: read-only must come from the transaction, not from the role's grants.
    cfg = write_config(tmp_path / "c.toml", {"p": {"dsn": db.dsn}}, extra=extra)
    rc, checks = _check(
        cfg,
        "--profile",
        "p",
        "--only",
        "custom.writes,custom.escapes,custom.slow,custom.nulls,custom.percent",
    )
    assert "read-only transaction" in checks["custom.writes"]["message"]
    assert "multiple commands" in checks["custom.escapes"]["message"]
    assert "timed out" in checks["custom.slow"]["message"]
    assert "NULL" in checks["custom.nulls"]["message"]
    assert checks["custom.percent"]["status"] == "OK"  # a % in the statement is the operator's own
    assert {c["status"] for n, c in checks.items() if n != "custom.percent"} == {"UNKNOWN"}
    assert rc == 3
    with db.admin() as a:
        assert a.execute("SELECT count(*) FROM pgconsole.jobs").fetchone()[0] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (_custom("x", "SELECT 1", 20, 10), "checks.custom.x: Value error, warn (20) is above crit (10)"),
        ("[checks.custom.x]\nsql = 'SELECT 1'\nwarn = 1\n", "checks.custom.x.crit: Field required"),
        (
            "[checks.custom.x]\nsql = 'SELECT 1'\nwarn = 1\ncrit = 2\nwarm = 3\n",
            "checks.custom.x.warm: Extra inputs",
        ),
        (_custom("x", "SELECT 1", 1, 2, direction="up"), "checks.custom.x.direction: Input should be"),
        (_custom('"a-b"', "SELECT 1", 1, 2), "checks: Value error, custom check name 'a-b': use letters"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, extra: str, message: str) -> None:
    cfg = write_config(tmp_path / "c.toml", {}, extra=extra)
    proc = run_cli("--check", env={"PGCONSOLE_CONFIG": str(cfg)})
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_custom_check_in_the_exporter(db: TestDB, tmp_path: Path) -> None:
    _enqueue(db, 15)
    cfg = write_config(
        tmp_path / "c.toml",
        {"p": {"dsn": db.dsn_as("pgconsole_readonly")}},
        extra=_custom("backlog", BACKLOG, 10, 20),
    )
    exp = start_exporter(cfg, ["p"])
    try:
        _, text = get(f"http://127.0.0.1:{exp.port}/metrics")
        assert value(text, "pgconsole_custom_check_value", target="p", check="custom.backlog") == 15.0
        assert value(text, "pgconsole_check_status", target="p", check="custom.backlog") == 1.0
        code, body = get(f"http://127.0.0.1:{exp.port}/health")
        health = json.loads(body)
        assert code == 200 and health["status"] == "WARNING"
        jsonschema.validate(health, SCHEMA)  # one target: the --check JSON
        assert {c["name"]: c["status"] for c in health["checks"]}["custom.backlog"] == "WARNING"
        _enqueue(db, 5)
        code, body = get(f"http://127.0.0.1:{exp.port}/health")
        assert code == 503 and json.loads(body)["status"] == "CRITICAL"
    finally:
        exp.stop()

"""`pgconsole --check` runs the queue checks for every queue system in the database: each JSON
result names its system, Nagios labels name it, a failing system's verdict drives the exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from pgconsole.checks.output import SCHEMA_FILE
from tests.systems.conftest import run_module
from tests.systems.test_custom_table import ONE_LINE, SEED_DDL
from tests.systems.test_procrastinate import defer, setup_procrastinate


def check(db: Any, cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pgconsole",
            "--check",
            "--dsn",
            db.dsn_as("pgconsole_readonly"),
            "--config",
            str(cfg),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_reports_per_system(db: Any, su: Any, tmp_path: Path) -> None:
    setup_procrastinate(db, su)
    defer(db, *range(1, 21))  # 10 of 20 fail
    run_module("tests.systems.procrastinate_app", db.dsn, "worker", env_key="PROC_DSN")
    su.execute(SEED_DDL)
    su.execute(
        "INSERT INTO jobs (job_type, status, created_at, scheduled_at) VALUES ('email', 'pending', now() - interval '2 hours', now() - interval '2 hours')"
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(ONE_LINE)

    out = check(
        db, cfg, "--format", "json", "--only", "queue_latency,failure_rate,stuck_jobs,queue_table_bloat"
    )
    data = json.loads(out.stdout)
    schema = json.loads((Path(__file__).parents[2] / "pgconsole" / "checks" / SCHEMA_FILE).read_text())
    jsonschema.validate(data, schema)
    by = {(c["name"], c.get("system")): c for c in data["checks"]}
    assert set(by) == {
        (n, s)
        for n in ("queue_latency", "failure_rate", "stuck_jobs", "queue_table_bloat")
        for s in ("pgconsole", "procrastinate", "app_jobs")
    }
    assert by[("failure_rate", "procrastinate")]["status"] == "CRITICAL"  # 50% >= 20%
    assert "10 of 20" in by[("failure_rate", "procrastinate")]["message"]
    assert by[("queue_latency", "app_jobs")]["status"] == "CRITICAL"  # 2 h >= 30 min
    assert by[("queue_latency", "pgconsole")]["status"] == "OK"
    assert out.returncode == 2 and data["exit_code"] == 2

    nagios = check(db, cfg, "--format", "nagios", "--only", "queue_latency,failure_rate")
    assert nagios.returncode == 2
    assert "failure_rate[procrastinate] CRITICAL" in nagios.stdout
    assert (
        "'procrastinate.failure_rate'=50%" in nagios.stdout and "'app_jobs.queue_latency'=" in nagios.stdout
    )
    assert "'queue_latency'=" in nagios.stdout  # pgconsole's own keeps its labels

"""`pgconsole --check --profile a --profile b` (issue 18 item 5): each target checked at once and
bounded, one line or JSON object per target, the exit code the worst target's."""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema

from pgconsole.checks.output import SCHEMA_FILE
from tests.checks.helpers import run_cli
from tests.exporter.helpers import write_config
from tests.proxy import silent_server

if TYPE_CHECKING:
    from tests.pgcluster import TestDB

SCHEMA = json.loads((resources.files("pgconsole.checks") / SCHEMA_FILE).read_text())
WARN_ON_PENDING = """
[profiles.busy.checks.custom.backlog]
sql = "SELECT count(*) FROM pgconsole.jobs WHERE status = 'pending'"
warn = 1
crit = 100
"""


def _cli(cfg: Path, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = run_cli("--check", *args, env={"PGCONSOLE_CONFIG": str(cfg)}, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def test_two_profiles_exit_with_the_worse(db: TestDB, tmp_path: Path) -> None:
    with db.admin() as a:
        a.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('email', '{}')")
    dsn = db.dsn_as("pgconsole_readonly")
    cfg = write_config(tmp_path / "c.toml", {"calm": {"dsn": dsn}, "busy": {"dsn": dsn}}, extra="")
    cfg.write_text(cfg.read_text() + WARN_ON_PENDING)

    rc, out, err = _cli(cfg, "--profile", "calm", "--profile", "busy", "--format", "json")
    objs = [json.loads(line) for line in out.splitlines()]
    assert [(o["profile"], o["status"]) for o in objs] == [("calm", "OK"), ("busy", "WARNING")], err
    for o in objs:
        jsonschema.validate(o, SCHEMA)  # each line is a --check JSON object
    assert rc == 1
    assert "custom.backlog" not in {c["name"] for c in objs[0]["checks"]}  # each profile its own checks

    rc, out, _ = _cli(cfg, "--profile", "busy", "--profile", "calm")
    lines = out.splitlines()
    assert len(lines) == 2 and rc == 1
    assert lines[0].startswith("busy: WARNING: ") and "custom.backlog WARNING" in lines[0]
    assert lines[1].startswith("calm: OK: ")

    rc, out, _ = _cli(cfg, "--profile", "calm", "--profile", "busy", "--format", "nagios")
    assert [line.split(":")[0] for line in out.splitlines()] == ["calm", "busy"] and rc == 1
    # One profile: the usual single report.
    rc, out, _ = _cli(cfg, "--profile", "calm")
    assert rc == 0 and out.splitlines()[-1].startswith("PGCONSOLE OK")


def test_a_silent_target_costs_its_timeout_and_is_critical(db: TestDB, tmp_path: Path) -> None:
    with silent_server() as port:
        cfg = write_config(
            tmp_path / "c.toml",
            {
                "live": {"dsn": db.dsn_as("pgconsole_readonly")},
                "silent": {"dsn": f"host=127.0.0.1 port={port} dbname=x user=x"},
            },
        )
        t0 = time.monotonic()
        rc, out, err = _cli(
            cfg, "--profile", "silent", "--profile", "live", "--timeout", "3", "--format", "json"
        )
        took = time.monotonic() - t0
    objs = {o["profile"]: o for o in map(json.loads, out.splitlines())}
    assert objs["live"]["status"] == "OK", err
    assert objs["silent"]["status"] == "CRITICAL"
    assert rc == 2
    assert took < 3 + 3, took  # the timeout, plus the interpreter's start and exit


def test_several_profiles_are_refused_where_one_target_is_meant(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", {"a": {"dsn": "dbname=a"}, "b": {"dsn": "dbname=b"}})
    proc = run_cli("doctor", "--profile", "a", "--profile", "b", env={"PGCONSOLE_CONFIG": str(cfg)})
    assert proc.returncode == 1
    assert "more than one --profile" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

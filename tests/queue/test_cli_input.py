"""The real CLI in a subprocess (issue 15, items 7 and 8): input means what it says, and a user
error is one line on stderr, never a traceback (a closed pipe included)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from tests.foundation.helpers import REPO, cli, cli_env
from tests.pgcluster import role_password


def _one_clean_line(err: str) -> None:
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("pgconsole: "), err


def _completed_job(db: Any, minutes_ago: int = 1) -> str:
    with db.admin() as su:
        row = su.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, completed_at) "
            "VALUES ('old', 'completed', now() - make_interval(mins => %s)) RETURNING id::text",
            (minutes_ago,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def _exists(db: Any, job_id: str) -> bool:
    with db.admin() as su:
        return su.execute("SELECT count(*) FROM pgconsole.jobs WHERE id = %s", (job_id,)).fetchone() == (1,)


def test_a_duration_without_a_unit_is_refused(db18: Any) -> None:
    """`--older-than 7` used to mean 7 seconds: a job finished a minute ago was deleted."""
    job = _completed_job(db18)
    r = cli("--dsn", db18.dsn_as("pgconsole_operator"), "jobs", "cleanup", "--older-than", "7", "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    _one_clean_line(r.stderr)
    assert r.stderr.startswith("pgconsole: older_than:"), r.stderr
    for spelled in ("7d", "7h", "7m", "7s"):
        assert spelled in r.stderr, r.stderr
    assert _exists(db18, job), "nothing deleted"
    # with a unit it means what it says
    r = cli("--dsn", db18.dsn_as("pgconsole_operator"), "jobs", "cleanup", "--older-than", "7d", "--yes")
    assert r.returncode == 0 and _exists(db18, job), r.stdout + r.stderr
    r = cli("--dsn", db18.dsn_as("pgconsole_operator"), "jobs", "cleanup", "--older-than", "7s", "--yes")
    assert r.returncode == 0 and not _exists(db18, job), r.stdout + r.stderr


@pytest.mark.parametrize("where", ["before", "middle", "after"])
def test_connection_flags_before_and_after_the_subcommand(db18: Any, where: str) -> None:
    dsn = db18.dsn_as("pgconsole_operator")
    job = _completed_job(db18)
    base = {
        "before": ["--dsn", dsn, "jobs", "list"],
        "middle": ["jobs", "--dsn", dsn, "list"],
        "after": ["jobs", "list", "--dsn", dsn],
    }[where]
    r = cli(*base, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [j["id"] for j in json.loads(r.stdout)] == [job]
    show = {
        "before": ["--dsn", dsn, "jobs", "show", job],
        "middle": ["jobs", "--dsn", dsn, "show", job],
        "after": ["jobs", "show", job, "--dsn", dsn],
    }[where]
    r = cli(*show, "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["job"]["id"] == job, r.stderr


def test_connection_flags_after_the_subcommand_take_config_and_profile(db18: Any, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[profiles.q]\ndsn = "{db18.dsn_as("pgconsole_operator")}"\n')
    r = cli("jobs", "list", "--config", str(config), "--profile", "q", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stderr


def test_an_empty_list_says_no_job_matches(db18: Any) -> None:
    dsn = db18.dsn_as("pgconsole_operator")
    r = cli("--dsn", dsn, "jobs", "list")
    assert r.returncode == 0 and r.stdout.strip() == "no job matches (no filter): the queue holds no jobs", (
        r.stdout
    )
    _completed_job(db18)
    r = cli("--dsn", dsn, "jobs", "list", "--status", "failed", "--type", "mail")
    assert r.returncode == 0 and r.stdout.strip() == "no job matches --status failed --type mail", r.stdout
    r = cli("--dsn", dsn, "jobs", "list", "--status", "failed", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_a_missing_payload_file_is_one_line(db18: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    r = cli("--dsn", db18.dsn_as("pgconsole_app"), "jobs", "enqueue", "t", "--payload-file", str(missing))
    assert r.returncode == 1
    _one_clean_line(r.stderr)
    assert r.stderr.startswith("pgconsole: payload_file:") and "No such file" in r.stderr, r.stderr


def test_a_closed_pipe_ends_quietly(db18: Any) -> None:
    """`pgconsole jobs list | head -c 200`: the reader leaves after 200 bytes; no traceback."""
    with db18.admin() as su:
        su.execute("INSERT INTO pgconsole.jobs (job_type) SELECT 'pipe.test' FROM generate_series(1, 3000)")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgconsole",
            "--dsn",
            db18.dsn_as("pgconsole_operator"),
            "jobs",
            "list",
            "--limit",
            "3000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=REPO,
    )
    assert p.stdout is not None and p.stderr is not None
    head = p.stdout.read(200)  # ~300 kB follow: far more than a pipe holds, so the writer must block
    p.stdout.close()
    err = p.stderr.read().decode()
    code = p.wait(timeout=60)
    assert len(head) == 200
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert err == "" and code == 1, (code, err)


@pytest.fixture
def bare_role(db18: Any) -> Iterator[str]:
    """A login role with no pgconsole grant at all."""
    role = f"pgc_bare_{uuid.uuid4().hex[:8]}"
    with db18.admin() as su:
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(role_password(role))
            )
        )
    yield role
    with db18.admin() as su:
        su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_permission_error_names_the_grant(db18: Any, bare_role: str) -> None:
    r = cli("--dsn", db18.dsn_as(bare_role), "jobs", "list")
    assert r.returncode == 1
    _one_clean_line(r.stderr)
    assert "permission denied" in r.stderr and f"GRANT pgconsole_readonly TO {bare_role}" in r.stderr, (
        r.stderr
    )
    assert "unreachable" not in r.stderr
    r = cli("--dsn", db18.dsn_as("pgconsole_readonly"), "jobs", "retry", "--id", str(uuid.uuid4()), "--yes")
    assert r.returncode == 1
    _one_clean_line(r.stderr)
    assert "GRANT pgconsole_operator TO pgconsole_readonly" in r.stderr, r.stderr
    r = cli("--dsn", db18.dsn_as("pgconsole_readonly"), "jobs", "enqueue", "t")
    assert r.returncode == 1
    _one_clean_line(r.stderr)
    assert "read-only" in r.stderr and "connect as a role that may write, e.g. pgconsole_app" in r.stderr, (
        r.stderr
    )


def test_a_missing_schema_names_setup_and_migrate(pg18: Any) -> None:
    name = pg18.empty_database()
    try:
        for argv in (["jobs", "list"], ["jobs", "show", str(uuid.uuid4())], ["maintain"]):
            r = cli("--dsn", pg18.dsn(name), *argv)
            assert r.returncode == 1, (argv, r.stdout, r.stderr)
            _one_clean_line(r.stderr)
            assert "pgconsole setup" in r.stderr and "pgconsole migrate" in r.stderr, r.stderr
            assert "unreachable" not in r.stderr
    finally:
        pg18.drop_database(name)

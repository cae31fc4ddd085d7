"""--dsn beats PGCONSOLE_DSN, which beats DATABASE_URL, for every command that connects."""

import os
import subprocess
import sys

DEAD = "postgresql://nobody@127.0.0.1:1/nowhere"


def _run(args, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLE_") and k != "DATABASE_URL"}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "pgconsole", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_dsn_wins_over_environment(db18):
    good = db18.dsn_as("pgconsole_readonly")
    r = _run(
        ["--check", "--only", "connection", "--dsn", good, "--connect-timeout", "3"],
        {"PGCONSOLE_DSN": DEAD, "DATABASE_URL": DEAD},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run(["migrate", "--status", "--dsn", good, "--connect-timeout", "3"], {"PGCONSOLE_DSN": DEAD})
    assert r.returncode == 0, r.stdout + r.stderr


def test_pgconsole_dsn_wins_over_database_url(db18):
    good = db18.dsn_as("pgconsole_readonly")
    r = _run(
        ["--check", "--only", "connection", "--connect-timeout", "3"],
        {"PGCONSOLE_DSN": good, "DATABASE_URL": DEAD},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run(["--check", "--only", "connection", "--connect-timeout", "3"], {"DATABASE_URL": good})
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run(["--check", "--only", "connection", "--connect-timeout", "3"], {"DATABASE_URL": DEAD})
    assert r.returncode == 2, r.stdout + r.stderr

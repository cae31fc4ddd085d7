"""README "Point it at your own database", top to bottom, as printed (issue 15 item 2).

Each server version gets a fresh cluster (the pgconsole roles are cluster-wide: the shared test
clusters already have them, with passwords) with a superuser ``admin`` and a database ``app``, so the
only thing substituted in the README's lines is the host and port of ``db1``. ``admin``'s own
password sits in ``~/.pgpass``, as the README says to keep passwords; everything after comes from
the commands themselves. The dashboard line runs in a real terminal (tmux)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from pgconsole.schema.setup import pgpass_line
from tests.foundation.helpers import REPO
from tests.pgcluster import Cluster, available_servers, start_cluster
from tests.terminal import TMUX, Tmux

README = (REPO / "README.md").read_text()
SECTION = README.split("## Point it at your own database", 1)[1]
BLOCK = re.search(r"```sh\n(.*?)```", SECTION, re.S)
ADMIN_PASSWORD = "admin-Pw-7f3"


def own_database_commands() -> list[str]:
    assert BLOCK is not None, "the section has a sh code block"
    lines = [line.split("#", 1)[0].strip() for line in BLOCK[1].splitlines()]
    return [line for line in lines if line]


@pytest.fixture(params=available_servers())
def fresh_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    cluster = start_cluster(request.param)
    try:
        with cluster.admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE admin LOGIN SUPERUSER PASSWORD {}").format(sql.Literal(ADMIN_PASSWORD))
            )
            conn.execute("CREATE DATABASE app")
        yield cluster
    finally:
        cluster.stop()


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PG", "PGCONSOLE_")) and k != "DATABASE_URL"
    }
    env.update(
        HOME=str(home),
        PGCONSOLE_CONFIG=os.devnull,
        LC_ALL="C",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def test_the_sequence_runs_top_to_bottom(fresh_cluster: Cluster, tmp_path: Path) -> None:
    commands = own_database_commands()
    assert any("setup --pgpass" in c for c in commands), commands
    host = f"{fresh_cluster.info.host}:{fresh_cluster.info.port}"
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    pgpass = home / ".pgpass"
    pgpass.write_text(
        pgpass_line(fresh_cluster.info.host, str(fresh_cluster.info.port), "app", "admin", ADMIN_PASSWORD)
        + "\n"
    )
    pgpass.chmod(0o600)
    env = _env(home)
    outputs: list[str] = []
    for command in commands:
        line = command.replace("@db1/", f"@{host}/")
        assert line.startswith("pgconsole "), line
        if not re.search(r"\s(setup|migrate)\b|--check", line):  # the dashboard: a real terminal
            _dashboard(line, env, tmp_path)
            continue
        proc = subprocess.run(
            ["sh", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )
        outputs.append(proc.stdout + proc.stderr)
        ok = (
            (0, 1) if "--check" in line else (0,)
        )  # a WARNING (e.g. pg_stat_statements not preloaded) is fine
        assert proc.returncode in ok, f"{line}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert (
            "no password supplied" not in proc.stderr and "password authentication failed" not in proc.stderr
        )
        if line.endswith(" setup"):
            # The plain setup's output ends with the next step: how the roles get passwords.
            tail = proc.stdout.strip().splitlines()
            assert any("setup --pgpass" in t for t in tail[-8:]), proc.stdout
            assert any("\\password pgconsole_migrator" in t for t in tail), proc.stdout
            assert "migrate" in tail[-1], proc.stdout
        if "--check" in line:
            assert proc.stdout.startswith(("PGCONSOLE OK", "PGCONSOLE WARNING")), proc.stdout
    assert oct(pgpass.stat().st_mode & 0o777) == "0o600"
    written = [ln.split(":") for ln in pgpass.read_text().splitlines()]
    roles = {f[3] for f in written}
    assert {"admin", "pgconsole_migrator", "pgconsole_operator", "pgconsole_readonly"} <= roles, roles
    for fields in written:
        if fields[3] != "admin":
            assert fields[4] not in "\n".join(outputs), "a generated password was printed"
    with fresh_cluster.admin("app") as conn:
        assert conn.execute("SELECT count(*) FROM pgconsole.schema_migrations").fetchone()[0] > 0  # type: ignore[index]


def _dashboard(line: str, env: dict[str, str], tmp_path: Path) -> None:
    if TMUX is None:
        pytest.skip("tmux is not installed: the dashboard line needs a real terminal")
    exit_file = tmp_path / "dashboard-exit"
    exports = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in env.items() if k in ("HOME", "PGCONSOLE_CONFIG", "PATH", "LC_ALL")
    )
    cmd = f"env -u PGCONSOLE_DSN -u DATABASE_URL {exports} sh -c {shlex.quote(line)}; echo $? > {exit_file}; sleep 30"
    tmux = Tmux()
    try:
        tmux.start(cmd, 140, 45)
        shown = tmux.wait_for("pgconsole_operator", timeout=60)  # the header names the role once connected
        assert "cannot connect" not in shown and "password" not in shown, shown
        tmux.keys("q")
        _wait_file(exit_file)
        assert exit_file.read_text().strip() == "0", tmux.screen()
    finally:
        tmux.run("kill-server")


def _wait_file(path: Path, timeout: float = 30) -> None:
    from tests.foundation.helpers import wait_until

    wait_until(lambda: path.exists() and path.read_text().strip() != "", timeout, what=f"{path.name}")

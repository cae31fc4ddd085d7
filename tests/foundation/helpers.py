"""Shared helpers for the foundation tests: run the real CLI, set up an empty database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from pgconsole.schema.migrator import default_migrations_dir, load_migrations
from pgconsole.schema.setup import run_setup
from tests.pgcluster import LOGIN_ROLES, Cluster, role_password

REPO = Path(__file__).resolve().parents[2]
MIGRATOR = "pgconsole_migrator"


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: no stray libpq or pgconsole settings, no user config."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PG", "PGCONSOLE_")) and k != "DATABASE_URL"
    }
    env["PGCONSOLE_CONFIG"] = os.devnull  # an empty config file: the user's own never leaks in
    env["LC_ALL"] = "C"
    env.update(extra or {})
    return env


def cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgconsole", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(env),
        cwd=REPO,
    )


def cli_popen(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pgconsole", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(env),
        cwd=REPO,
    )


@dataclass
class SetUpDB:
    """An empty database on which `pgconsole setup` ran (roles and schema, no migration yet)."""

    cluster: Cluster
    name: str

    @property
    def superuser_dsn(self) -> str:
        return self.cluster.dsn(self.name)

    def dsn_as(self, role: str) -> str:
        return self.cluster.dsn(self.name, role)

    def admin(self) -> psycopg.Connection:
        return self.cluster.admin(self.name)

    def scalar(self, query: str, params: Sequence[object] = ()) -> object:
        with self.admin() as conn:
            row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return None if row is None else row[0]

    def history(self) -> list[tuple[int, str]]:
        with self.admin() as conn:
            if conn.execute("SELECT to_regclass('pgconsole.schema_migrations')").fetchone() == (None,):
                return []
            return [
                (r[0], r[1])
                for r in conn.execute(
                    "SELECT version, checksum FROM pgconsole.schema_migrations ORDER BY version"
                ).fetchall()
            ]


def set_up_database(cluster: Cluster) -> SetUpDB:
    name = cluster.empty_database("f")
    with cluster.admin(name) as conn:
        run_setup(conn)
        for role in LOGIN_ROLES:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(role_password(role))
                )
            )
    return SetUpDB(cluster, name)


def copy_migrations(
    target: Path, *, only: Sequence[str] | None = None, extra: Mapping[str, str] | None = None
) -> Path:
    """A migrations directory for a test: shipped files (all, or the named ones) plus extra files."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(default_migrations_dir().glob("*.sql")):
        if only is None or path.name in only:
            shutil.copy(path, target / path.name)
    for name, text in (extra or {}).items():
        (target / name).write_text(text)
    load_migrations(target)  # fail here on a bad name, not in the CLI
    return target


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition") -> float:  # type: ignore[no-untyped-def]
    """Poll until predicate() is true; return the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


@dataclass
class Result:
    """What `pgconsole ...` returned when run in this process (same code path as the console script)."""

    returncode: int
    stdout: str
    stderr: str


def run_main(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run ``pgconsole.cli.main`` in-process with a clean environment; much cheaper than a subprocess."""
    import contextlib
    import io
    from unittest import mock

    from pgconsole.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, cli_env(env), clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())

"""Real PostgreSQL clusters for the tests: the embedded PostgreSQL 18 and, when installed, the
system PostgreSQL 15. Each test gets its own database cloned from a migrated template."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from pgconsole.embedded import EmbeddedServer, ServerInfo

SUPERUSER_PASSWORD = "Sup3r-s3cret-pw"
TEMPLATE = "pgconsole_template"
LOGIN_ROLES = (
    "pgconsole_migrator",
    "pgconsole_readonly",
    "pgconsole_operator",
    "pgconsole_app",
    "pgconsole_worker",
)

# Speed over durability in throwaway test clusters.
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "max_prepared_transactions": "10",
    # Every test database adds its own entries: room enough that a test's statements are not evicted
    # before the Queries screen reads them.
    "pg_stat_statements.max": "50000",
}


def role_password(role: str) -> str:
    return f"pw-{role}-x9"


def system_pg_bins() -> dict[str, Path]:
    found = {}
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        for d in sorted(base.iterdir()):
            if (d / "bin" / "postgres").exists() and d.name.isdigit() and int(d.name) >= 14:
                found[f"pg{d.name}"] = d / "bin"
    return found


def available_servers() -> list[str]:
    names = ["pg18"]
    names += [n for n in system_pg_bins() if n == "pg15"]
    if os.environ.get("PGCONSOLE_TEST_SERVERS"):
        wanted = os.environ["PGCONSOLE_TEST_SERVERS"].split(",")
        names = [n for n in names if n in wanted]
    return names


def make_data_parent() -> Path:
    d = Path(tempfile.mkdtemp(prefix="pgconsole-test-"))
    os.chmod(d, 0o755)  # the server runs as another OS user when we are root
    return d


@dataclass
class Cluster:
    name: str
    server: EmbeddedServer
    info: ServerInfo
    parent: Path
    template_ready: bool = False
    _dbs: list[str] = field(default_factory=list)

    @property
    def major(self) -> int:
        return int(self.name.removeprefix("pg"))

    def dsn(self, dbname: str = "postgres", role: str | None = None) -> str:
        if role is None:
            return self.info.superuser_dsn(dbname)
        return self.info.dsn(dbname, role, role_password(role))

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10)

    def ensure_template(self) -> None:
        if self.template_ready:
            return
        from pgconsole.schema import migrator as migrate
        from pgconsole.schema.setup import run_setup

        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        with self.admin(TEMPLATE) as conn:
            run_setup(conn)
            for role in LOGIN_ROLES:
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(role_password(role))
                    )
                )
            migrate.apply(conn)
        self.template_ready = True

    def new_database(self, prefix: str = "t") -> str:
        self.ensure_template()
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(TEMPLATE)
                )
            )
        self._dbs.append(name)
        return name

    def empty_database(self, prefix: str = "e") -> str:
        """A database with nothing of pgconsole in it (for setup and migration tests)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._dbs.append(name)
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        self.server.stop(mode="immediate")
        shutil.rmtree(self.parent, ignore_errors=True)


def start_cluster(name: str, settings: dict[str, str] | None = None) -> Cluster:
    parent = make_data_parent()
    pg_bin = None if name == "pg18" else system_pg_bins()[name]
    server = EmbeddedServer(
        parent / "data",
        pg_bin=pg_bin,
        password=SUPERUSER_PASSWORD,
        host_auth="scram-sha-256",
        extra_settings={**TEST_SETTINGS, **(settings or {})},
    )
    info = server.start()
    server.wait_ready()
    return Cluster(name=name, server=server, info=info, parent=parent)


@dataclass
class TestDB:
    cluster: Cluster
    name: str

    @property
    def dsn(self) -> str:
        """Superuser DSN (for arranging test state, never for the code under test where a role fits)."""
        return self.cluster.dsn(self.name)

    def dsn_as(self, role: str) -> str:
        return self.cluster.dsn(self.name, role)

    def admin(self) -> psycopg.Connection:
        return self.cluster.admin(self.name)

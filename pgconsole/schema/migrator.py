"""The migration runner.

Behaviour (each covered by tests/test_migrate*.py against real servers):

* A session advisory lock is taken *before* the history table is created, and the applied
  versions are re-read after the lock, so concurrent migrators apply each file once
  (reliability.md F5: ``CREATE TABLE IF NOT EXISTS`` itself races).
* Each migration runs in one explicit transaction together with its history row, so a migrator
  killed mid-way leaves schema and history in agreement (F6).
* ``SET LOCAL lock_timeout`` bounds DDL lock waits; a timeout exits with a retry message.
* An applied file that was edited or removed is refused, showing both checksums.
* A database migrated by a newer pgconsole is refused with its own exit code.
* A file whose first line is ``-- pgconsole:no-transaction`` runs statement by statement outside
  a transaction (CREATE INDEX CONCURRENTLY); its history row is written after the last statement.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import time
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql
from pydantic import BaseModel

from pgconsole import __version__
from pgconsole.schema.setup import ROLES

LOCK_KEY = "pgconsole.migrate"
NO_TRANSACTION_MARKER = "-- pgconsole:no-transaction"
DEFAULT_DDL_LOCK_TIMEOUT = "5s"

# Exit codes of `pgconsole migrate` (documented in docs/migrations.md).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONNECT = 2
EXIT_LOCK_TIMEOUT = 3
EXIT_CHECKSUM = 4
EXIT_NEWER_DATABASE = 5
EXIT_NOT_SET_UP = 6

_FILE_RE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

# CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege even when the schema exists, and the
# owner role set up by `pgconsole setup` has no CREATE on the database: test existence first.
BOOTSTRAP_SQL = """
DO $bootstrap$ BEGIN
  IF to_regnamespace('pgconsole') IS NULL THEN CREATE SCHEMA pgconsole; END IF;
END $bootstrap$;
CREATE TABLE IF NOT EXISTS pgconsole.schema_migrations (
    version           integer PRIMARY KEY,
    name              text NOT NULL,
    checksum          text NOT NULL,
    applied_at        timestamptz NOT NULL DEFAULT now(),
    applied_by        text NOT NULL DEFAULT session_user,
    pgconsole_version text NOT NULL,
    execution_ms      integer NOT NULL DEFAULT 0
);
"""


class MigrationError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Migration(BaseModel):
    version: int
    name: str
    sql: str
    checksum: str
    transactional: bool

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


class AppliedMigration(BaseModel):
    version: int
    name: str
    checksum: str
    applied_at: datetime
    applied_by: str
    pgconsole_version: str


class MigrationStatus(BaseModel):
    applied: list[AppliedMigration]
    pending: list[Migration]
    problems: list[str]
    exit_code: int


def default_migrations_dir() -> Path:
    return Path(str(resources.files("pgconsole.schema") / "migrations"))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or default_migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.iterdir()):
        m = _FILE_RE.match(path.name)
        if not m:
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        found.append(
            Migration(
                version=int(m["version"]),
                name=m["name"],
                sql=text,
                checksum=hashlib.sha256(raw).hexdigest(),
                transactional=not text.lstrip().startswith(NO_TRANSACTION_MARKER),
            )
        )
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return found


def _read_applied(conn: psycopg.Connection[Any]) -> list[AppliedMigration]:
    exists = conn.execute("SELECT to_regclass('pgconsole.schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        "SELECT version, name, checksum, applied_at, applied_by, pgconsole_version"
        " FROM pgconsole.schema_migrations ORDER BY version"
    ).fetchall()
    return [
        AppliedMigration(
            version=r[0], name=r[1], checksum=r[2], applied_at=r[3], applied_by=r[4], pgconsole_version=r[5]
        )
        for r in rows
    ]


def compare(applied: list[AppliedMigration], known: list[Migration]) -> MigrationStatus:
    by_version = {m.version: m for m in known}
    problems: list[str] = []
    exit_code = EXIT_OK
    newest_known = max(by_version, default=0)
    for a in applied:
        if a.version > newest_known:
            problems.append(
                f"database has migration {a.version:04d}_{a.name} applied by pgconsole {a.pgconsole_version}, "
                f"newer than this pgconsole {__version__} knows (newest {newest_known:04d}); upgrade pgconsole"
            )
            exit_code = max(exit_code, EXIT_NEWER_DATABASE)
            continue
        m = by_version.get(a.version)
        if m is None:
            problems.append(
                f"applied migration {a.version:04d}_{a.name} (sha256 {a.checksum}) is missing from this pgconsole"
            )
            exit_code = exit_code if exit_code == EXIT_NEWER_DATABASE else EXIT_CHECKSUM
        elif m.checksum != a.checksum:
            problems.append(
                f"migration {m.filename} was edited after it was applied: "
                f"applied sha256 {a.checksum}, file sha256 {m.checksum}"
            )
            exit_code = exit_code if exit_code == EXIT_NEWER_DATABASE else EXIT_CHECKSUM
    done = {a.version for a in applied}
    pending = [m for m in known if m.version not in done]
    return MigrationStatus(applied=applied, pending=pending, problems=problems, exit_code=exit_code)


def status(conn: psycopg.Connection[Any], directory: Path | None = None) -> MigrationStatus:
    return compare(_read_applied(conn), load_migrations(directory))


def _split_statements(sql_text: str) -> list[str]:
    """Split a no-transaction migration into statements.

    Such files hold plain statements (CREATE INDEX CONCURRENTLY ...), one per ';'-terminated
    line group, without function bodies; that restriction is documented in docs/migrations.md.
    """
    body = "\n".join(line for line in sql_text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def _acquire_lock(conn: psycopg.Connection[Any], wait_seconds: float, say: Callable[[str], None]) -> None:
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LOCK_KEY,)).fetchone()
        if row and row[0]:
            return
        if not told:
            say("another pgconsole migrate holds the migration lock; waiting")
            told = True
        if time.monotonic() > deadline:
            raise MigrationError(
                f"could not take the migration lock within {wait_seconds:g}s; another migrator is running. Retry later.",
                EXIT_LOCK_TIMEOUT,
            )
        time.sleep(0.1)


def _become_owner(conn: psycopg.Connection[Any]) -> None:
    """Create objects as the NOLOGIN owner role when setup made one, so no login role owns them."""
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconsole_owner')"
        " AND pg_has_role(current_user, 'pgconsole_owner', 'MEMBER')"
    ).fetchone()
    if row and row[0]:
        conn.execute("SET ROLE pgconsole_owner")


def check_set_up(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
        (list(ROLES),),
    ).fetchone()
    if not row or row[0] < len(ROLES):
        raise MigrationError(
            "the pgconsole roles do not all exist yet: run `pgconsole setup` (again, after an upgrade) as a role with CREATEROLE "
            "(or `pgconsole setup --print` to review the SQL)",
            EXIT_NOT_SET_UP,
        )
    row = conn.execute("SELECT to_regnamespace('pgconsole') IS NOT NULL").fetchone()
    if not row or not row[0]:
        raise MigrationError(
            "the pgconsole schema does not exist in this database: run `pgconsole setup` once here "
            "as a role with CREATEROLE (or `pgconsole setup --print` to review the SQL)",
            EXIT_NOT_SET_UP,
        )


def apply(
    conn: psycopg.Connection[Any],
    directory: Path | None = None,
    *,
    lock_wait_seconds: float = 60.0,
    ddl_lock_timeout: str = DEFAULT_DDL_LOCK_TIMEOUT,
    say: Callable[[str], None] = lambda _m: None,
    before_commit: Callable[[Migration], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration. ``conn`` must be in autocommit mode.

    ``before_commit`` is a test hook called inside each migration's transaction, just before
    COMMIT (used to SIGKILL a migrator at the worst moment).
    """
    assert conn.autocommit, "the runner manages its own transactions"
    load_migrations(directory)  # a bad migrations directory fails before we take any lock
    check_set_up(conn)
    _acquire_lock(conn, lock_wait_seconds, say)
    try:
        _become_owner(conn)
        try:
            conn.execute(BOOTSTRAP_SQL)
        except errors.InsufficientPrivilege as exc:
            raise MigrationError(f"cannot create the pgconsole schema: {exc}") from None
        # Re-read after the lock: another migrator may have finished while we waited.
        st = status(conn, directory)
        if st.exit_code != EXIT_OK:
            raise MigrationError("; ".join(st.problems), st.exit_code)
        if not st.pending:
            say("database is up to date")
        applied: list[Migration] = []
        for m in st.pending:
            say(f"applying {m.filename}")
            _apply_one(conn, m, ddl_lock_timeout, before_commit)
            applied.append(m)
        return applied
    finally:
        try:
            conn.execute("RESET ROLE")
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
        except psycopg.Error:
            pass


_HISTORY_INSERT = (
    "INSERT INTO pgconsole.schema_migrations (version, name, checksum, pgconsole_version, execution_ms, applied_by)"
    " VALUES (%s, %s, %s, %s, %s, session_user)"
)


def _apply_one(
    conn: psycopg.Connection[Any],
    m: Migration,
    ddl_lock_timeout: str,
    before_commit: Callable[[Migration], None] | None,
) -> None:
    started = time.monotonic()
    try:
        if m.transactional:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (ddl_lock_timeout,))
                conn.execute(m.sql)  # type: ignore[arg-type]  # a trusted file shipped in the package
                elapsed = int((time.monotonic() - started) * 1000)
                conn.execute(_HISTORY_INSERT, (m.version, m.name, m.checksum, __version__, elapsed))
                if before_commit:
                    before_commit(m)
        else:
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (ddl_lock_timeout,))
            for stmt in _split_statements(m.sql):
                conn.execute(stmt)  # type: ignore[arg-type]
            elapsed = int((time.monotonic() - started) * 1000)
            conn.execute(_HISTORY_INSERT, (m.version, m.name, m.checksum, __version__, elapsed))
    except errors.LockNotAvailable:
        raise MigrationError(
            f"{m.filename}: could not lock a table within lock_timeout={ddl_lock_timeout} "
            "(a long transaction holds it). Nothing was applied for this file; retry when it ends.",
            EXIT_LOCK_TIMEOUT,
        ) from None
    except psycopg.Error as exc:
        if conn.broken:
            raise MigrationError(
                f"{m.filename}: connection lost ({_one_line(exc)}); the server rolled the file back"
                + ("" if m.transactional else " except the statements that had already completed")
                + ". Rerun when the server is reachable.",
                EXIT_CONNECT,
            ) from None
        what = (
            "failed and was rolled back"
            if m.transactional
            else "failed; it has no transaction, so the statements before the failing one stay applied"
        )
        raise MigrationError(f"{m.filename} {what}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    # Server messages can carry a "LINE n: ..." context over several lines.
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__


def pending_sql(conn: psycopg.Connection[Any], directory: Path | None = None) -> str:
    """The SQL `migrate` would run, for teams that apply it with their own tool."""
    st = status(conn, directory)
    if st.exit_code != EXIT_OK:
        raise MigrationError("; ".join(st.problems), st.exit_code)
    out = [
        "-- pgconsole migrations, generated by pgconsole " + __version__,
        "-- Objects belong to the NOLOGIN owner role, as when `pgconsole migrate` runs them;",
        "-- run this as pgconsole_migrator (or another member of pgconsole_owner).",
        "SET ROLE pgconsole_owner;",
        BOOTSTRAP_SQL.strip(),
        "",
    ]
    for m in st.pending:
        out.append(f"-- {m.filename} sha256 {m.checksum}")
        if m.transactional:
            out.append("BEGIN;")
            out.append(f"SET LOCAL lock_timeout = '{DEFAULT_DDL_LOCK_TIMEOUT}';")
        out.append(m.sql.rstrip())
        insert = sql.SQL(
            "INSERT INTO pgconsole.schema_migrations (version, name, checksum, pgconsole_version) VALUES ({});"
        ).format(sql.SQL(", ").join(sql.Literal(v) for v in (m.version, m.name, m.checksum, __version__)))
        out.append(insert.as_string(conn))
        if m.transactional:
            out.append("COMMIT;")
        out.append("")
    out.append("RESET ROLE;")
    return "\n".join(out) + "\n"


def who_am_i() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"

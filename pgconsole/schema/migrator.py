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
* A database built from the pre-release migration files (folded into today's before the first
  release) is refused with its own exit code and one line saying what to do;
  :func:`convert_prerelease` converts one that has all twelve applied.
* A file whose first line is ``-- pgconsole:no-transaction`` runs statement by statement outside
  a transaction (CREATE INDEX CONCURRENTLY); its history row is written after the last statement.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
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
from pgconsole.db.connect import Pooler, pooling
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
EXIT_PRERELEASE = 7
EXIT_POOLED = 8

# The history of a database built before the first release, when the schema was twelve files;
# they were folded into today's files, and these rows are kept only to recognise such a database.
# (version, name, sha256 of the file), as _HISTORY_INSERT recorded them.
PRERELEASE_HISTORY: tuple[tuple[int, str, str], ...] = (
    (1, "meta", "ce9b47d4740cd05d75595050dd1a64753655c47c3e1edb699c82fb11db54bf1d"),
    (2, "job_queue", "6c121cc6dcb46d56c05d55ab94e77f9b46940fdf5db8c7f75ea6c1dd2e67289c"),
    (3, "job_api", "172e3fe2ae76f955f31e77055c6dda4253915d563395ba254c2ccfbdcf6b65a9"),
    (4, "job_admin", "d696cc7758735bfda1247694eae0068469db3eccd2b69864a9b569abfb6d56f3"),
    (5, "retry_with_payload", "0f78be542356a012865f08335547618268bba57835dfd3d03085fdc5fc31dcac"),
    (6, "hot_path", "76757e54fe4ccffe07442c17300c93e0c4fe20ac5645f9adffec1ed5d8330585"),
    (7, "cheap_checks", "fa729752686b84ad4eeb06ee8f7a1afc1cc7b144d7e52784f5137c16f653f848"),
    (8, "generic_claim_plans", "ba4dd13d74f099a4c4ecf3be1e40ff0d0907e8a9dbc0def5c673ea1028ec7be9"),
    (9, "claim_without_bitmaps", "ca791ea261dcb46d8397c6ffb9de509900970daf980f2450f8d91b490036e56e"),
    (10, "hostile_callers", "21e109a7ce6a1fcc7d4542da9d37c1cbca461e5c927c22e7ed2809bf72f63610"),
    (11, "worker_registry", "1edccfc311829ac233adb13b364f0703492caefa0d8fed9e99ed2469dd510603"),
    (12, "type_patterns", "220f49007b3c3cccb852f6d661cd3b6f776a88dbbe09c9516d682e4b13a56973"),
)
# All twelve applied give the schema of these folded files, except the functions of REPLAYED,
# which gained the filter's newer_than and payload path: a conversion drops and re-creates those.
PRERELEASE_FOLDED_VERSIONS = (1, 2, 3, 4, 5)
PRERELEASE_REPLAYED_VERSION = 4

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


@functools.cache  # resolved once: the migrations collector loads them at every refresh and scrape
def default_migrations_dir() -> Path:
    return Path(str(resources.files("pgconsole.schema") / "migrations"))


# Parsed migration files by directory, reused while every file's name, size and mtime are the same:
# the migrations collector compares them with the database on every console refresh and scrape.
_LOADED: dict[str, tuple[tuple[tuple[str, int, int], ...], list[Migration]]] = {}


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or default_migrations_dir()
    # os.scandir, not Path.iterdir and Path.stat: cheaper, and this runs at every refresh and scrape
    with os.scandir(directory) as it:
        entries = sorted((e for e in it if _FILE_RE.match(e.name)), key=lambda e: e.name)
    key = tuple((e.name, (st := e.stat()).st_size, st.st_mtime_ns) for e in entries)
    cached = _LOADED.get(str(directory))
    if cached is not None and cached[0] == key:
        return list(cached[1])
    found = _parse_migrations(directory, [Path(e.path) for e in entries])
    _LOADED[str(directory)] = (key, found)
    return list(found)


def _parse_migrations(directory: Path, paths: list[Path]) -> list[Migration]:
    found: list[Migration] = []
    for path in paths:
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


def _read_applied(conn: psycopg.Connection[Any], table_exists: bool | None = None) -> list[AppliedMigration]:
    """The history table's rows; ``table_exists`` when the caller already knows (one round trip less)."""
    if table_exists is None:
        row = conn.execute("SELECT to_regclass('pgconsole.schema_migrations') IS NOT NULL").fetchone()
        table_exists = bool(row and row[0])
    if not table_exists:
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


def _prerelease_rows(applied: list[AppliedMigration]) -> list[AppliedMigration]:
    names = {(v, n) for v, n, _ in PRERELEASE_HISTORY}
    return [a for a in applied if (a.version, a.name) in names]


def is_convertible_prerelease(applied: list[AppliedMigration]) -> bool:
    """All twelve pre-release files applied, unedited, and nothing else."""
    return [(a.version, a.name, a.checksum) for a in applied] == list(PRERELEASE_HISTORY)


def prerelease_problem(applied: list[AppliedMigration]) -> str:
    old = _prerelease_rows(applied)
    first, last = PRERELEASE_HISTORY[0], PRERELEASE_HISTORY[-1]
    how = (
        "or convert it in place, keeping its jobs: `pgconsole migrate --convert-prerelease`"
        if is_convertible_prerelease(applied)
        else f"(converting in place needs all {len(PRERELEASE_HISTORY)} applied, unedited)"
    )
    return (
        f"this database's pgconsole schema was built from pre-release migrations "
        f"({len(old)} of {first[0]:04d}_{first[1]}..{last[0]:04d}_{last[1]}), which this pgconsole replaced "
        "before its first release: recreate the schema with `DROP SCHEMA pgconsole CASCADE` "
        "(this deletes every job, log line and audit record), then `pgconsole setup` and `pgconsole migrate`, "
        + how
    )


def compare(applied: list[AppliedMigration], known: list[Migration]) -> MigrationStatus:
    if _prerelease_rows(applied):
        # Nothing is pending for such a database: applying today's files over it would fail.
        return MigrationStatus(
            applied=applied, pending=[], problems=[prerelease_problem(applied)], exit_code=EXIT_PRERELEASE
        )
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


def status(
    conn: psycopg.Connection[Any], directory: Path | None = None, table_exists: bool | None = None
) -> MigrationStatus:
    return compare(_read_applied(conn, table_exists), load_migrations(directory))


def _split_statements(sql_text: str) -> list[str]:
    """Split a no-transaction migration into statements.

    Such files hold plain statements (CREATE INDEX CONCURRENTLY ...), one per ';'-terminated
    line group, without function bodies; that restriction is documented in docs/migrations.md.
    """
    body = "\n".join(line for line in sql_text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


POOLED_MESSAGE = (
    "migrations need a session of their own (an advisory lock held across transactions) and this "
    "connection goes through transaction pooling: run `pgconsole migrate` with a --dsn that reaches "
    'the server directly (or declare pooler = "session" if the pooler runs in session mode)'
)


def refuse_transaction_pooling(conn: psycopg.Connection[Any]) -> None:
    """Exit with EXIT_POOLED before anything is locked or changed when ``conn`` goes through
    transaction pooling: the lock (and SET ROLE) would stay on a server connection the pooler
    hands to others, and the next transaction would run on another one without them."""
    if pooling(conn) is Pooler.TRANSACTION:
        raise MigrationError(POOLED_MESSAGE, EXIT_POOLED)


def _acquire_lock(conn: psycopg.Connection[Any], wait_seconds: float, say: Callable[[str], None]) -> None:
    refuse_transaction_pooling(conn)
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


_FUNCTION_NAME_RE = re.compile(r"^CREATE FUNCTION pgconsole\.([a-z_0-9]+)\(", re.MULTILINE)

# Drops the named functions of schema pgconsole (every signature). The names come through a
# transaction-local setting so that they stay values; the server formats each signature itself.
_DROP_FUNCTIONS_SQL = """
DO $drop$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'pgconsole'::regnamespace
              AND p.proname = ANY (pg_catalog.string_to_array(pg_catalog.current_setting('pgconsole.drop_functions'), ','))
  LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', f);
  END LOOP;
END
$drop$
"""


def convert_prerelease(
    conn: psycopg.Connection[Any],
    directory: Path | None = None,
    *,
    lock_wait_seconds: float = 60.0,
    ddl_lock_timeout: str = DEFAULT_DDL_LOCK_TIMEOUT,
    say: Callable[[str], None] = lambda _m: None,
) -> None:
    """Turn a database with all twelve pre-release files applied into one built from the folded
    files: re-create the functions of the replayed file and rewrite the history, in one transaction
    under the migration lock. Jobs, log lines and settings are untouched."""
    assert conn.autocommit, "the runner manages its own transactions"
    known = {m.version: m for m in load_migrations(directory)}
    missing = [v for v in PRERELEASE_FOLDED_VERSIONS if v not in known or not known[v].transactional]
    if missing:
        raise MigrationError(f"this pgconsole lacks the folded migrations {missing} needed to convert")
    replayed = known[PRERELEASE_REPLAYED_VERSION]
    check_set_up(conn)
    _acquire_lock(conn, lock_wait_seconds, say)
    try:
        _become_owner(conn)
        applied = _read_applied(conn)
        if not _prerelease_rows(applied):
            raise MigrationError("nothing to convert: this database has no pre-release migration history")
        if not is_convertible_prerelease(applied):
            raise MigrationError(prerelease_problem(applied), EXIT_PRERELEASE)
        started = time.monotonic()
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (ddl_lock_timeout,))
                names = sorted(set(_FUNCTION_NAME_RE.findall(replayed.sql)))
                conn.execute("SELECT set_config('pgconsole.drop_functions', %s, true)", (",".join(names),))
                conn.execute(_DROP_FUNCTIONS_SQL)
                conn.execute(replayed.sql)  # type: ignore[arg-type]  # a trusted file shipped in the package
                conn.execute("DELETE FROM pgconsole.schema_migrations")
                elapsed = int((time.monotonic() - started) * 1000)
                for v in PRERELEASE_FOLDED_VERSIONS:
                    m = known[v]
                    conn.execute(_HISTORY_INSERT, (m.version, m.name, m.checksum, __version__, elapsed))
        except errors.LockNotAvailable:
            raise MigrationError(
                f"could not lock a table within lock_timeout={ddl_lock_timeout} (a long transaction holds it). "
                "Nothing was converted; retry when it ends.",
                EXIT_LOCK_TIMEOUT,
            ) from None
        except psycopg.Error as exc:
            if conn.broken:
                raise MigrationError(
                    f"connection lost during the conversion ({_one_line(exc)}); the server rolled it back",
                    EXIT_CONNECT,
                ) from None
            raise MigrationError(f"the conversion failed and was rolled back: {_one_line(exc)}") from None
        say(
            f"converted the pre-release history: re-created the functions of {replayed.filename} "
            f"and recorded {', '.join(known[v].filename for v in PRERELEASE_FOLDED_VERSIONS)}; no job was changed"
        )
    finally:
        try:
            conn.execute("RESET ROLE")
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
        except psycopg.Error:
            pass


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

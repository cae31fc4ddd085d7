"""Done-when: an edited or missing migration and a database from a newer pgconsole are refused with
distinct, documented exit codes; DDL lock waits are bounded; the no-transaction marker works;
--status, --sql and --dry-run behave (docs/migrations.md)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from pgconsole.schema.migrator import (
    EXIT_CHECKSUM,
    EXIT_LOCK_TIMEOUT,
    EXIT_NEWER_DATABASE,
    EXIT_NOT_SET_UP,
    EXIT_OK,
    load_migrations,
)
from tests.foundation.helpers import MIGRATOR, Result, SetUpDB, copy_migrations, run_main
from tests.pgcluster import Cluster

ALTER_SETTINGS = "ALTER TABLE pgconsole.settings ADD COLUMN note text;\n"
CONCURRENT_INDEX = """-- pgconsole:no-transaction
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
CREATE INDEX CONCURRENTLY settings_updated_at_idx ON pgconsole.settings (updated_at);
"""


def migrate(db: SetUpDB, directory: Path, *extra: str) -> Result:
    return run_main("migrate", "--dsn", db.dsn_as(MIGRATOR), "--migrations-dir", str(directory), *extra)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_edited_migration_is_refused_showing_both_checksums(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(tmp_path / "m", only=["0001_tables.sql"])
    assert migrate(setup_db, d).returncode == EXIT_OK
    applied_sha = sha(d / "0001_tables.sql")
    with (d / "0001_tables.sql").open("a") as fh:
        fh.write("-- an innocent-looking edit\n")
    edited_sha = sha(d / "0001_tables.sql")
    for mode in ((), ("--status",), ("--sql",)):
        r = migrate(setup_db, d, *mode)
        assert r.returncode == EXIT_CHECKSUM, (mode, r.stdout, r.stderr)
        assert applied_sha in r.stderr and edited_sha in r.stderr, r.stderr
        assert "0001_tables.sql" in r.stderr


def test_missing_migration_is_refused(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(
        tmp_path / "m",
        only=["0001_tables.sql"],
        extra={
            "0002_two.sql": "CREATE TABLE pgconsole.two (id int);\n",
            "0003_three.sql": "CREATE TABLE pgconsole.three (id int);\n",
        },
    )
    assert migrate(setup_db, d).returncode == EXIT_OK
    two_sha = sha(d / "0002_two.sql")
    (d / "0002_two.sql").unlink()
    r = migrate(setup_db, d)
    assert r.returncode == EXIT_CHECKSUM, r.stderr
    assert "0002_two" in r.stderr and "missing" in r.stderr and two_sha in r.stderr


def test_database_from_a_newer_pgconsole_is_refused(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(tmp_path / "m", only=["0001_tables.sql"], extra={"0002_two.sql": "SELECT 1;\n"})
    assert migrate(setup_db, d).returncode == EXIT_OK
    older = tmp_path / "older"
    shutil.copytree(d, older)
    (older / "0002_two.sql").unlink()  # this pgconsole knows only 0001
    for mode in ((), ("--status",)):
        r = migrate(setup_db, older, *mode)
        assert r.returncode == EXIT_NEWER_DATABASE, (mode, r.stderr)
        assert "newer" in r.stderr and "upgrade pgconsole" in r.stderr
    assert EXIT_NEWER_DATABASE != EXIT_CHECKSUM


def test_ddl_lock_timeout_exits_with_retry_message(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(tmp_path / "m", only=["0001_tables.sql"])
    assert migrate(setup_db, d).returncode == EXIT_OK
    (d / "0002_alter.sql").write_text(ALTER_SETTINGS)
    # Another session reads the table in an open transaction: ALTER TABLE must wait for it.
    with psycopg.connect(setup_db.superuser_dsn) as holder:
        holder.execute("LOCK TABLE pgconsole.settings IN ACCESS SHARE MODE")
        r = migrate(setup_db, d, "--ddl-lock-timeout", "300ms")
        assert r.returncode == EXIT_LOCK_TIMEOUT, (r.stdout, r.stderr)
        assert "0002_alter.sql" in r.stderr and "retry" in r.stderr.lower()
        assert len(r.stderr.strip().splitlines()) == 1
        holder.rollback()
    assert [v for v, _ in setup_db.history()] == [1]
    assert (
        setup_db.scalar(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'pgconsole.settings'::regclass"
            " AND attname = 'note'"
        )
        == 0
    )
    r = migrate(setup_db, d)
    assert r.returncode == EXIT_OK, r.stderr
    assert [v for v, _ in setup_db.history()] == [1, 2]


def test_no_transaction_marker_runs_create_index_concurrently(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(
        tmp_path / "m", only=["0001_tables.sql"], extra={"0002_concurrent_index.sql": CONCURRENT_INDEX}
    )
    assert not load_migrations(d)[1].transactional
    st = migrate(setup_db, d, "--status")
    assert "0002_concurrent_index.sql  (no transaction)" in st.stdout
    r = migrate(setup_db, d)
    assert r.returncode == EXIT_OK, r.stderr
    assert (
        setup_db.scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('pgconsole.settings_updated_at_idx')"
        )
        is True
    )
    assert (
        setup_db.scalar(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'pgconsole.settings_updated_at_idx'::regclass"
        )
        == "pgconsole_owner"
    )
    assert [v for v, _ in setup_db.history()] == [1, 2]


def test_status_lists_applied_and_pending(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(tmp_path / "m", only=["0001_tables.sql"])
    r = migrate(setup_db, d, "--status")
    assert r.returncode == EXIT_OK and r.stdout.splitlines() == ["pending  0001_tables.sql"], r.stdout
    assert migrate(setup_db, d).returncode == EXIT_OK
    (d / "0002_two.sql").write_text("SELECT 1;\n")
    lines = migrate(setup_db, d, "--status").stdout.splitlines()
    assert lines[0].startswith("applied  0001_tables  ") and lines[0].endswith(f"by {MIGRATOR}")
    assert lines[1:] == ["pending  0002_two.sql"]
    (d / "0002_two.sql").unlink()
    assert migrate(setup_db, d, "--status").stdout.splitlines()[-1] == "database is up to date"


def test_dry_run_changes_nothing_not_even_the_history_table(setup_db: SetUpDB) -> None:
    def catalog() -> object:
        return setup_db.scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'pgconsole'"
        )

    before = catalog()
    r = run_main("migrate", "--dry-run", "--dsn", setup_db.dsn_as(MIGRATOR))
    assert r.returncode == EXIT_OK, r.stderr
    shipped = load_migrations()
    assert r.stdout.splitlines() == [
        f"would apply  {m.filename}" + ("" if m.transactional else "  (no transaction)") for m in shipped
    ]
    assert setup_db.scalar("SELECT to_regclass('pgconsole.schema_migrations')") is None
    assert catalog() == before == 0


def _psql(cluster: Cluster) -> Path:
    return cluster.server.bin_dir / "psql"


def test_sql_output_applied_by_psql_leaves_a_migrated_database(setup_db: SetUpDB, tmp_path: Path) -> None:
    """--sql is for teams that apply SQL with their own tool: the result must equal `migrate`."""
    d = copy_migrations(
        tmp_path / "m", only=["0001_tables.sql"], extra={"0002_concurrent_index.sql": CONCURRENT_INDEX}
    )
    r = migrate(setup_db, d, "--sql")
    assert r.returncode == EXIT_OK, r.stderr
    assert (
        setup_db.scalar("SELECT to_regclass('pgconsole.schema_migrations')") is None
    )  # printing changes nothing
    script = tmp_path / "pending.sql"
    script.write_text(r.stdout)
    script.chmod(0o644)
    psql = _psql(setup_db.cluster)
    if not psql.exists():
        pytest.skip(f"no psql in {psql.parent}")
    run = subprocess.run(
        [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", setup_db.dsn_as(MIGRATOR), "-f", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    st = migrate(setup_db, d, "--status")
    assert st.returncode == EXIT_OK and st.stdout.splitlines()[-1] == "database is up to date", (
        st.stdout + st.stderr
    )
    assert (
        setup_db.scalar(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'pgconsole.settings'::regclass"
        )
        == "pgconsole_owner"
    )


def test_migrate_before_setup_says_run_setup(pg: Cluster) -> None:
    name = pg.empty_database()
    try:
        r = run_main("migrate", "--dsn", pg.dsn(name))
        assert r.returncode == EXIT_NOT_SET_UP, r.stderr
        assert "pgconsole setup" in r.stderr and len(r.stderr.splitlines()) == 1
    finally:
        pg.drop_database(name)


def test_failing_migration_is_rolled_back_whole_with_one_line(setup_db: SetUpDB, tmp_path: Path) -> None:
    d = copy_migrations(
        tmp_path / "m",
        only=["0001_tables.sql"],
        extra={
            "0002_broken.sql": "CREATE TABLE pgconsole.before_error (id int);\nCREATE TABLE pgconsole.x (id int,\n  oops);\n",
        },
    )
    r = migrate(setup_db, d)
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1 and "0002_broken.sql failed and was rolled back" in r.stderr, (
        r.stderr
    )
    assert setup_db.scalar("SELECT to_regclass('pgconsole.before_error')") is None
    assert [v for v, _ in setup_db.history()] == [1]  # 0001 committed on its own, 0002 not at all

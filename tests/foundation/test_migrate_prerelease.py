"""A database built from the pre-release migration files (tests/fixtures/prerelease_migrations: the
twelve files shipped before they were folded into today's) is told, in one line and with its own
exit code, that it must be recreated; one with all twelve applied can be converted in place, and
then has the catalog a fresh database has (docs/migrations.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgconsole.schema.migrator import (
    EXIT_OK,
    EXIT_PRERELEASE,
    PRERELEASE_HISTORY,
    apply,
    load_migrations,
)
from pgconsole.schema.setup import run_setup
from tests.foundation.helpers import MIGRATOR, SetUpDB, cli, set_up_database
from tests.pgcluster import Cluster

PRERELEASE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "prerelease_migrations"

# What a database's pgconsole schema consists of, for "nothing changed" and "same as fresh".
CATALOG_SQL = """
SELECT 'fn ' || p.oid::regprocedure::text || ' ' || pg_get_functiondef(p.oid) || ' '
       || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(p.proacl) a), '')
       || ' ' || coalesce(array_to_string(p.proconfig, ','), '')
  FROM pg_proc p WHERE p.pronamespace = 'pgconsole'::regnamespace
UNION ALL
SELECT 'rel ' || c.relname || ' ' || coalesce(array_to_string(c.reloptions, ','), '') || ' '
       || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(c.relacl) a), '')
  FROM pg_class c WHERE c.relnamespace = 'pgconsole'::regnamespace
UNION ALL
SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'pgconsole'::regnamespace
UNION ALL
SELECT 'idx ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relnamespace = 'pgconsole'::regnamespace
UNION ALL
SELECT 'trg ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'pgconsole'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'pol ' || tablename || ' ' || policyname || ' ' || roles::text || ' ' || cmd || ' '
       || coalesce(qual, '') || ' ' || coalesce(with_check, '')
  FROM pg_policies WHERE schemaname = 'pgconsole'
UNION ALL
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' '
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'pgconsole'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1
"""


def catalog(db: SetUpDB) -> list[str]:
    with db.admin() as conn:
        return [r[0] for r in conn.execute(CATALOG_SQL).fetchall()]


def history(db: SetUpDB) -> list[tuple[int, str, str]]:
    with db.admin() as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                "SELECT version, name, checksum FROM pgconsole.schema_migrations ORDER BY version"
            ).fetchall()
        ]


def build_prerelease(db: SetUpDB, tmp: Path, upto: int = len(PRERELEASE_HISTORY)) -> None:
    """Apply the first ``upto`` pre-release files with the runner, as an installation did then."""
    target = tmp / f"prerelease-{db.name}"
    target.mkdir()
    for path in sorted(PRERELEASE_DIR.glob("*.sql"))[:upto]:
        (target / path.name).write_bytes(path.read_bytes())
    with db.admin() as conn:
        apply(conn, target)


def migrate_cli(db: SetUpDB, *extra: str) -> Any:
    return cli("migrate", "--dsn", db.dsn_as(MIGRATOR), *extra)


def test_the_recorded_history_is_the_fixture_files_checksummed_as_the_runner_does() -> None:
    assert [(m.version, m.name, m.checksum) for m in load_migrations(PRERELEASE_DIR)] == list(
        PRERELEASE_HISTORY
    )
    for path in PRERELEASE_DIR.glob("*.sql"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in {c for _, _, c in PRERELEASE_HISTORY}


@pytest.mark.parametrize("upto", [12, 9])
def test_a_prerelease_database_gets_one_line_and_its_own_exit_code_and_is_left_alone(
    setup_db: SetUpDB, tmp_path: Path, upto: int
) -> None:
    build_prerelease(setup_db, tmp_path, upto)
    with setup_db.admin() as conn:
        conn.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('old', '{}')")
    before = (history(setup_db), catalog(setup_db))
    for mode in ((), ("--status",), ("--dry-run",), ("--sql",)):
        r = migrate_cli(setup_db, *mode)
        assert r.returncode == EXIT_PRERELEASE, (mode, r.stdout, r.stderr)
        assert r.stdout == "" and len(r.stderr.splitlines()) == 1, (mode, r.stdout, r.stderr)
        line = r.stderr
        assert "pre-release migrations" in line and f"({upto} of 0001_meta..0012_type_patterns)" in line
        assert "DROP SCHEMA pgconsole CASCADE" in line and "deletes every job" in line
        assert "pgconsole setup" in line and "Traceback" not in line
        assert ("--convert-prerelease" in line) == (upto == 12), line
    assert (history(setup_db), catalog(setup_db)) == before
    assert setup_db.scalar("SELECT count(*) FROM pgconsole.jobs") == 1


def test_a_partial_prerelease_history_is_not_converted(setup_db: SetUpDB, tmp_path: Path) -> None:
    build_prerelease(setup_db, tmp_path, 11)
    before = (history(setup_db), catalog(setup_db))
    r = migrate_cli(setup_db, "--convert-prerelease")
    assert r.returncode == EXIT_PRERELEASE and len(r.stderr.splitlines()) == 1, r
    assert "needs all 12 applied" in r.stderr
    assert (history(setup_db), catalog(setup_db)) == before


def test_the_advice_to_recreate_works(setup_db: SetUpDB, tmp_path: Path) -> None:
    build_prerelease(setup_db, tmp_path, 5)
    with psycopg.connect(setup_db.dsn_as(MIGRATOR), autocommit=True) as conn:
        conn.execute("DROP SCHEMA pgconsole CASCADE")  # the migrator may: it is a member of the owner
    with setup_db.admin() as conn:
        run_setup(conn)
    r = migrate_cli(setup_db)
    assert r.returncode == EXIT_OK, r.stderr
    assert [(v, n) for v, n, _ in history(setup_db)] == [(m.version, m.name) for m in load_migrations()]


def test_converting_all_twelve_keeps_the_jobs_and_gives_the_catalog_of_a_fresh_database(
    pg: Cluster, tmp_path: Path
) -> None:
    old, fresh = set_up_database(pg), set_up_database(pg)
    try:
        build_prerelease(old, tmp_path)
        with old.admin() as conn:
            conn.execute(
                "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'old', jsonb_build_object('n', g)"
                " FROM generate_series(1, 5) g"
            )
            jobs_before = conn.execute("SELECT id, payload FROM pgconsole.jobs ORDER BY id").fetchall()
        with fresh.admin() as conn:
            apply(conn)
        assert catalog(old) != catalog(fresh)  # the filter functions differ before the conversion

        r = migrate_cli(old, "--convert-prerelease")
        assert r.returncode == EXIT_OK, r.stderr
        # the five files are recorded by the conversion; the later ones are applied after it
        later = [m for m in load_migrations() if m.version > 5]
        after = f"applied {len(later)} migration(s)" if later else "database is up to date"
        assert "converted the pre-release history" in r.stdout and after in r.stdout, r.stdout
        assert catalog(old) == catalog(fresh)
        assert [(v, n, c) for v, n, c in history(old)] == [(v, n, c) for v, n, c in history(fresh)]
        with old.admin() as conn:
            assert (
                conn.execute("SELECT id, payload FROM pgconsole.jobs ORDER BY id").fetchall() == jobs_before
            )
        # ... and the new filter works on the converted database, as the operator.
        with psycopg.connect(old.dsn_as("pgconsole_operator"), autocommit=True) as op:
            row = op.execute(
                "SELECT pgconsole.count_jobs_matching(NULL, p_payload_path => '{n}', p_payload_path_value => '3')"
            ).fetchone()
            assert row == (1,)
        again = migrate_cli(old, "--convert-prerelease")
        assert again.returncode != EXIT_OK and "nothing to convert" in again.stderr, again
        assert migrate_cli(old).returncode == EXIT_OK
    finally:
        pg.drop_database(old.name)
        pg.drop_database(fresh.name)

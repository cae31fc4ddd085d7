"""`pgconsole setup`: idempotent, the roles can do what docs/roles.md says and no more."""

from __future__ import annotations

import re
import threading

import psycopg
import pytest
from psycopg import errors

from pgconsole.schema.setup import run_setup
from tests.foundation.helpers import MIGRATOR, REPO, SetUpDB, run_main
from tests.pgcluster import Cluster


def test_documented_sql_is_what_setup_prints() -> None:
    doc = (REPO / "docs" / "roles.md").read_text()
    documented = re.search(r"## The SQL\n\n```sql\n(.*?)```", doc, re.S)
    assert documented is not None
    printed = run_main("setup", "--print").stdout
    strip = lambda s: [ln for ln in s.splitlines() if ln.strip() and not ln.startswith("-- PostgreSQL 14")]  # noqa: E731
    assert strip(documented.group(1)) == strip(printed)


def test_setup_is_idempotent_and_concurrent_setups_do_not_race(pg: Cluster) -> None:
    name = pg.empty_database()
    try:
        r = run_main("setup", "--dsn", pg.dsn(name))
        assert r.returncode == 0, r.stderr
        errors_seen: list[BaseException] = []

        def again() -> None:
            try:
                with pg.admin(name) as conn:
                    run_setup(conn)
            except BaseException as exc:  # noqa: BLE001
                errors_seen.append(exc)

        threads = [threading.Thread(target=again) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors_seen
    finally:
        pg.drop_database(name)


def test_setup_without_privilege_is_one_clear_line(setup_db: SetUpDB) -> None:
    r = run_main("setup", "--dsn", setup_db.dsn_as("pgconsole_readonly"))
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1 and "setup --print" in r.stderr


def test_roles_can_do_what_the_docs_say_and_no_more(setup_db: SetUpDB) -> None:
    assert run_main("migrate", "--dsn", setup_db.dsn_as(MIGRATOR)).returncode == 0
    with setup_db.admin() as admin:
        admin.execute("INSERT INTO pgconsole.settings (key, value) VALUES ('test.k', '1')")
    # The schema and its objects belong to the NOLOGIN owner.
    assert setup_db.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'pgconsole_owner'") is False
    assert (
        setup_db.scalar("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'pgconsole'")
        == "pgconsole_owner"
    )
    assert (
        setup_db.scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'pgconsole' AND pg_get_userbyid(c.relowner) <> 'pgconsole_owner'"
        )
        == 0
    )

    with psycopg.connect(setup_db.dsn_as("pgconsole_readonly"), autocommit=True) as ro:
        assert ro.execute(
            "SELECT pg_has_role('pg_read_all_stats', 'USAGE'), pg_has_role('pg_read_all_settings', 'USAGE'),"
            " current_setting('statement_timeout'), current_setting('default_transaction_read_only')"
        ).fetchone() == (True, True, "5s", "on")
        assert ro.execute("SELECT value FROM pgconsole.settings WHERE key = 'test.k'").fetchone() == (1,)
        with pytest.raises(errors.ReadOnlySqlTransaction):
            ro.execute("UPDATE pgconsole.settings SET value = '2'")
        with pytest.raises(errors.InsufficientPrivilege):
            ro.execute("SET default_transaction_read_only = off")
            ro.execute("UPDATE pgconsole.settings SET value = '2'")
        with pytest.raises(errors.InsufficientPrivilege):
            ro.execute("CREATE TABLE pgconsole.nope ()")

    with psycopg.connect(setup_db.dsn_as("pgconsole_operator"), autocommit=True) as op:
        assert op.execute(
            "SELECT pg_has_role('pgconsole_readonly', 'MEMBER'), current_setting('statement_timeout')"
        ).fetchone() == (True, "30s")
        with pytest.raises(errors.InsufficientPrivilege):
            op.execute("DELETE FROM pgconsole.settings")

    with psycopg.connect(setup_db.dsn_as("pgconsole_app"), autocommit=True) as app:
        assert app.execute(
            "SELECT pg_has_role('pgconsole_owner', 'MEMBER'), current_setting('statement_timeout')"
        ).fetchone() == (False, "30s")
        with pytest.raises(errors.InsufficientPrivilege):
            app.execute("ALTER TABLE pgconsole.settings ADD COLUMN x int")

    with psycopg.connect(setup_db.dsn_as(MIGRATOR), autocommit=True) as mig:
        assert mig.execute(
            "SELECT pg_has_role('pgconsole_owner', 'MEMBER'), current_setting('lock_timeout')"
        ).fetchone() == (True, "5s")
        with pytest.raises(errors.InsufficientPrivilege):
            mig.execute("CREATE SCHEMA elsewhere")

"""The fixtures give a migrated database that the least-privileged roles can reach."""

import psycopg

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities


def test_template_is_migrated_and_roles_log_in(db):
    with psycopg.connect(db.dsn_as("pgconsole_readonly")) as conn:
        caps = read_capabilities(conn)
        assert caps.current_user == "pgconsole_readonly"
        assert caps.can_read_all_stats
        assert conn.execute("SELECT count(*) FROM pgconsole.schema_migrations").fetchone()[0] >= 1


def test_factory_sets_application_name_and_timeouts(db):
    conn = connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
    try:
        row = conn.execute(
            "SELECT current_setting('application_name'), current_setting('statement_timeout'),"
            " current_setting('jit'), current_setting('lock_timeout')"
        ).fetchone()
        assert row == ("pgconsole", "5s", "off", "1s")
    finally:
        conn.close()

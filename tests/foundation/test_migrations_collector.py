"""The migrations collector on a database set up but not migrated yet: no history table, every
shipped migration pending (its probe, read ahead with the snapshot, says the table is missing)."""

from __future__ import annotations

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor.snapshot import take_snapshot
from pgconsole.schema.migrator import load_migrations
from tests.foundation.helpers import SetUpDB


def test_a_database_without_history_has_every_migration_pending(setup_db: SetUpDB) -> None:
    with connect(setup_db.superuser_dsn, Purpose.DASHBOARD) as conn:
        snap = take_snapshot(conn, read_capabilities(conn), only={"server", "connections", "migrations"})
    assert snap.state("migrations").status == "ok", snap.state("migrations")
    assert snap.migrations is not None
    assert snap.migrations.applied == 0 and snap.migrations.latest_applied is None
    assert snap.migrations.pending == [m.filename for m in load_migrations()]
    assert snap.migrations.problems == []

"""The console over several profiles (issue 18 item 5): the profile's name in the header, switched
from the palette's command or the key T, each target's custom checks in the banner; against two
real databases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import Static

from pgconsole.commands.tui import source_for, switchable_targets
from pgconsole.config import load_settings
from pgconsole.tui.app import PgConsoleApp
from tests.exporter.helpers import write_config
from tests.tui.helpers import plain, until

if TYPE_CHECKING:
    from tests.pgcluster import TestDB

BACKLOG = """
[profiles.{p}.checks.custom.backlog]
sql = "SELECT count(*) FROM pgconsole.jobs WHERE status = 'pending'"
warn = 1
crit = 100
"""


async def test_switch_target_from_key_and_palette(db18: TestDB, tmp_path: Path) -> None:
    other = db18.cluster.new_database()
    try:
        with db18.cluster.admin(other) as a:
            a.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('email', '{}')")
        cfg = write_config(
            tmp_path / "c.toml",
            {
                "first": {"dsn": db18.dsn_as("pgconsole_readonly")},
                "second": {"dsn": db18.cluster.dsn(other, "pgconsole_readonly")},
            },
        )
        cfg.write_text(cfg.read_text() + BACKLOG.format(p="second"))

        def load(name: str | None) -> object:
            return load_settings({}, config_path=str(cfg), profile=name)

        first = load("first")
        choices = switchable_targets([first], load)  # type: ignore[arg-type]
        assert list(choices) == ["first", "second"]
        app = PgConsoleApp(source_for(first), refresh=0.5, targets=choices, target="first")
        async with app.run_test(size=(140, 40)) as pilot:
            top = app.screen.query_one(".topbar", Static)
            await until(pilot, lambda: db18.name in plain(top) and "first" in plain(top), what="first header")
            await until(pilot, lambda: app.health, what="first health")
            assert not any(c.name == "custom.backlog" for c in app.health)

            await pilot.press("T")
            await until(pilot, lambda: other in plain(top) and "second" in plain(top), what="second header")
            backlog = await until(
                pilot,
                lambda: next((c for c in app.health if c.name == "custom.backlog"), None),
                what="the second target's custom check in the banner",
            )
            assert backlog.status.word == "warning"
            assert db18.name not in plain(top)

            # The palette offers the other target (and not the current one).
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Switch target: first" in titles and "Switch target: second" not in titles
            await pilot.press("ctrl+p")
            await pilot.press(*"Switch target: first")
            await pilot.pause(0.5)  # the palette's search runs in a worker
            await pilot.press("enter")
            await until(
                pilot, lambda: db18.name in plain(top) and "first" in plain(top), what="back to first"
            )
    finally:
        db18.cluster.drop_database(other)

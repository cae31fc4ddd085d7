"""Faults for real: the console's backend is terminated in the middle of a refresh, and a refresh
that takes 2 s on the server must not delay a keypress (the 200 ms bound of issue #5)."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from textual import events
from textual.widgets import Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.models import OverviewData
from pgconsole.tui.source import PgSource
from tests.tui.helpers import plain, until

SIZE = (140, 40)


class SlowSource(PgSource):
    """A real source whose overview refresh first sleeps on the server (pg_sleep), so the refresh is
    really in flight on the dashboard connection while the test acts."""

    sleep_s = 2.0

    async def overview(self) -> OverviewData:
        await self.session.call(lambda conn: conn.execute("SELECT pg_sleep(%s)", (self.sleep_s,)))
        return await super().overview()


async def test_killed_connection_mid_refresh_shows_banner_and_recovers(db18: Any) -> None:
    source = SlowSource(db18.dsn_as("pgconsole_operator"))
    source.sleep_s = 1.5
    app = PgConsoleApp(source, refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.refreshes >= 1, what="first refresh")
        generation = source.session.generation
        # wait until the refresh is sleeping on the server, then kill the console's backend
        with db18.admin() as admin:
            await until(
                pilot,
                lambda: (
                    admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgconsole' "
                        "AND query LIKE 'SELECT pg_sleep%%' AND state = 'active'"
                    ).fetchone()[0]
                    == 1
                ),
                what="refresh in flight",
            )
            killed = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'pgconsole'"
            ).fetchone()
            assert killed is not None and killed[0] >= 1
        await until(pilot, lambda: app.db_error, what="banner")
        banner = plain(screen.query_one(".banner", Static))
        assert "database unreachable" in banner and "terminat" in banner.lower()
        assert "pw-pgconsole_operator" not in banner  # no password on screen
        before = screen.refreshes
        await until(
            pilot, lambda: not app.db_error and screen.refreshes > before, timeout=20, what="recovery"
        )
        assert source.session.generation > generation, "a new connection was opened"
        assert app.is_running
        await pilot.press("q")
    assert app.return_code == 0


KEYS = ("minus", "plus", "minus", "plus", "minus")  # net effect: the interval doubles once


async def test_keypress_handled_within_200ms_while_refresh_takes_2s(db18: Any) -> None:
    """Five keys, spaced, all sent and handled while one refresh sleeps on the server. Latency is
    measured from the moment the key reaches the app (the driver's ``send_message``, where a real
    terminal's input thread hands it over) to the action handler, so pilot's own waiting is not
    counted. The median must be <= 200 ms; every key must be handled before the refresh ends, and
    the event loop must never stall for anything like the refresh (a blocked loop would delay every
    key by up to the full sleep). The first key after start carries Textual's one-time setup (70-400 ms
    under load, then 1-2 ms per key), which is why the bound is on the median."""
    source = SlowSource(db18.dsn_as("pgconsole_operator"))
    source.sleep_s = (
        3.0  # longer than 2 s so that five spaced keys fit inside one refresh on a loaded machine
    )
    app = PgConsoleApp(source, refresh=2.0)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        with db18.admin() as admin:
            await until(
                pilot,
                lambda: (
                    admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgconsole' "
                        "AND query LIKE 'SELECT pg_sleep%%' AND state = 'active'"
                    ).fetchone()[0]
                    == 1
                ),
                what="slow refresh",
            )
        assert screen.refreshes == 0, "the refresh is still running"

        sent: list[float] = []
        handled: list[tuple[float, int]] = []  # (time, refreshes completed at that moment)
        driver = app._driver
        assert driver is not None
        original_send = driver.send_message

        def timed_send(message: Any) -> None:
            if isinstance(message, events.Key):
                sent.append(time.perf_counter())
            original_send(message)

        driver.send_message = timed_send  # type: ignore[method-assign]
        for name in ("action_slower", "action_faster"):
            original = getattr(app, name)

            def timed(original: Any = original) -> None:
                handled.append((time.perf_counter(), screen.refreshes))
                original()

            setattr(app, name, timed)

        lags: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t - 0.01)

        beat = asyncio.create_task(heartbeat())
        before = app.refresh_interval
        for key in KEYS:
            await pilot.press(key)
            await asyncio.sleep(0.1)
        await until(pilot, lambda: len(handled) == len(KEYS), what="every key handled")
        in_flight = screen.refreshes == 0
        await until(pilot, lambda: screen.refreshes >= 1, what="the slow refresh completes afterwards")
        stop.set()
        await beat
        in_order = [h - s for (h, _), s in zip(handled, sent, strict=True)]
        latencies = sorted(in_order)
        median = statistics.median(latencies)
        print(
            f"keypress latency while a {source.sleep_s:g} s refresh ran: median {median * 1000:.1f} ms, "
            f"in order {[round(x * 1000, 1) for x in in_order]} ms; event-loop lag max {max(lags) * 1000:.0f} ms, "
            f"median {statistics.median(lags) * 1000:.1f} ms over {len(lags)} beats"
        )
        assert len(sent) == len(KEYS)
        assert app.refresh_interval == before * 2, "each key reached its action, in order"
        assert in_flight and all(n == 0 for _, n in handled), (
            "all keys were handled while the refresh was in flight"
        )
        assert median <= 0.2, f"median keypress latency {median * 1000:.0f} ms"
        # A refresh on the loop would stall it for the whole 3 s sleep; the first key's one-time setup
        # in Textual was measured at up to ~0.7 s of lag on 2 loaded cores (load 4), hence 1.5 s.
        assert max(lags) < 1.5, f"the event loop stalled {max(lags) * 1000:.0f} ms during the refresh"
        await pilot.press("q")
    assert app.return_code == 0

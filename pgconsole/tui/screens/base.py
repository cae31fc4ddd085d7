"""The refresh loop every live screen shares.

One async worker per screen (``exclusive``, group "refresh") fetches, renders, then schedules the
next run with a one-shot timer, so a slow query never overlaps the next one (dolphie's chain).
The loop stops when the screen is suspended (another mode, or a modal on top) and restarts on
resume; it never runs on the input path, and database errors go to the banner, never out of the app.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer

from pgconsole.db.redact import redact
from pgconsole.db.session import SourceError
from pgconsole.tui.widgets.footer import PgFooter
from pgconsole.tui.widgets.topbar import HealthBanner, TopBar

if TYPE_CHECKING:
    from pgconsole.tui.app import PgConsoleApp
    from pgconsole.tui.source import DataSource


class LiveScreen(Screen[None]):
    """Subclasses implement :meth:`fetch` (await the source) and :meth:`show` (update widgets)."""

    _timer: Timer | None = None
    refreshes = 0  # completed refreshes (tests wait on this)
    timed = False
    """The refresh under way was started by the timer, not by a key, an action or a resume: a
    screen may serve what cannot have changed from what it holds (the Jobs screen's history pages)."""

    @property
    def pg_app(self) -> PgConsoleApp:
        return self.app  # type: ignore[return-value]

    @property
    def source(self) -> DataSource:
        return self.pg_app.source

    def compose_chrome_top(self) -> ComposeResult:
        yield TopBar(classes="topbar")
        yield HealthBanner(classes="banner")

    def compose_chrome_bottom(self) -> ComposeResult:
        yield PgFooter()

    async def fetch(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        self.kick()

    def on_screen_suspend(self) -> None:
        self._stop_timer()
        self.workers.cancel_group(self, "refresh")

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def kick(self) -> None:
        """Refresh now (and restart the chain)."""
        self._stop_timer()
        self.timed = False
        self._refresh()

    def _tick(self) -> None:
        self._timer = None
        self.timed = True
        self._refresh()

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def _refresh(self) -> None:
        app = self.pg_app
        try:
            if app.header_info is None:
                await app.load_header()
            data = await self.fetch()
        except asyncio.CancelledError:
            raise  # superseded or screen hidden: no reschedule
        except SourceError as exc:
            if exc.kind == "auth":
                app.end_on_login_refused(str(exc))  # retrying a refused login cannot help
                return
            app.db_error_kind = exc.kind
            app.db_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one panel must not end the session
            app.db_error_kind = "other"
            app.db_error = redact(f"{exc.__class__.__name__}: {exc}")
        else:
            app.db_error = ""
            self.show(data)
            self.refreshes += 1
        self._schedule_next()

    def _schedule_next(self) -> None:
        app = self.pg_app
        if self.is_current and not app.paused and app.is_running:
            self._timer = self.set_timer(app.refresh_interval, self._tick)

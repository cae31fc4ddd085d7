"""The Jobs screen re-queries only what can change (issue 20 item 3).

The first page is re-queried at every refresh (new and changed jobs appear there). A later page
and a page that timed out are re-queried by the timer only every HISTORY_PAGE_REFRESH_S; a key,
a filter, a sort or an action re-queries at once. Counted on a fake source's calls, waiting on
completed refreshes, not on time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.models import JobPage, JobQuery
from pgconsole.tui.screens import jobs as jobs_screen
from tests.tui.fakes import JOBS, FakeSource
from tests.tui.helpers import until


class CountingSource(FakeSource):
    def __init__(self, *, timed_out: bool = False, delay_s: float = 0.0) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []
        self.timed_out = timed_out
        self.delay_s = delay_s

    async def jobs_page(self, q: JobQuery, after: tuple[Any, str] | None) -> JobPage:
        self.calls.append((q.sort, after))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.timed_out:
            return JobPage(rows=[], timed_out=True, note="no page within 2s")
        return JobPage(rows=JOBS[:2] if after is None else JOBS[2:4], has_more=after is None)


async def _refreshes(pilot: Any, app: PgConsoleApp, n: int) -> None:
    start = app.screen.refreshes
    await until(pilot, lambda: app.screen.refreshes >= start + n, what=f"{n} refreshes")


async def test_first_page_every_refresh_later_pages_slower_keys_at_once() -> None:
    source = CountingSource()
    app = PgConsoleApp(source, refresh=0.05)  # type: ignore[arg-type]
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("2")
        await _refreshes(pilot, app, 1)
        before = len(source.calls)
        await _refreshes(pilot, app, 4)
        assert len(source.calls) >= before + 4, "page 1: every refresh queries"
        await pilot.press("n")  # a key: queried at once
        await until(pilot, lambda: source.calls[-1][1] is not None, what="page 2 queried")
        on_page_2 = len(source.calls)
        await _refreshes(pilot, app, 5)
        assert len(source.calls) == on_page_2, "page 2: the timer serves the page it holds"
        await pilot.press("o")  # a new sort: queried at once (back to its first page)
        await until(pilot, lambda: len(source.calls) > on_page_2, what="re-sorted page queried")
        assert source.calls[-1] == ("created_asc", None)
        await pilot.press("q")


async def test_a_timed_out_page_is_not_rerun_every_second(monkeypatch: Any) -> None:
    monkeypatch.setattr(jobs_screen, "HISTORY_PAGE_REFRESH_S", 3600.0)
    source = CountingSource(timed_out=True)
    app = PgConsoleApp(source, refresh=0.05)  # type: ignore[arg-type]
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("2")
        await _refreshes(pilot, app, 1)
        first = len(source.calls)
        await _refreshes(pilot, app, 5)
        assert len(source.calls) == first
        await pilot.press("q")


async def test_a_slow_first_page_is_not_rerun_every_refresh(monkeypatch: Any) -> None:
    monkeypatch.setattr(jobs_screen, "HISTORY_PAGE_REFRESH_S", 3600.0)
    source = CountingSource(delay_s=jobs_screen.SLOW_PAGE_S + 0.1)  # a filter no index serves
    app = PgConsoleApp(source, refresh=0.05)  # type: ignore[arg-type]
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("2")
        await _refreshes(pilot, app, 1)
        first = len(source.calls)
        await _refreshes(pilot, app, 4)
        assert len(source.calls) == first
        await pilot.press("f")  # a new filter: queried at once
        await until(pilot, lambda: len(source.calls) > first, what="the filtered page queried")
        await pilot.press("q")

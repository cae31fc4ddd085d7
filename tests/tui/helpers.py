"""Waiting helpers for Pilot tests: wait for the event a test needs (a condition, the app going
idle), never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable, Static


async def until(pilot: Any, cond: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``cond`` while the app runs; its first truthy value, or AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        await pilot.pause(0.05)  # the poll interval, not a guess at how long the app needs
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def idle(pilot: Any, what: str = "the app to go idle", timeout: float = 5.0) -> None:
    """Every message queued so far handled and every worker finished (a refresh, an action waiting
    on its confirmation). A test that checks something did NOT happen (no dialog after a refused
    key, nothing run after a "no") looks at the app once it has settled; a worker still running at
    the deadline (say an action left waiting on a dialog that should not be there) fails the test
    with its name and the screen on top."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        busy = [w for w in app.workers if not w.is_finished]
        if not busy:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            names = ", ".join(sorted({w.name or repr(w) for w in busy}))
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}: still running {names};"
                f" screen {type(app.screen).__name__}"
            )
        # shield: a timeout stops the wait, never the workers
        waiting = asyncio.gather(*(w.wait() for w in busy), return_exceptions=True)
        try:
            await asyncio.wait_for(asyncio.shield(waiting), left)
        except TimeoutError:
            pass


def plain(widget: Static) -> str:
    return str(widget.render())


def rows(table: DataTable[Any]) -> list[list[str]]:
    out = []
    for i in range(table.row_count):
        out.append([getattr(c, "plain", str(c)) for c in table.get_row_at(i)])
    return out

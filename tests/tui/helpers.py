"""Waiting helpers for Pilot tests: poll a condition while the app runs (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable, Static


async def until(pilot: Any, cond: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def plain(widget: Static) -> str:
    return str(widget.render())


def rows(table: DataTable[Any]) -> list[list[str]]:
    out = []
    for i in range(table.row_count):
        out.append([getattr(c, "plain", str(c)) for c in table.get_row_at(i)])
    return out


async def settle(delay: float = 0.05) -> None:
    await asyncio.sleep(delay)

"""Literal text for widgets: database values become ``rich.text.Text`` with control characters made
visible, so no value is ever parsed as markup or reaches the terminal as an escape sequence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rich.text import Text

from pgconsole.console.safe_text import cell, visible


def lit(value: object, width: int | None = None, style: str = "") -> Text:
    """One-line literal text for tables (truncated to ``width``)."""
    return Text(cell(value, width) if width else visible(value), style=style, no_wrap=True)


def block(value: object, style: str = "") -> Text:
    """Multi-line literal text for detail views (whole value, newlines kept)."""
    return Text(visible(value, multiline=True), style=style)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Ages are relative to this clock; snapshot tests pin it so that screens render identically.
clock: Callable[[], datetime] = _utcnow


def age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s / 60:.0f}m"
    if s < 86400:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def since(ts: datetime | None, now: datetime | None = None) -> str:
    if ts is None:
        return "–"
    now = now or clock()
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return age((now - ts) / timedelta(seconds=1))


def stamp(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "–"


def size(n: int | None) -> str:
    if n is None:
        return "–"
    f = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if f < 1024 or unit == "TB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{n} B"


def pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}%"


STATUS_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "unknown": "magenta",
                "failed": "red", "processing": "cyan", "pending": "yellow", "completed": "green",
                "cancelled": "dim", "expired": "dim", "missing": "red"}

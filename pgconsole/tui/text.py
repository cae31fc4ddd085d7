"""Literal text for widgets: database values become ``rich.text.Text`` with control characters made
visible, so no value is ever parsed as markup or reaches the terminal as an escape sequence."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rich.text import Text

from pgconsole.format import age, cell, pct, size, visible  # noqa: F401 - age/pct/size: for the screens


def lit(value: object, width: int | None = None, style: str = "") -> Text:
    """One-line literal text for tables (truncated to ``width``)."""
    return Text(cell(value, width) if width else visible(value), style=style, no_wrap=True)


def one_line(query: object) -> str:
    """Fold layout whitespace (spaces, newlines, tabs) for a table row; every other control character
    stays, for lit() to make visible. Detail panes show the text as it is."""
    return re.sub(r"[ \t\r\n]+", " ", str(query)).strip()


def heading(title: str, style: str = "bold") -> Text:
    """A section title styled as a span, not as the Text's base style: text appended after it keeps
    its own style instead of turning bold (``Text(title, style=...)`` styles everything appended)."""
    t = Text()
    t.append(title, style=style)
    return t


def block(value: object, style: str = "") -> Text:
    """Multi-line literal text for detail views (whole value, newlines kept)."""
    return Text(visible(value, multiline=True), style=style)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Ages are relative to this clock; snapshot tests pin it so that screens render identically.
clock: Callable[[], datetime] = _utcnow


def since(ts: datetime | None, now: datetime | None = None) -> str:
    if ts is None:
        return "–"
    now = now or clock()
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return age((now - ts) / timedelta(seconds=1))


def stamp(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "–"


def as_datetime(value: object) -> datetime | None:
    """A timestamp from a job row: a datetime, or its ISO text (JSON rows); None if neither."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return None


def stamp_ms(ts: datetime) -> str:
    """``2026-11-21 23:14:06.271 UTC``: milliseconds are enough to order events, UTC to compare hosts."""
    u = ts.astimezone(UTC)
    return f"{u:%Y-%m-%d %H:%M:%S}.{u.microsecond // 1000:03d} UTC"


def relative(ts: datetime, now: datetime | None = None) -> str:
    """``12s ago`` or ``in 5m`` (lease and expiry times lie ahead)."""
    delta = ((now or clock()) - ts) / timedelta(seconds=1)
    return f"{age(delta)} ago" if delta >= 0 else f"in {age(-delta)}"


def rest_width(table_width: int, used: list[int], minimum: int = 20) -> int:
    """Characters left for a DataTable's last column after the others (each cell has one space of
    padding either side, plus room for the vertical scrollbar), so it ends in an ellipsis instead of
    growing a horizontal scrollbar."""
    return max(minimum, table_width - sum(w + 2 for w in used) - 2 - 2)


STATUS_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "critical": "bold red",
    "unknown": "magenta",
    "failed": "red",
    "processing": "cyan",
    "pending": "yellow",
    "completed": "green",
    "cancelled": "dim",
    "expired": "dim",
    "missing": "red",
}

"""Text for people, in one place: database values made safe to show, durations, sizes.

Values from the database (payloads, errors, query text, application names) can hold ESC sequences
that would repaint the operator's terminal, or brackets that Rich would read as markup. The TUI
draws them as ``rich.text.Text`` (never markup) after :func:`visible`, which shows control
characters as glyphs; the CLI prints them through :func:`literal_text`, which escapes them
(``\x1b``), so a pipe or a log file gets plain ASCII escapes.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

# U+2400..U+241F are the "control pictures" for C0; ESC (0x1b) becomes ␛, DEL becomes ␡.
_C0 = {i: chr(0x2400 + i) for i in range(0x20)}
_C0[0x7F] = "\u2421"
# C1 controls (0x80-0x9f) have no pictures; show them as \x9b etc. (0x9b is a one-byte CSI).
_C1 = {i: f"\\x{i:02x}" for i in range(0x80, 0xA0)}
_TABLE_ONE_LINE = {**_C0, **_C1}
_TABLE_MULTI_LINE = {k: v for k, v in _TABLE_ONE_LINE.items() if k not in (0x0A, 0x09)}


def visible(value: object, *, multiline: bool = False) -> str:
    """``value`` as text with control characters replaced by visible glyphs.

    With ``multiline`` newlines and tabs are kept (detail views); otherwise they become ␊ and ␉ so
    that one value stays on one table row.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.translate(_TABLE_MULTI_LINE if multiline else _TABLE_ONE_LINE)


def cell(value: object, width: int = 60) -> str:
    """One table cell: visible, one line, cut to ``width`` characters with an ellipsis."""
    text = visible(value)
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text


def pretty_json(value: Any) -> str:
    """Indented JSON for detail views; control characters inside strings stay JSON-escaped
    (json.dumps writes \\u001b), and what is left is made visible anyway."""
    if value is None:
        return "null"
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    # ensure_ascii=False keeps accents readable; json.dumps already escapes C0 inside strings.
    return visible(text, multiline=True)


def literal_text(text: Any, limit: int = 80) -> str:
    """Database text for the CLI's output: control characters escaped, long values cut."""
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return s if len(s) <= limit else s[: limit - 1] + "…"


# -- durations --------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str, field: str = "older_than") -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w``; a bare number is refused (7 could mean seconds or
    days). ValueError names ``field``."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{field}: expected a duration like 90s, 30m, 12h, 7d (got {text!r})")
    if not m[2]:
        n = m[1]
        raise ValueError(f"{field}: {text.strip()!r} has no unit: write {n}d, {n}h, {n}m or {n}s")
    return timedelta(seconds=float(m[1]) * _UNITS[m[2]])


def age(seconds: float | None) -> str:
    """Compact, for a table cell: ``42s``, ``7m``, ``3.5h``, ``2.0d``."""
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


def duration(seconds: float) -> str:
    """Exact enough for a check's message: ``4.2s``, ``95s``, ``12min 5s``, ``3h 20min``."""
    s = int(round(seconds))
    if s < 120:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if s < 7200:
        return f"{s // 60}min {s % 60}s" if s % 60 else f"{s // 60}min"
    return f"{s // 3600}h {s % 3600 // 60}min"


def size(n: float | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 kB``, ``700.0 MB``."""
    if n is None:
        return "–"
    f = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(f) < 1024 or unit == "TB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{f:.1f} TB"


def pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}%"

"""Make database text safe to draw: every control character and escape sequence becomes visible.

Values from the database (payloads, errors, query text, application names) can hold ESC sequences
that would repaint the operator's terminal, or brackets that Rich would read as markup. The TUI
draws them as ``rich.text.Text`` (never markup), and passes them through :func:`visible` first so
that control characters show up as glyphs instead of acting.
"""

from __future__ import annotations

import json
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

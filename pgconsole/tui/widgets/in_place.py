"""Update widgets in place, and only where what they show changed.

A refresh that hands a widget the content it already shows still costs a repaint, and a
``Static.update`` with the default ``layout=True`` costs a layout pass of the whole screen, after
which every widget on it is painted again. These helpers skip the update when nothing changed and
ask for a layout only when the content may need another size, so a refresh repaints just
the widgets whose data moved. DataTable rows are updated cell by cell, by row key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static


def same(a: object, b: object) -> bool:
    """Whether two cells or contents would draw alike. Rich's ``Text ==`` compares only the
    characters and spans, not the base style or justification (a status turning from red to
    green would be "equal")."""
    if a is b:
        return True
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain, a._spans, a.style, a.justify, a.overflow, a.no_wrap, a.end) == (
            b.plain,
            b._spans,
            b.style,
            b.justify,
            b.overflow,
            b.no_wrap,
            b.end,
        )
    return type(a) is type(b) and a == b


def _needs_layout(widget: Static, old: Text, new: Text) -> bool:
    """Whether the new text may need another size: a widget whose height follows its content
    (``height: auto``) needs a layout pass when the number of rows it takes changes (a long line
    wraps: a changed age inside a wrapped message mostly does not)."""
    styles = widget.styles
    width_auto = styles.width is not None and styles.width.is_auto
    height_auto = styles.height is not None and styles.height.is_auto
    if not width_auto and not height_auto:
        return False
    width = widget.content_size.width
    if width_auto or width <= 0:
        return True
    return _rows(widget, old, width) != _rows(widget, new, width)


def _rows(widget: Static, text: Text, width: int) -> int:
    """How many rows ``text`` takes at ``width`` cells (wrapped as the widget wraps it)."""
    lines = text.split("\n", allow_blank=True)
    if all(line.cell_len <= width for line in lines):
        return len(lines)
    return len(text.wrap(widget.app.console, width))


def set_text(widget: Static, text: Text, *, layout: bool | None = None) -> bool:
    """Show ``text`` in ``widget`` unless it already shows exactly that; True when it was updated.

    ``layout`` None: a layout pass only when the text may need another size (a fixed-size widget
    such as a chart passes False)."""
    current = widget.content
    if isinstance(current, Text) and same(current, text):
        return False
    if layout is None:
        layout = not isinstance(current, Text) or _needs_layout(widget, current, text)
    widget.update(text, layout=layout)
    return True


def set_classes(widget: Any, wanted: str, among: Sequence[str]) -> None:
    """Of the mutually exclusive classes ``among``, give ``widget`` only ``wanted`` ("" for none),
    touching nothing when that is already so: every class change restyles the widget."""
    for name in among:
        if widget.has_class(name) != (name == wanted):
            widget.set_class(name == wanted, name)


Row = tuple[str, Sequence[Any]]


def _unique(keys: list[str]) -> list[str]:
    """A DataTable holds one row per key: a repeated key gets its occurrence number (``k#2``)."""
    seen: dict[str, int] = {}
    out = []
    for k in keys:
        n = seen[k] = seen.get(k, 0) + 1
        out.append(k if n == 1 else f"{k}#{n}")
    return out


def sync_rows(table: DataTable[Any], rows: Sequence[Row]) -> bool:
    """Make ``table`` hold ``rows`` ((key, cells) in order) with the least work: when the keys are the
    ones shown, in the same order, only the cells that differ are updated; rows that left are
    removed and new ones appended when that keeps the order; otherwise the rows are rebuilt.
    Columns are the caller's (``columns.apply``); a column change empties the table first. Returns
    True when the rows were rebuilt (a cursor kept by key must then be put back)."""
    keys = _unique([k for k, _cells in rows])
    rows = [(key, cells) for key, (_k, cells) in zip(keys, rows, strict=True)]
    shown = [str(k.value) for k in table.rows]
    column_keys = [c.key for c in table.ordered_columns]
    wanted = set(keys)
    kept = [k for k in shown if k in wanted]
    if kept != keys[: len(kept)]:
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        return True
    for key in shown:
        if key not in wanted:
            table.remove_row(key)
    for key, cells in rows[: len(kept)]:
        current = table.get_row(key)
        for column, old, new in zip(column_keys, current, cells, strict=True):
            if not same(old, new):
                table.update_cell(key, column, new)
    for key, cells in rows[len(kept) :]:
        table.add_row(*cells, key=key)
    return False

"""Column priorities for DataTables that must fit the terminal (80 columns is the SSH default).

Each column says how wide its content is, how narrow it may get, and how important it is. ``fit``
gives every column a width so that the row never grows a horizontal scrollbar: first the
shrinkable columns give up their slack, then the least important columns are dropped, and the
one flexible column (the error, the query, the message) takes whatever is left. ``apply`` rebuilds
the table's columns only when that choice changed, so a refresh at the same size keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.widgets import DataTable

CELL_PAD = 2  # DataTable's cell_padding (1) on either side
SCROLLBAR = 2  # room kept for the vertical scrollbar


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int  # the content's natural width (the widest cell)
    priority: int = 0  # 0: never dropped; higher numbers are dropped first
    minimum: int | None = None  # may shrink to this (None: never shrinks)
    flex: bool = False  # takes the width left over (one per table)
    short: str | None = None  # a shorter label, used when the table is tight


def fit(cols: list[Col], available: int) -> dict[str, int]:
    """Key -> width of the columns kept, in their order."""
    label = {c.key: c.label for c in cols}

    def natural(c: Col) -> int:
        return max(c.width, len(label[c.key]))

    def total(ws: dict[str, int]) -> int:
        return sum(w + CELL_PAD for w in ws.values()) + SCROLLBAR

    def start(c: Col) -> int:
        # The flexible column counts at its minimum: it takes what is left, and only when even its
        # minimum does not fit do the others shrink.
        n = natural(c)
        return max(min(n, c.minimum), len(label[c.key])) if c.flex and c.minimum is not None else n

    widths = {c.key: start(c) for c in cols}
    if total(widths) > available:  # tight: short labels first
        for c in cols:
            if c.short is not None:
                label[c.key] = c.short
        widths = {c.key: start(c) for c in cols}
    if total(widths) > available:  # then the shrinkable columns down to their minimum
        for c in cols:
            if c.minimum is not None:
                widths[c.key] = max(min(widths[c.key], c.minimum), len(label[c.key]))
    for c in sorted((c for c in cols if c.priority), key=lambda c: -c.priority):
        if total(widths) <= available:
            break
        del widths[c.key]  # then the least important columns go
    # Room left after the drops goes back to the shrunk columns (the last ones first: the id is
    # the first column and needs its full width least), then to the flexible one.
    for c in reversed(cols):
        if c.key in widths and not c.flex and c.minimum is not None:
            spare = available - total(widths)
            if spare <= 0:
                break
            widths[c.key] += max(0, min(spare, natural(c) - widths[c.key]))
    flex = next((c for c in cols if c.flex and c.key in widths), None)
    if flex is not None:
        rest = available - (total(widths) - widths[flex.key])
        widths[flex.key] = max(rest, widths[flex.key])
    return {c.key: widths[c.key] for c in cols if c.key in widths}


def labels(cols: list[Col], widths: dict[str, int]) -> dict[str, str]:
    """The label each kept column shows (its short one when the full one does not fit)."""
    return {
        c.key: c.label if len(c.label) <= widths[c.key] or c.short is None else c.short
        for c in cols
        if c.key in widths
    }


def apply(
    table: DataTable[Any], cols: list[Col], refit: Callable[[], object] | None = None
) -> dict[str, int]:
    """Fit ``cols`` to the table's width and (re)build its columns if the fit changed. Returns the
    widths; callers add only the cells of the kept columns, each cut to its width.

    ``refit`` (the screen's fill) runs again once the layout is done if the table's width then
    differs from the one used: a first refresh can come before the size classes (``-narrow``)
    have been applied, and the columns were fitted to a width the table no longer had."""
    width = table.size.width or table.app.size.width
    if refit is not None:

        def check() -> None:
            if table.size.width and table.size.width != width:
                refit()

        table.call_after_refresh(check)
    widths = fit(cols, width)
    names = labels(cols, widths)
    wanted = [(k, names[k], w) for k, w in widths.items()]
    current = [(str(c.key.value), str(c.label), c.width) for c in table.ordered_columns]
    if wanted != current:
        table.clear(columns=True)
        for k, name, w in wanted:
            table.add_column(name, width=w, key=k)
    return widths

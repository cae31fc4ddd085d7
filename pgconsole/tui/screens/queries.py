"""3 Queries: top statements from pg_stat_statements (interval deltas or cumulative), full text of
the selected one, and its plan on request (EXPLAIN; ANALYZE only after a second confirmation)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from pgconsole.db.session import SourceError
from pgconsole.monitor.explain import NeedsParameters
from pgconsole.tui.models import StatementRow, StatementsData
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.screens.modals import ConfirmScreen, MessageScreen, ParametersScreen
from pgconsole.tui.text import block, heading, lit, one_line, pct
from pgconsole.tui.widgets import columns
from pgconsole.tui.widgets.columns import Col

ORDERS = ("total", "mean", "calls")


class QueriesScreen(LiveScreen):
    BINDINGS = [
        Binding("o", "cycle_order", "Order by", id="queries.order"),
        Binding("t", "toggle_delta", "Delta/cumulative", id="queries.delta"),
        Binding("x", "explain", "EXPLAIN", id="queries.explain"),
        Binding("X", "explain_analyze", "EXPLAIN ANALYZE", show=False, id="queries.explain_analyze"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.order = "total"
        self.delta = True
        self.rows: list[StatementRow] = []
        self.data: StatementsData | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield Static(id="queries-status")
        yield DataTable(id="queries-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="query-text-box", classes="panel"):
            yield Static(id="query-text")
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    async def fetch(self) -> StatementsData:
        return await self.source.statements(self.order, self.delta)

    def on_resize(self) -> None:
        # Columns are fitted to the width: refit once the new layout is done, not at the next refresh.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        if self.data is not None:
            self.show(self.data)

    def show(self, data: StatementsData) -> None:
        self.data = data
        status = self.query_one("#queries-status", Static)
        table: DataTable[Any] = self.query_one(DataTable)
        if not data.available:
            status.update(
                Text.assemble(heading("pg_stat_statements is unavailable. ", "bold yellow"), block(data.hint))
            )
            table.clear()
            self.rows = []
            return
        mode = (
            "per interval (delta since the previous refresh)"
            if self.delta
            else "cumulative since the last reset"
        )
        line = heading(
            f"Top statements by {self.order} time" if self.order != "calls" else "Top statements by calls"
        )
        line.append(f" — {mode}")
        if data.note:
            line.append(f" ({data.note})", style="yellow" if "first refresh" in data.note else "")
        line.append(
            "\no: order (total/mean/calls)  t: delta/cumulative  x: EXPLAIN  X: EXPLAIN ANALYZE (asks twice)",
            style="dim",
        )
        status.update(line)
        # Keep the selected statement, not the row number: the order changes between refreshes, and an
        # EXPLAIN pressed right after one must run on the statement the operator picked.
        picked = self.selected()
        keep = table.cursor_row
        if picked is not None:
            keep = next(
                (
                    i
                    for i, r in enumerate(data.rows)
                    if (r.queryid, r.query) == (picked.queryid, picked.query)
                ),
                keep,
            )
        table.clear()
        self.rows = data.rows

        def fmt(r: StatementRow) -> dict[str, Text]:
            return {
                "total": Text(f"{r.total_ms:,.1f}", justify="right"),
                "mean": Text(f"{r.mean_ms:,.2f}", justify="right"),
                "calls": Text(f"{r.calls:,}", justify="right"),
                "rows": Text(f"{r.rows:,}", justify="right"),
                "hit": Text(pct(r.hit_percent), justify="right"),
            }

        cells = [fmt(r) for r in data.rows]

        def w(key: str) -> int:
            return max((c[key].cell_len for c in cells), default=1)

        # The statement keeps a usable width at 80 columns: rows and hit % give way first.
        widths = columns.apply(
            table,
            [
                Col("total", "total ms", w("total")),
                Col("mean", "mean ms", w("mean")),
                Col("calls", "calls", w("calls")),
                Col("rows", "rows", w("rows"), priority=2),
                Col("hit", "hit %", w("hit"), priority=1),
                Col(
                    "query",
                    "query",
                    max((len(one_line(r.query)) for r in data.rows), default=5),
                    minimum=36,
                    flex=True,
                ),
            ],
            refit=self._refit,
        )
        for i, (r, row_cells) in enumerate(zip(data.rows, cells, strict=True)):
            row_cells["query"] = lit(one_line(r.query), widths["query"])
            table.add_row(*(row_cells[k] for k in widths), key=str(i))
        if data.rows:
            table.move_cursor(row=min(keep, len(data.rows) - 1))
        self._show_text()

    @on(DataTable.RowHighlighted)
    def _show_text(self) -> None:
        table: DataTable[Any] = self.query_one(DataTable)
        row = self.selected()
        self.query_one("#query-text", Static).update(block(row.query) if row else Text(""))
        del table

    def selected(self) -> StatementRow | None:
        table: DataTable[Any] = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows) or table.cursor_row < 0:
            return None
        return self.rows[table.cursor_row]

    def action_cycle_order(self) -> None:
        self.order = ORDERS[(ORDERS.index(self.order) + 1) % len(ORDERS)]
        self.kick()

    def action_toggle_delta(self) -> None:
        self.delta = not self.delta
        self.kick()

    def action_explain(self) -> None:
        row = self.selected()
        if row:
            self._explain(row.query, False)

    def action_explain_analyze(self) -> None:
        row = self.selected()
        if row:
            self._explain(row.query, True)

    @work(exclusive=True, group="explain", exit_on_error=False)
    async def _explain(self, query: str, analyze: bool) -> None:
        if analyze:
            first = ConfirmScreen(
                "EXPLAIN ANALYZE",
                "ANALYZE executes the statement (in a read-only transaction that is rolled back). Continue?",
                query,
                danger=True,
            )
            if not await self.app.push_screen_wait(first):
                return
            second = ConfirmScreen(
                "EXPLAIN ANALYZE — second confirmation", "Really execute it now on this server?", danger=True
            )
            if not await self.app.push_screen_wait(second):
                return
        try:
            try:
                plan = await self.source.explain(query, analyze)
            except NeedsParameters as need:
                values = await self.app.push_screen_wait(ParametersScreen(need.numbers, query))
                if values is None:
                    return
                plan = await self.source.explain(query, analyze, params=values)
        except (SourceError, ValueError) as exc:
            plan = f"no plan: {exc}"
        await self.app.push_screen_wait(MessageScreen("EXPLAIN ANALYZE" if analyze else "EXPLAIN", plan))

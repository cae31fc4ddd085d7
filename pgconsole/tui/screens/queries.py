"""3 Queries: top statements from pg_stat_statements (interval deltas or cumulative), full text of
the selected one, and its plan on request (EXPLAIN; ANALYZE only after a second confirmation)."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from pgconsole.console.models import StatementRow, StatementsData
from pgconsole.console.session import SourceError
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.screens.modals import ConfirmScreen, MessageScreen
from pgconsole.tui.text import block, lit, pct

ORDERS = ("total", "mean", "calls")



def _one_line(query: object) -> str:
    """Fold layout whitespace (newlines, tabs) for the table row; every other control character
    stays and is made visible by lit(). The detail pane below shows the text as it is."""
    return re.sub(r"[ \t\r\n]+", " ", str(query)).strip()

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

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield Static(id="queries-status")
        yield DataTable(id="queries-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="query-text-box", classes="panel"):
            yield Static(id="query-text")
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("total ms", "mean ms", "calls", "rows", "hit %", "query")
        self.query_one(DataTable).focus()

    async def fetch(self) -> StatementsData:
        return await self.source.statements(self.order, self.delta)

    def show(self, data: StatementsData) -> None:
        status = self.query_one("#queries-status", Static)
        table: DataTable[Any] = self.query_one(DataTable)
        if not data.available:
            status.update(Text("pg_stat_statements is unavailable. ", style="bold yellow") + block(data.hint))
            table.clear()
            self.rows = []
            return
        mode = "per interval (delta since the previous refresh)" if self.delta else "cumulative since the last reset"
        line = Text(f"top statements by {self.order} time" if self.order != "calls" else "top statements by calls",
                    style="bold")
        line.append(f" — {mode}")
        if data.note:
            line.append(f" ({data.note})", style="yellow" if "first refresh" in data.note else "")
        line.append("\no: order (total/mean/calls)  t: delta/cumulative  x: EXPLAIN  X: EXPLAIN ANALYZE (asks twice)",
                    style="dim")
        status.update(line)
        keep = table.cursor_row
        table.clear()
        self.rows = data.rows
        for i, r in enumerate(data.rows):
            table.add_row(Text(f"{r.total_ms:,.1f}", justify="right"), Text(f"{r.mean_ms:,.2f}", justify="right"),
                          Text(f"{r.calls:,}", justify="right"), Text(f"{r.rows:,}", justify="right"),
                          Text(pct(r.hit_percent), justify="right"), lit(_one_line(r.query), 120), key=str(i))
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
            first = ConfirmScreen("EXPLAIN ANALYZE", "ANALYZE executes the statement (in a read-only transaction "
                                  "that is rolled back). Continue?", query, danger=True)
            if not await self.app.push_screen_wait(first):
                return
            second = ConfirmScreen("EXPLAIN ANALYZE — second confirmation",
                                   "Really execute it now on this server?", danger=True)
            if not await self.app.push_screen_wait(second):
                return
        try:
            plan = await self.source.explain(query, analyze)
        except (SourceError, ValueError) as exc:
            plan = f"no plan: {exc}"
        await self.app.push_screen_wait(MessageScreen("EXPLAIN ANALYZE" if analyze else "EXPLAIN", plan))

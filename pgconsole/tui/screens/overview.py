"""1 Overview: queue per job type, charts over the session, database vitals, health checks."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Static

from pgconsole.tui.models import CheckResult, OverviewData
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import STATUS_STYLE, age, block, lit, pct, size
from pgconsole.tui.widgets import columns
from pgconsole.tui.widgets.chart import Chart
from pgconsole.tui.widgets.columns import Col
from pgconsole.tui.widgets.in_place import set_text, sync_rows
from pgconsole.tui.widgets.systems import SystemsPanel

_SEVERITY = {"critical": 0, "warning": 1, "unknown": 2}
_SHORT = {"ok": "OK", "warning": "WARN", "critical": "CRIT", "unknown": "UNKN"}


class OverviewScreen(LiveScreen):
    BINDINGS = [Binding("r", "refresh_now", "Refresh", id="overview.refresh")]

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[CheckResult] = []
        self.data: OverviewData | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        # A grid, so that styles/app.tcss can rearrange it by size: wide, the queue over the server
        # vitals with the checks beside both; narrow (80 columns), the queue across the whole width
        # (its columns fit) with the checks and the vitals side by side below.
        with Grid(id="overview-top"):
            with Vertical(id="queue-panel", classes="panel") as queue:
                queue.border_title = "Queue by job type"
                yield Static(id="queue-title", classes="dim")
                yield DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
                # Other queue systems in this database (hidden when there are none; refreshes itself).
                yield SystemsPanel(id="systems-panel")
            with Vertical(id="checks-panel", classes="panel") as checks:
                checks.border_title = "Health checks"
                yield DataTable(id="checks-table", cursor_type="row")
                yield Static(id="check-detail")
            vitals = Static(id="vitals", classes="panel")
            vitals.border_title = "Server"
            yield vitals
        with Grid(id="charts"):
            yield Chart("jobs/min", id="chart-throughput")
            yield Chart("queue depth", id="chart-depth")
            yield Chart("TPS", id="chart-tps")
            yield Chart("cache hit %", id="chart-cache", y_min=None, y_max=100.0)
        yield from self.compose_chrome_bottom()

    def on_resize(self) -> None:
        # Columns are fitted to the width: refit once the new layout is done, not at the next refresh.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        if self.data is not None:
            self._fill_queue(self.data)
            self._fill_checks(self.data.checks)

    def action_refresh_now(self) -> None:
        self.kick()

    async def fetch(self) -> OverviewData:
        return await self.source.overview()

    def show(self, data: OverviewData) -> None:
        app = self.pg_app
        app.health = data.checks
        if app.first_data_at is None:
            import time

            app.first_data_at = time.monotonic()
        self.data = data
        self._fill_queue(data)
        set_text(self.query_one("#queue-title", Static), block(data.count_method, style="dim"))
        set_text(self.query_one("#vitals", Static), self._vitals(data))
        self._fill_checks(data.checks)
        depth = sum(r.pending for r in data.queue)
        step = app.refresh_interval
        self.query_one("#chart-throughput", Chart).set_series(
            [
                ("completed", app.record("completed", data.completed_interval)),
                ("failed", app.record("failed", data.failed_interval)),
            ],
            step,
        )
        self.query_one("#chart-depth", Chart).set_series([("pending", app.record("depth", depth))], step)
        self.query_one("#chart-tps", Chart).set_series([("tps", app.record("tps", data.tps))], step)
        self.query_one("#chart-cache", Chart).set_series(
            [("hit %", app.record("cache", data.cache_hit_interval))], step
        )

    def _fill_queue(self, data: OverviewData) -> None:
        q: DataTable[Any] = self.query_one("#queue-table", DataTable)
        keep = q.cursor_row
        rows = []
        for r in data.queue:
            rows.append(
                (
                    r,
                    {
                        "pending": Text(r.pending_label, justify="right"),
                        "running": Text(r.processing_label, justify="right"),
                        "failed": Text(r.failed_label, style="red" if r.failed_1h else "", justify="right"),
                        "oldest": Text(age(r.oldest_due_age_s), justify="right"),
                        "rate": Text(
                            "–" if r.completed_per_min is None else f"{r.completed_per_min:g}",
                            justify="right",
                        ),
                    },
                )
            )

        def w(key: str) -> int:
            return max((c[key].cell_len for _r, c in rows), default=1)

        # The counts are what the panel is for; the rate and the oldest due give way first.
        widths = columns.apply(
            q,
            [
                Col(
                    "type",
                    "job type",
                    min(24, max((len(r.job_type) for r in data.queue), default=4)),
                    minimum=12,
                ),
                Col("pending", "pending", w("pending"), short="pend"),
                Col("running", "running", w("running"), short="run"),
                Col("failed", "failed 1h", w("failed"), short="fail 1h"),
                Col("oldest", "oldest due", w("oldest"), short="oldest", priority=1),
                Col("rate", "done/min", w("rate"), short="/min", priority=2),
            ],
            refit=self._refit,
        )
        for r, cells in rows:
            cells["type"] = lit(r.job_type, widths["type"])
        # Keyed by job type: a refresh that changes a count updates that cell, not the table.
        rebuilt = sync_rows(q, [(r.job_type, [cells[k] for k in widths]) for r, cells in rows])
        if rows and (rebuilt or keep >= len(rows)):  # rebuilt, or rows below the cursor left
            q.move_cursor(row=min(max(keep, 0), len(rows) - 1))

    def _fill_checks(self, checks: list[CheckResult]) -> None:
        """Worst first (at 3 a.m. the row that needs a look must not be below the fold), the status
        as a short coloured word, the message cut to the panel with the whole of the highlighted one
        shown under the table."""
        table: DataTable[Any] = self.query_one("#checks-table", DataTable)
        keep = table.cursor_row
        self.checks = sorted(checks, key=lambda r: _SEVERITY.get(r.status.word, 3))
        widths = columns.apply(
            table,
            [
                Col("status", "status", 4, short=""),
                Col(
                    "check", "check", min(22, max((len(c.name) for c in self.checks), default=5)), minimum=10
                ),
                Col(
                    "message",
                    "message",
                    max((len(c.message) for c in self.checks), default=7),
                    minimum=12,
                    flex=True,
                ),
            ],
            refit=self._refit,
        )
        cells = []
        for chk in self.checks:
            style = STATUS_STYLE.get(chk.status.word, "")
            cells.append(
                (
                    chk.name,
                    [
                        Text(_SHORT.get(chk.status.word, chk.status.word.upper()), style=style),
                        lit(chk.name, widths["check"], style="" if chk.status.word == "ok" else style),
                        lit(chk.message, widths["message"]),
                    ],
                )
            )
        rebuilt = sync_rows(table, cells)
        bad = sum(1 for c in self.checks if c.status.word != "ok")
        panel = self.query_one("#checks-panel")
        title = (
            f"Health checks: {len(self.checks) - bad} ok, {bad} need a look"
            if bad
            else f"Health checks: all {len(self.checks)} ok"
        )
        if panel.border_title != title:
            panel.border_title = title
        if self.checks and (rebuilt or keep >= len(self.checks)):
            table.move_cursor(row=min(max(keep, 0), len(self.checks) - 1))
        self._show_check()

    @on(DataTable.RowHighlighted, "#checks-table")
    def _show_check(self) -> None:
        table: DataTable[Any] = self.query_one("#checks-table", DataTable)
        detail = self.query_one("#check-detail", Static)
        if not self.checks or not 0 <= table.cursor_row < len(self.checks):
            set_text(detail, Text())
            return
        chk = self.checks[table.cursor_row]
        t = Text()
        t.append_text(lit(chk.name, 40, style="bold " + STATUS_STYLE.get(chk.status.word, "")))
        t.append(": ")
        t.append_text(block(chk.message))
        set_text(detail, t)

    @staticmethod
    def _vitals(d: OverviewData) -> Text:
        """One labelled item per line, labels in a column."""
        t = Text()

        def label(name: str) -> None:
            if t:
                t.append("\n")
            t.append(f"{name:<13}", style="bold")

        total = sum(d.connections_by_state.values())
        label("Connections")
        t.append(f"{total} of {d.max_connections}")
        if d.connections_by_state:
            t.append(
                "  (" + ", ".join(f"{k} {v}" for k, v in sorted(d.connections_by_state.items())) + ")",
                style="dim",
            )
        label("Cache hit")
        t.append(pct(d.cache_hit_interval))
        t.append(" interval", style="dim")
        t.append(f"  {pct(d.cache_hit_cumulative)}")
        t.append(" since stats reset", style="dim")
        label("TPS")
        t.append("–" if d.tps is None else f"{d.tps:.1f}")
        label("Size")
        t.append(size(d.db_size_bytes))
        label("Oldest xact")
        t.append(age(d.oldest_xact_age_s))
        label("xmin age")
        t.append("–" if d.xmin_age is None else f"{d.xmin_age:,} transactions")
        label("Replication")
        if d.replication:
            for i, (name, lag) in enumerate(d.replication):
                if i:
                    t.append(", ")
                t.append_text(lit(name, 20))
                t.append(f" lag {lag}")
        else:
            t.append("no standbys", style="dim")
        for note in d.notes:
            t.append("\n")
            t.append_text(lit(note, 120, style="yellow"))
        return t

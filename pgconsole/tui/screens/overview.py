"""1 Overview: queue per job type, charts over the session, database vitals, health checks."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import DataTable, Static

from pgconsole.console.models import OverviewData
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import STATUS_STYLE, age, lit, pct, size
from pgconsole.tui.widgets.chart import Chart


class OverviewScreen(LiveScreen):
    BINDINGS = [Binding("r", "refresh_now", "Refresh", id="overview.refresh")]

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        with Horizontal(id="overview-top"):
            with Vertical(id="queue-panel", classes="panel"):
                yield Static(Text("Queue by job type", style="bold"), id="queue-title")
                yield DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="vitals-panel", classes="panel"):
                yield Static(id="vitals")
                yield DataTable(id="checks-table", cursor_type="none")
        with Grid(id="charts"):
            yield Chart("jobs/min", id="chart-throughput")
            yield Chart("queue depth", id="chart-depth")
            yield Chart("TPS", id="chart-tps")
            yield Chart("cache hit % (interval)", id="chart-cache", y_min=None)
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        q: DataTable[Any] = self.query_one("#queue-table", DataTable)
        q.add_columns("job type", "pending", "processing", "failed 1h", "oldest due", "done/min")
        c: DataTable[Any] = self.query_one("#checks-table", DataTable)
        c.add_columns("check", "status", "message")

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
        q: DataTable[Any] = self.query_one("#queue-table", DataTable)
        q.clear()
        for r in data.queue:
            pending = f"{data.count_cap // 1000}k+" if r.pending_capped else str(r.pending)
            q.add_row(lit(r.job_type, 30), Text(pending, justify="right"), Text(str(r.processing), justify="right"),
                      Text(str(r.failed_1h), style="red" if r.failed_1h else "", justify="right"),
                      Text(age(r.oldest_due_age_s), justify="right"),
                      Text("–" if r.completed_per_min is None else f"{r.completed_per_min:g}", justify="right"))
        title = Text("Queue by job type", style="bold")
        title.append("  ")
        title.append_text(lit(data.count_method, 90, style="dim"))
        self.query_one("#queue-title", Static).update(title)
        self.query_one("#vitals", Static).update(self._vitals(data))
        c: DataTable[Any] = self.query_one("#checks-table", DataTable)
        c.clear()
        # Worst first: at 3 a.m. the row that needs a look must not be below the fold.
        severity = {"critical": 0, "warning": 1, "unknown": 2}
        for chk in sorted(data.checks, key=lambda r: severity.get(r.status, 3)):
            c.add_row(lit(chk.name, 24), Text(chk.status.upper(), style=STATUS_STYLE.get(chk.status, "")),
                      lit(chk.message, 60))
        depth = sum(r.pending for r in data.queue)
        self.query_one("#chart-throughput", Chart).set_series([
            ("completed", app.record("completed", data.completed_interval)),
            ("failed", app.record("failed", data.failed_interval)),
        ])
        self.query_one("#chart-depth", Chart).set_series([("pending", app.record("depth", depth))])
        self.query_one("#chart-tps", Chart).set_series([("tps", app.record("tps", data.tps))])
        self.query_one("#chart-cache", Chart).set_series([("hit %", app.record("cache", data.cache_hit_interval))])

    @staticmethod
    def _vitals(d: OverviewData) -> Text:
        t = Text()
        total = sum(d.connections_by_state.values())
        t.append("Connections ", style="bold")
        t.append(f"{total}/{d.max_connections}  ")
        t.append(", ".join(f"{k} {v}" for k, v in sorted(d.connections_by_state.items())) or "–", style="dim")
        t.append("\nCache hit ", style="bold")
        t.append(f"{pct(d.cache_hit_interval)} interval, {pct(d.cache_hit_cumulative)} cumulative")
        t.append("\nTPS ", style="bold")
        t.append("–" if d.tps is None else f"{d.tps:.1f}")
        t.append("   Database ", style="bold")
        t.append(size(d.db_size_bytes))
        t.append("\nOldest transaction ", style="bold")
        t.append(age(d.oldest_xact_age_s))
        t.append("   xmin age ", style="bold")
        t.append("–" if d.xmin_age is None else f"{d.xmin_age:,}")
        t.append("\nReplication ", style="bold")
        if d.replication:
            for name, lag in d.replication:
                t.append_text(lit(name, 20))
                t.append(f" lag {lag}  ")
        else:
            t.append("no standbys", style="dim")
        for note in d.notes:
            t.append("\n")
            t.append_text(lit(note, 120, style="yellow"))
        return t

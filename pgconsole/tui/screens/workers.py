"""6 Workers: the live workers (the registry), what each serves, its counters, its sessions and
the jobs it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from pgconsole.queue.models import WorkerInfo
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import age, heading, lit


class WorkersScreen(LiveScreen):
    BINDINGS = [Binding("r", "refresh_now", "Refresh", id="workers.refresh")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[WorkerInfo] = []

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield Static(id="workers-status")
        yield DataTable(id="workers-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="worker-detail", classes="panel")
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        table: DataTable[Any] = self.query_one("#workers-table", DataTable)
        table.add_columns("worker", "host", "pid", "held", "done", "failed", "beat", "types")

    def action_refresh_now(self) -> None:
        self.kick()

    async def fetch(self) -> list[WorkerInfo]:
        return await self.source.workers()

    def show(self, data: list[WorkerInfo]) -> None:
        self.rows = data
        table: DataTable[Any] = self.query_one("#workers-table", DataTable)
        keep = table.cursor_row
        table.clear()
        now = datetime.now(UTC)
        for w in data:
            table.add_row(
                lit(w.worker_id, 28),
                lit(w.host, 16),
                Text(str(w.pid), justify="right"),
                Text(str(w.held), justify="right"),
                Text(str(w.completed), justify="right"),
                Text(str(w.failed), style="red" if w.failed else "", justify="right"),
                Text(age((now - w.heartbeat_at).total_seconds()), justify="right"),
                lit(",".join(w.job_types) if w.job_types else "all", 30),
            )
        status = self.query_one("#workers-status", Static)
        if data:
            status.update(Text(f"{len(data)} live worker(s), holding {sum(w.held for w in data)} job(s)"))
            table.move_cursor(row=min(max(keep, 0), len(data) - 1))
        else:
            status.update(
                Text(
                    "no live worker: none has sent a heartbeat within three heartbeat intervals",
                    style="dim",
                )
            )
        self._show_worker()

    @on(DataTable.RowHighlighted, "#workers-table")
    def _show_worker(self) -> None:
        table: DataTable[Any] = self.query_one("#workers-table", DataTable)
        detail = self.query_one("#worker-detail", Static)
        detail.display = bool(self.rows)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            detail.update("")
            return
        w = self.rows[table.cursor_row]
        t = heading("Worker ")
        t.append_text(lit(w.worker_id, 46))
        t.append(f"\n  role {w.role}  concurrency {w.concurrency}  batch {w.batch}  started ", style="dim")
        t.append(f"{w.started_at:%Y-%m-%d %H:%M:%S} UTC", style="dim")
        t.append("\n  backends: ")
        t.append(
            ", ".join(f"pid {p}" for p in w.backend_pids) if w.backend_pids else "none (its session is gone)",
            style="" if w.backend_pids else "yellow",
        )
        t.append(f"\n  holds {w.held} job(s)")
        for jid in (w.held_job_ids or [])[:20]:
            t.append(f"\n    {jid}")
        detail.update(t)

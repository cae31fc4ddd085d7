"""7 Queues: every queue system in the database (pgconsole's own, Procrastinate, PgQueuer, a
configured ``[queues.NAME]`` table, ...), grouped by system; the system under the cursor is the
one whose jobs are listed below (the system selector). Enter on a job opens its detail with the
library's native fields and history; r / c / d act on it through the system's own path
(queue.systems: its functions or state-guarded statements, pgconsole's audit record), and an
action the system cannot do says why instead of running."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from pgconsole.queue.models import ActionTarget, JobFilter
from pgconsole.queue.states import Action
from pgconsole.queue.systems.base import Capabilities, SystemJobDetail, SystemJobPage
from pgconsole.queue.systems.registry import SystemRead
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import block, heading, lit, stamp
from pgconsole.tui.widgets import systems as systems_widget

STATUS_CYCLE: tuple[str | None, ...] = (None, "failed", "pending", "processing", "completed", "cancelled")


class SystemJobDetailScreen(ModalScreen[None]):
    """One job of another system: the common fields, its payload, every native field, its history
    as the library keeps it, pgconsole's audit records."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="system_job.close")]

    def __init__(self, detail: SystemJobDetail, system: str) -> None:
        super().__init__(classes="modal")
        self.detail = detail
        self.system = system

    def compose(self) -> ComposeResult:
        d = self.detail
        body = Text()
        body.append_text(heading(f"{self.system} job {d.job.id}"))
        body.append("\n")
        for key, value in d.job.model_dump().items():
            body.append(f"{key:<14} ", style="dim")
            body.append_text(lit("–" if value is None else value, 100))
            body.append("\n")
        body.append_text(heading("payload"))
        body.append("\n")
        body.append_text(block(d.payload if d.payload is not None else "–"))
        body.append("\n")
        body.append_text(heading(f"native fields ({self.system})"))
        body.append("\n")
        for key, value in d.native.items():
            body.append(f"{str(key)[:24]:<24} ", style="dim")
            body.append_text(lit(value, 100))
            body.append("\n")
        body.append_text(heading("history"))
        body.append("\n")
        for e in d.events[-20:]:
            body.append_text(lit(f"{stamp(e.at)}  {e.kind}  {e.detail or ''}", 120))
            body.append("\n")
        body.append_text(heading("audit"))
        body.append("\n")
        for a in d.audit:
            body.append_text(
                lit(
                    f"{stamp(a.at)}  {a.actor}  {a.action}  {a.old_status} -> {a.new_status}  {a.reason or ''}",
                    140,
                )
            )
            body.append("\n")
        with Vertical(classes="dialog"):
            yield Static(body, id="system-job-detail")

    def action_close(self) -> None:
        self.dismiss(None)


class QueuesScreen(LiveScreen):
    BINDINGS = [
        Binding("f", "cycle_status", "Status", id="queues.status"),
        Binding("tab", "switch_table", "Systems/jobs", show=False, id="queues.switch"),
        Binding("n", "next_page", "Next page", show=False, id="queues.next"),
        Binding("r", "act('retry')", "Retry", id="queues.retry"),
        Binding("c", "act('cancel')", "Cancel", id="queues.cancel"),
        Binding("d", "act('delete')", "Delete", id="queues.delete"),
        Binding("R", "act_filter('retry')", "Retry all matching", show=False, id="queues.retry_all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[SystemRead] = []
        self.system: str | None = None
        self.status: str | None = "failed"
        self.after: str | None = None
        self.page: SystemJobPage | None = None
        self.caps: Capabilities | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield DataTable(id="systems-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="system-status")
        yield DataTable(id="system-jobs-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        jobs: DataTable[Any] = self.query_one("#system-jobs-table", DataTable)
        jobs.add_columns("id", "type", "state", "native", "attempts", "created", "error")
        jobs.focus()  # the systems table is the selector: tab to it, the cursor there chooses

    async def fetch(self) -> tuple[list[SystemRead], SystemJobPage | None, Capabilities | None]:
        reads = await self.source.systems()
        names = [r.info.name for r in reads]
        if self.system not in names:
            # The first other system: pgconsole's own has the Jobs screen (2).
            self.system = next(
                (r.info.name for r in reads if r.info.kind != "pgconsole"), names[0] if names else None
            )
        if self.system is None:
            return reads, None, None
        flt = JobFilter(statuses=[self.status]) if self.status else JobFilter()  # type: ignore[list-item]
        page = await self.source.system_page(self.system, flt, self.after)
        caps = await self.source.system_capabilities(self.system)
        return reads, page, caps

    def show(self, data: tuple[list[SystemRead], SystemJobPage | None, Capabilities | None]) -> None:
        self.reads, self.page, self.caps = data
        table: DataTable[Any] = self.query_one("#systems-table", DataTable)
        systems_widget.fill(table, self.reads)
        keys = [str(k.value) for k in table.rows]
        if not table.has_focus and self.system is not None:
            # The cursor on the selected system (a refresh must not select another one).
            mine = [i for i, k in enumerate(keys) if k.split("|", 1)[0] == self.system]
            if mine:
                table.move_cursor(row=mine[0])
        jobs: DataTable[Any] = self.query_one("#system-jobs-table", DataTable)
        keep = jobs.cursor_row
        jobs.clear()
        for j in self.page.rows if self.page else []:
            jobs.add_row(
                lit(j.id, 38),
                lit(j.job_type, 28),
                Text(j.status or "?", style="red" if j.status == "failed" else ""),
                lit(j.native_status, 12, "dim"),
                Text("–" if j.attempts is None else str(j.attempts), justify="right"),
                Text(stamp(j.created_at) if j.created_at else "–"),
                lit(j.error or "", 60),
                key=j.id,
            )
        if jobs.row_count:
            jobs.move_cursor(row=min(keep, jobs.row_count - 1))
        self.query_one("#system-status", Static).update(self._status_line())

    def _status_line(self) -> Text:
        t = Text()
        t.append_text(heading(f"jobs in {self.system or '–'}"))
        t.append(f"  status: {self.status or 'all'} (f)")
        if self.page is not None and self.page.note:
            t.append("  ")
            t.append_text(lit(self.page.note, 100, "yellow"))
        if self.caps is not None:
            for action, support in (
                ("retry", self.caps.retry),
                ("cancel", self.caps.cancel),
                ("delete", self.caps.delete),
            ):
                if not support.enabled:
                    t.append(f"\n{action} disabled: ", style="yellow")
                    t.append_text(lit(support.reason, 160))
            if not self.caps.cancel_running.enabled:
                t.append("\ncancel of a running job disabled: ", style="yellow")
                t.append_text(lit(self.caps.cancel_running.reason, 160))
        return t

    @on(DataTable.RowHighlighted, "#systems-table")
    def _choose_system(self, event: DataTable.RowHighlighted) -> None:
        if not event.data_table.has_focus:
            return  # moved by a refresh, not by the user
        key = event.row_key.value or ""
        name = key.split("|", 1)[0]
        if name and name != self.system:
            self.system = name
            self.after = None
            self.kick()

    @on(DataTable.RowSelected, "#system-jobs-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if self.system and event.row_key.value:
            self._open_detail(self.system, event.row_key.value)

    def _open_detail(self, system: str, job_id: str) -> None:
        async def load() -> None:
            detail = await self.source.system_detail(system, job_id)
            if detail is not None:
                self.app.push_screen(SystemJobDetailScreen(detail, system))

        self.run_worker(load(), exclusive=True, group="system-detail", exit_on_error=False)

    def action_cycle_status(self) -> None:
        i = STATUS_CYCLE.index(self.status) if self.status in STATUS_CYCLE else 0
        self.status = STATUS_CYCLE[(i + 1) % len(STATUS_CYCLE)]
        self.after = None
        self.kick()

    def action_next_page(self) -> None:
        if self.page is not None and self.page.next_after:
            self.after = self.page.next_after
            self.kick()

    def action_switch_table(self) -> None:
        jobs = self.query_one("#system-jobs-table", DataTable)
        (self.query_one("#systems-table", DataTable) if jobs.has_focus else jobs).focus()

    def _selected_job(self) -> str | None:
        jobs: DataTable[Any] = self.query_one("#system-jobs-table", DataTable)
        if not jobs.row_count:
            return None
        return str(jobs.coordinate_to_cell_key(jobs.cursor_coordinate).row_key.value)

    def _allowed(self, action: Action) -> bool:
        if self.caps is None:
            return False
        support = self.caps.of(action)
        if not support.enabled:
            self.notify(
                f"{action} is not available on {self.system}: {support.reason}",
                severity="warning",
                markup=False,
            )
        return support.enabled

    def action_act(self, action: Action) -> None:
        job = self._selected_job()
        if job is None or self.system is None or not self._allowed(action):
            return
        target = ActionTarget(ids=[job], source="cursor", system=self.system)
        self.pg_app.start_job_action(action, target)

    def action_act_filter(self, action: Action) -> None:
        if self.system is None or not self._allowed(action):
            return
        flt = JobFilter(statuses=[self.status]) if self.status else JobFilter()  # type: ignore[list-item]
        self.pg_app.start_job_action(action, ActionTarget(filter=flt, source="filter", system=self.system))

"""One job, whole: payload and result as pretty JSON, error, attempts, timeline, log lines, and for a
processing job the worker's backend from pg_stat_activity. Refreshes while open."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from pgconsole.console.models import ActionTarget, JobDetail
from pgconsole.console.safe_text import pretty_json
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import STATUS_STYLE, block, lit

TIMELINE = ("created_at", "scheduled_at", "started_at", "heartbeat_at", "lease_expires_at", "cancel_requested_at",
            "completed_at", "updated_at", "expires_at")


class JobDetailScreen(LiveScreen):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back", id="detail.back"),
        Binding("r", "retry", "Retry", id="detail.retry"),
        Binding("c", "cancel", "Cancel", id="detail.cancel"),
        Binding("d", "delete", "Delete", id="detail.delete"),
        Binding("e", "edit_retry", "Edit+retry", id="detail.edit_retry"),
    ]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.detail: JobDetail | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        with VerticalScroll(id="detail-scroll"):
            yield Static(Text(f"job {self.job_id}  loading…"), id="detail-head")
            yield Static(id="detail-error", classes="section")
            yield Static(id="detail-payload", classes="section")
            yield Static(id="detail-result", classes="section")
            yield Static(id="detail-timeline", classes="section")
            yield Static(id="detail-worker", classes="section")
            yield Static(id="detail-logs", classes="section")
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        self.watch(self.app, "header_info", lambda _v: self.refresh_bindings(), init=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "cancel", "delete", "edit_retry") and self.pg_app.read_only:
            return False
        return True

    async def fetch(self) -> JobDetail | None:
        return await self.source.job_detail(self.job_id)

    def show(self, data: JobDetail | None) -> None:
        self.detail = data
        head = self.query_one("#detail-head", Static)
        if data is None:
            head.update(Text(f"job {self.job_id} no longer exists (deleted or past retention)", style="yellow"))
            return
        j: dict[str, Any] = data.job
        t = Text()
        t.append("job ", style="bold")
        t.append_text(lit(j.get("id"), 40))
        t.append("  ")
        t.append_text(lit(j.get("job_type"), 60, style="bold"))
        t.append("  ")
        t.append(str(j.get("status")), style="bold " + STATUS_STYLE.get(str(j.get("status")), ""))
        t.append(f"\npriority {j.get('priority')}  attempt {j.get('attempt')}  retries {j.get('retry_count')}/"
                 f"{j.get('max_retries')}  progress {j.get('progress_percent')}% ")
        t.append_text(lit(j.get("progress_message") or "", 80))
        t.append("\nuser ")
        t.append_text(lit(j.get("user_id") or "–", 40))
        t.append("  tenant ")
        t.append_text(lit(j.get("tenant_id") or "–", 40))
        t.append("  worker ")
        t.append_text(lit(j.get("locked_by") or "–", 60))
        t.append("  dedupe ")
        t.append_text(lit(j.get("dedupe_key") or "–", 60))
        head.update(t)
        err = Text("Error", style="bold red" if j.get("error_message") else "bold")
        err.append(f"  code {j.get('error_code') or '–'}\n", style="dim")
        err.append_text(block(j.get("error_message") or "none"))
        self.query_one("#detail-error", Static).update(err)
        self.query_one("#detail-payload", Static).update(self._json("Payload", j.get("payload")))
        self.query_one("#detail-result", Static).update(self._json("Result", j.get("result")))
        tl = Text("Timeline\n", style="bold")
        for key in TIMELINE:
            if j.get(key):
                tl.append(f"  {key:<20} {j[key]}\n")
        self.query_one("#detail-timeline", Static).update(tl)
        self.query_one("#detail-worker", Static).update(self._worker(data))
        logs = Text(f"Log ({len(data.logs)} lines)\n", style="bold")
        for line in data.logs:
            logs.append(f"  {line.created_at:%H:%M:%S} " if line.created_at else "  ")
            logs.append(f"{line.level:<7} ", style="red" if line.level == "error" else "cyan" if line.level == "audit" else "")
            if line.actor:
                logs.append_text(lit(line.actor, 30, style="dim"))
                logs.append(" ")
            logs.append_text(block(line.message))
            if line.metadata:
                logs.append(" ")
                logs.append_text(lit(pretty_json(line.metadata).replace("\n", " "), 200, style="dim"))
            logs.append("\n")
        self.query_one("#detail-logs", Static).update(logs)

    @staticmethod
    def _json(title: str, value: Any) -> Text:
        t = Text(f"{title}\n", style="bold")
        t.append(Text(pretty_json(value)))
        return t

    @staticmethod
    def _worker(data: JobDetail) -> Text:
        t = Text("Worker backend\n", style="bold")
        b = data.worker_backend
        if data.job.get("status") != "processing":
            t.append("  (only for processing jobs)", style="dim")
            return t
        if b is None:
            t.append("  no session in pg_stat_activity for this worker: it is gone (the job is stuck)", style="yellow")
            return t
        t.append(f"  pid {b.pid}  ")
        t.append_text(lit(b.application_name, 60))
        t.append(f"  state {b.state or '–'}  wait {b.wait_event or '–'}  since {b.query_start or '–'}")
        if b.blocked_by:
            t.append(f"  blocked by {b.blocked_by}", style="red")
        t.append("\n  query: ")
        t.append_text(block(b.query or ""))
        return t

    def action_back(self) -> None:
        self.app.pop_screen()

    def _target(self) -> ActionTarget:
        return ActionTarget(ids=[self.job_id])

    def action_retry(self) -> None:
        self.pg_app.start_job_action("retry", self._target())

    def action_cancel(self) -> None:
        self.pg_app.start_job_action("cancel", self._target())

    def action_delete(self) -> None:
        self.pg_app.start_job_action("delete", self._target())

    def action_edit_retry(self) -> None:
        self.pg_app.edit_and_retry(self.job_id)

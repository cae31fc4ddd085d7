"""One job, whole: payload and result as pretty JSON, error, attempts, timeline, log lines, and for a
processing job the worker's backend from pg_stat_activity. Refreshes while open."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from pgconsole.format import pretty_json
from pgconsole.queue.models import Job
from pgconsole.tui.models import ActionTarget, JobDetail
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import STATUS_STYLE, block, heading, lit, relative, stamp_ms

TIMELINE = (
    "created_at",
    "scheduled_at",
    "started_at",
    "heartbeat_at",
    "lease_expires_at",
    "cancel_requested_at",
    "completed_at",
    "updated_at",
    "expires_at",
)


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
            yield Static(id="detail-failures", classes="section")
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
            head.update(
                Text(f"job {self.job_id} no longer exists (deleted or past retention)", style="yellow")
            )
            return
        j = data.job
        t = Text()
        t.append("job ", style="bold")
        t.append_text(lit(j.id, 40))
        t.append("  ")
        t.append_text(lit(j.job_type, 60, style="bold"))
        t.append("  ")
        t.append_text(lit(j.status, 20, style="bold " + STATUS_STYLE.get(str(j.status), "")))
        t.append_text(self._attempts(j))
        t.append("\n")
        self._field(t, "progress", f"{j.progress_percent}%")
        if j.progress_message:
            t.append(" ")
            t.append_text(lit(j.progress_message, 80))
        for label, key in (
            ("user", "user_id"),
            ("tenant", "tenant_id"),
            ("worker", "locked_by"),
            ("dedupe", "dedupe_key"),
        ):
            t.append("   ")
            self._field(t, label, getattr(j, key) or "–")
        head.update(t)
        has_error = bool(j.error_message or j.error_code)
        err = heading("Error", "bold red" if has_error else "bold")
        if j.error_code:
            err.append("  code ", style="dim")
            err.append_text(lit(j.error_code, 60, style="red"))
        err.append("\n")
        err.append_text(block(j.error_message or "none", style="" if has_error else "dim"))
        self.query_one("#detail-error", Static).update(err)
        self.query_one("#detail-failures", Static).update(self._failures(data))
        self.query_one("#detail-payload", Static).update(self._json("Payload", j.payload))
        self.query_one("#detail-result", Static).update(self._json("Result", j.result))
        self.query_one("#detail-timeline", Static).update(self._timeline(j))
        self.query_one("#detail-worker", Static).update(self._worker(data))
        logs = heading(f"Log ({len(data.logs)} lines)\n")
        for line in data.logs:
            logs.append(f"  {line.created_at:%H:%M:%S} " if line.created_at else "  ")
            logs.append(
                f"{line.level:<7} ",
                style="red" if line.level == "error" else "cyan" if line.level == "audit" else "",
            )
            if line.actor:
                logs.append_text(lit(line.actor, 30, style="dim"))
                logs.append(" ")
            logs.append_text(block(line.message))
            meta = {k: v for k, v in (line.metadata or {}).items() if k != "traceback"}  # shown above
            if meta:
                logs.append(" ")
                logs.append_text(lit(pretty_json(meta).replace("\n", " "), 200, style="dim"))
            logs.append("\n")
        self.query_one("#detail-logs", Static).update(logs)

    @staticmethod
    def _field(t: Text, label: str, value: object) -> None:
        t.append(f"{label} ", style="dim")
        t.append_text(lit(value, 60))

    @staticmethod
    def _failures(data: JobDetail) -> Text:
        """Each failed attempt the worker stored a traceback for, newest first (from job_log)."""
        failed = [line for line in data.logs if isinstance((line.metadata or {}).get("traceback"), str)]
        if not failed:
            return Text()
        t = heading(f"Failed attempts ({len(failed)}, newest first)", "bold red")
        for line in failed:
            meta = line.metadata or {}
            t.append(f"\n  attempt {meta.get('attempt', '?')}", style="bold")
            if line.created_at:
                t.append(f"  {line.created_at:%Y-%m-%d %H:%M:%S}", style="dim")
            if meta.get("error_code"):
                t.append("  code ", style="dim")
                t.append_text(lit(meta.get("error_code"), 60, style="red"))
            t.append("\n")
            t.append_text(block(str(meta["traceback"]).rstrip()))
        return t

    @staticmethod
    def _attempts(j: Job) -> Text:
        """``attempt 2 of 4 · 1 failed · 2 retries left``: retry_count counts failed attempts and a
        job may run max_retries + 1 times (the bare "retries 2/1" read as a bug)."""
        t = Text()
        attempt, failed, retries = j.attempt, j.retry_count, j.max_retries
        if not isinstance(failed, int) or not isinstance(retries, int):
            return t
        allowed = retries + 1
        t.append("   attempt ", style="dim")
        t.append(f"{attempt if isinstance(attempt, int) else '–'} of {allowed}")
        t.append(" · ", style="dim")
        t.append(f"{failed} failed", style="red" if failed else "")
        status = j.status
        if status == "pending":  # a finished job has no budget left to speak of
            left = max(0, allowed - failed)
            t.append(" · ", style="dim")
            t.append(f"{left} attempt{'' if left == 1 else 's'} left", style="" if left > 1 else "yellow")
        elif status == "processing" and isinstance(attempt, int):
            left = max(0, allowed - attempt)
            t.append(" · ", style="dim")
            t.append(
                f"{left} retr{'y' if left == 1 else 'ies'} left if this fails" if left else "last attempt",
                style="" if left else "yellow",
            )
        return t

    @staticmethod
    def _json(title: str, value: Any) -> Text:
        # Text(...) whole, never markup: the JSON's own indentation (leading spaces) is kept as is.
        t = heading(f"{title}\n")
        t.append_text(Text(pretty_json(value), style="" if value is not None else "dim"))
        return t

    @staticmethod
    def _timeline(j: Job) -> Text:
        """Compact UTC stamps with millisecond precision and how long ago (or ahead) each was."""
        t = heading("Timeline\n")
        for key in TIMELINE:
            ts = getattr(j, key)
            if ts is None:
                continue
            if key == "expires_at" and j.status != "pending":
                continue  # only a pending job expires: "expires in 24h" on a failed job read as a threat
            t.append(f"  {key.removesuffix('_at').replace('_', ' '):<18}", style="dim")
            t.append(stamp_ms(ts))
            t.append(f"  {relative(ts)}", style="dim")
            t.append("\n")
        return t

    @staticmethod
    def _worker(data: JobDetail) -> Text:
        t = heading("Worker backend\n")
        b = data.worker_backend
        if data.job.status != "processing":
            t.append("  (only for processing jobs)", style="dim")
            return t
        if b is None:
            t.append(
                "  no session in pg_stat_activity for this worker: it is gone (the job is stuck)",
                style="yellow",
            )
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

"""Modal screens: confirmation (row count + statement), batched action run with a progress bar and
its report, plain messages, and the payload editor used before a retry."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static, TextArea

from pgconsole.db.session import SourceError
from pgconsole.queue.payload_edit import PayloadError, parse_payload
from pgconsole.tui.models import ActionKind, ActionPreview, ActionReport, ActionTarget
from pgconsole.tui.text import block

if TYPE_CHECKING:
    from pgconsole.tui.app import PgConsoleApp

VERB = {"retry": "Retry", "cancel": "Cancel", "delete": "Delete"}


def _sql_literal(text: str) -> str:
    """A string as a SQL literal, for showing a statement only (never sent: values are parameters)."""
    return "'" + text.replace("'", "''") + "'"


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no with the statement that will run. With ``reason`` (job actions) it also has the audit
    reason in an input: r goes there, enter comes back to the buttons."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
        Binding("r", "edit_reason", "Reason", show=False, id="confirm.reason"),
    ]

    def __init__(
        self,
        title: str,
        question: str,
        statement: str = "",
        *,
        danger: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.question = question
        self.statement = statement
        self.danger = danger
        self.reason = reason  # the audit reason offered (None: this confirmation has none)

    @classmethod
    def for_action(cls, p: ActionPreview) -> ConfirmScreen:
        q = f"{VERB[p.action]} {p.eligible} job(s)? {p.target.describe()}; {p.matched} row(s) match"
        if p.skipped:
            q += "; left alone: " + ", ".join(f"{n} {why}" for why, n in p.skipped.items())
        return cls(
            f"{VERB[p.action]} jobs", q, p.statement, danger=p.action == "delete", reason=p.target.reason
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" + (" danger" if self.danger else "")):
            yield Label(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Static(block(self.question), id="confirm-question")
            if self.reason is not None:
                yield Label("Reason for the audit record (r edits it, enter when done):", classes="dim")
                yield Input(self.reason, id="confirm-reason")
            if self.statement:
                yield Label("What will run:", classes="dim")
                yield Static(block(self.statement), id="confirm-statement", classes="statement")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error" if self.danger else "primary")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()  # y / n / enter answer at once; the reason is a tab away

    def reason_text(self) -> str:
        """The reason as typed (the offered one when left empty)."""
        if self.reason is None:
            return ""
        typed = self.query_one("#confirm-reason", Input).value.strip()
        return typed or self.reason

    def action_edit_reason(self) -> None:
        if self.reason is not None:
            self.query_one("#confirm-reason", Input).focus()

    @on(Input.Changed, "#confirm-reason")
    def _reason_changed(self) -> None:
        if self.reason is not None and self.statement:
            # The statement names the reason it passes; show the one that will be sent.
            shown = self.statement.replace(_sql_literal(self.reason), _sql_literal(self.reason_text()), 1)
            self.query_one("#confirm-statement", Static).update(block(shown))

    @on(Input.Submitted, "#confirm-reason")
    def _reason_done(self) -> None:
        self.query_one("#yes", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class MessageScreen(ModalScreen[None]):
    """A message; ``any_key`` (an action's result) closes on any key, else (a plan to scroll
    through) on escape, enter or q."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="message.close")]

    def __init__(self, title: str, body: str, *, any_key: bool = False) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.body = body
        self.any_key = any_key

    def on_key(self, event: events.Key) -> None:
        if self.any_key:
            event.stop()
            event.prevent_default()
            self.dismiss(None)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="message-body"):
                yield Static(block(self.body), id="message-body")
            yield Button("Close (any key)" if self.any_key else "Close (enter)", id="close")

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class ParametersScreen(ModalScreen[list[str | None] | None]):
    """Values for a statement's ``$n`` placeholders (EXPLAIN on PostgreSQL 14/15, or ANALYZE): one
    input each, typed as PostgreSQL reads a literal; an empty input is NULL."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="parameters.cancel")]

    def __init__(self, numbers: list[int], statement: str) -> None:
        super().__init__(classes="modal")
        self.numbers = numbers
        self.statement = statement

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text("EXPLAIN needs the parameters' values", style="bold"), classes="dialog-title")
            yield Static(
                Text(
                    "This server cannot plan the text without them (PostgreSQL 16 can). "
                    "Type each value as you would write it in SQL, without quotes; empty is NULL."
                )
            )
            yield Static(block(self.statement), classes="statement")
            for n in self.numbers:
                yield Input(placeholder=f"${n}", id=f"param-{n}")
            with Horizontal(classes="buttons"):
                yield Button("EXPLAIN (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(f"#param-{self.numbers[0]}", Input).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input).results(Input))
        i = inputs.index(event.input)
        if i + 1 < len(inputs):
            inputs[i + 1].focus()
        else:
            self._ok()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        values = [self.query_one(f"#param-{n}", Input).value for n in self.numbers]
        self.dismiss([v if v != "" else None for v in values])

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ActionRunScreen(ModalScreen[ActionReport | None]):
    """Runs the action in batches; the bar advances after each batch; ends with the report."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="run.close")]

    def __init__(self, kind: ActionKind, target: ActionTarget, expected: int) -> None:
        super().__init__(classes="modal")
        self.kind = kind
        self.target = target
        self.expected = expected
        self.report: ActionReport | None = None
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                Text(f"{VERB[self.kind]}: {self.target.describe()}", style="bold"), classes="dialog-title"
            )
            yield ProgressBar(total=max(1, self.expected), show_eta=False, id="progress")
            yield Static(Text("running…"), id="run-status")
            yield Button("Close (any key)", id="close", disabled=True)

    def on_mount(self) -> None:
        self._run()

    def on_key(self, event: events.Key) -> None:
        # Keys stop here (none reaches the screen below mid-run); once the report shows, any key
        # closes it, so the next key after an action needs no extra enter.
        event.stop()
        event.prevent_default()
        self.action_close()

    @work(exclusive=True, group="run", exit_on_error=False)
    async def _run(self) -> None:
        app: PgConsoleApp = self.app  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        bar = self.query_one(ProgressBar)

        def progress(done: int, total: int) -> None:  # called from the database thread
            loop.call_soon_threadsafe(lambda: bar.update(total=max(1, total), progress=done))

        status = self.query_one("#run-status", Static)
        try:
            self.report = await app.source.run_action(self.kind, self.target, progress)
            status.update(Text(self.report.describe()))
        except SourceError as exc:
            status.update(
                Text(f"failed, nothing after the last completed batch was applied: {exc}", style="red")
            )
        self.finished = True
        self.query_one("#close", Button).disabled = False
        self.query_one("#close", Button).focus()

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(self.report)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.action_close()


class EditPayloadScreen(ModalScreen[Any]):
    """Edit a job's payload as JSON; returns the parsed value, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Retry with this payload", id="edit.save"),
        Binding("escape", "cancel", "Cancel", id="edit.cancel"),
    ]

    def __init__(self, job_id: str, payload: Any) -> None:
        super().__init__(classes="modal")
        self.job_id = job_id
        self.payload = payload

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(
                Text(f"Payload of job {self.job_id} — ctrl+s retries with it, escape cancels", style="bold"),
                classes="dialog-title",
            )
            yield TextArea(
                json.dumps(self.payload, indent=2, ensure_ascii=True), language=None, id="payload-editor"
            )
            yield Static("", id="edit-error")

    def action_save(self) -> None:
        try:
            value = parse_payload(self.query_one(TextArea).text)
        except PayloadError as exc:
            self.query_one("#edit-error", Static).update(Text(str(exc), style="red"))
            return
        self.dismiss({"payload": value})

    def action_cancel(self) -> None:
        self.dismiss(None)

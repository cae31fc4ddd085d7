"""5 Schema: migrations applied and pending (apply with confirmation), setup status, and the
doctor's findings with the SQL that fixes each."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from pgconsole.db.session import SourceError
from pgconsole.tui.models import SchemaData
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.screens.modals import ConfirmScreen, MessageScreen
from pgconsole.tui.text import STATUS_STYLE, block, heading, lit, stamp
from pgconsole.tui.widgets import columns
from pgconsole.tui.widgets.columns import Col


class SchemaScreen(LiveScreen):
    BINDINGS = [Binding("a", "apply_migrations", "Apply pending migrations", id="schema.apply")]

    def __init__(self) -> None:
        super().__init__()
        self.data = SchemaData()
        self._bindings_state: tuple[bool, bool] | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield Static(id="setup-status")
        with Horizontal(id="schema-body"):
            yield DataTable(id="migrations-table", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="fix-box", classes="panel"):
            yield Static(id="fixes")
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        self.watch(self.app, "header_info", lambda _v: self.refresh_bindings(), init=False)

    def on_resize(self) -> None:
        # Columns are fitted to the width: refit once the new layout is done, not at the next refresh.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        if self.refreshes:
            self.show(self.data)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply_migrations":
            if self.pg_app.read_only or not any(m.pending for m in self.data.migrations):
                return False
            return True if self.data.can_migrate else None  # shown disabled, the status line says why
        return True

    async def fetch(self) -> SchemaData:
        return await self.source.schema()

    def show(self, data: SchemaData) -> None:
        self.data = data
        pending = sum(1 for m in data.migrations if m.pending)
        t = heading("Setup ")
        t.append("ok" if data.setup_ok else "needs attention", style="green" if data.setup_ok else "yellow")
        t.append("  ")
        t.append_text(lit(data.setup_message, 120))
        if pending and self.data.can_migrate and not self.pg_app.read_only:
            t.append(f"  {pending} pending migration(s): press a to apply", style="yellow")
        elif pending:
            t.append(f"\n{pending} pending migration(s); cannot apply from here: ", style="yellow")
            info = self.pg_app.header_info
            why = info.read_only_reason if self.pg_app.read_only and info else data.migrate_reason
            t.append_text(lit(why, 130, style="yellow"))
        self.query_one("#setup-status", Static).update(t)
        mt: DataTable[Any] = self.query_one("#migrations-table", DataTable)
        mt.clear()
        mw = columns.apply(
            mt,
            [
                Col(
                    "version", "version", max((len(m.version) for m in data.migrations), default=1), short="v"
                ),
                Col(
                    "name",
                    "name",
                    min(40, max((len(m.name) for m in data.migrations), default=4)),
                    minimum=16,
                ),
                Col("applied", "applied", 19),
            ],
            refit=self._refit,
        )
        for m in data.migrations:
            mt.add_row(
                Text(m.version),
                lit(m.name, mw["name"]),
                Text("pending", style="yellow") if m.pending else Text(stamp(m.applied_at)),
            )
        ft: DataTable[Any] = self.query_one("#findings-table", DataTable)
        ft.clear()
        fw = columns.apply(
            ft,
            [
                Col("status", "status", max((len(f.status) for f in data.findings), default=6)),
                Col(
                    "check",
                    "check",
                    min(28, max((len(f.name) for f in data.findings), default=5)),
                    minimum=14,
                ),
                Col(
                    "message",
                    "message",
                    max((len(f.message) for f in data.findings), default=7),
                    minimum=24,
                    flex=True,
                ),
            ],
            refit=self._refit,
        )
        for f in sorted(data.findings, key=lambda f: f.status == "ok"):  # what needs a look first
            style = STATUS_STYLE.get(f.status, "")
            ft.add_row(
                Text(f.status, style=style),
                lit(f.name, fw["check"], style="" if f.status == "ok" else style),
                lit(f.message, fw["message"]),
            )
        fixes = heading("SQL to fix the findings\n")
        todo = [f for f in data.findings if f.fix]
        if not todo:
            fixes.append("  nothing to fix", style="dim")
        for f in todo:
            fixes.append(f"-- {f.name}: ", style="dim")
            fixes.append_text(lit(f.message, 120, style="dim"))
            fixes.append("\n")
            fixes.append_text(block(f.fix))
            fixes.append("\n")
        self.query_one("#fixes", Static).update(fixes)
        state = (pending > 0, data.can_migrate)
        if state != self._bindings_state:  # recomposing the footer on every refresh made it blink
            self._bindings_state = state
            self.refresh_bindings()

    def action_apply_migrations(self) -> None:
        self._apply()

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def _apply(self) -> None:
        pending = [m for m in self.data.migrations if m.pending]
        names = "\n".join(f"{m.version} {m.name}" for m in pending)
        if not await self.app.push_screen_wait(
            ConfirmScreen(
                "Apply migrations",
                f"Apply {len(pending)} pending migration(s) now, each in its own transaction?",
                names,
            )
        ):
            return
        try:
            result = await self.source.apply_migrations()
        except SourceError as exc:
            result = f"failed: {exc}"
        await self.app.push_screen_wait(MessageScreen("Migrations", result, any_key=True))
        self.kick()

"""4 Activity: sessions (the console's own hidden) with a filter, the blocking tree, and cancel /
terminate of a backend with confirmation (disabled with the reason in read-only or without rights)."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Static

from pgconsole.db.session import SourceError
from pgconsole.monitor.backends import signal_statement
from pgconsole.tui import text as _text
from pgconsole.tui.filter_line import FilterError, parse_duration
from pgconsole.tui.models import ActivityData, BackendRow
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.screens.modals import ConfirmScreen
from pgconsole.tui.text import block, heading, lit, one_line, since
from pgconsole.tui.widgets import columns
from pgconsole.tui.widgets.columns import Col
from pgconsole.tui.widgets.in_place import set_text, sync_rows
from pgconsole.tui.widgets.pools import pools_text

ACTIVITY_KEYS = ("state", "user", "app", "dur")


def check_filter(line: str) -> None:
    """FilterError for an unknown key (``sate:active`` used to match everything) or a bad duration,
    whether or not any session is there to match."""
    for tok in shlex.split(line):
        key, sep, value = tok.partition(":")
        if sep and key not in ACTIVITY_KEYS:
            raise FilterError(
                f"unknown filter key {key!r}: use {', '.join(ACTIVITY_KEYS)} "
                "(words without a key search the query text)"
            )
        if sep and key == "dur":
            parse_duration(value.lstrip(">"), "dur")


def match(row: BackendRow, line: str, now: datetime) -> bool:
    """``state:active user:app app:worker dur:>5s`` (all must match; bare words search the query)."""
    for tok in shlex.split(line):
        key, sep, value = tok.partition(":")
        v = value.lower()
        if sep and key == "state" and v not in (row.state or "").lower():
            return False
        if sep and key == "user" and v not in (row.usename or "").lower():
            return False
        if sep and key == "app" and v not in row.application_name.lower():
            return False
        if sep and key == "dur":
            start = row.query_start
            if start is None or now - start < parse_duration(value.lstrip(">"), "dur"):
                return False
        if not sep and tok.lower() not in (row.query or "").lower():
            return False
    return True


def blocking_tree(sessions: list[BackendRow]) -> Text:
    by_pid = {s.pid: s for s in sessions}
    waiting = [s for s in sessions if s.blocked_by]
    t = heading("Blocking tree\n")
    if not waiting:
        t.append("  nobody is waiting on a lock", style="dim")
        return t
    blockers = sorted(
        {b for s in waiting for b in s.blocked_by if not (by_pid.get(b) and by_pid[b].blocked_by)}
    )

    def line(pid: int, depth: int, seen: set[int]) -> None:
        s = by_pid.get(pid)
        t.append("  " + "  " * depth + ("└ " if depth else "■ "))
        t.append(f"{pid} ", style="bold red" if depth == 0 else "yellow")
        if s:
            t.append_text(
                lit(f"{s.usename or ''} {s.application_name} {s.state or ''}: {s.query or ''}", 100)
            )
        t.append("\n")
        for w in waiting:
            if pid in w.blocked_by and w.pid not in seen:
                line(w.pid, depth + 1, seen | {w.pid})

    for b in blockers:
        line(b, 0, {b})
    return t


class ActivityScreen(LiveScreen):
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="activity.filter"),
        Binding("k", "cancel_backend", "Cancel query", id="activity.cancel"),
        Binding("K", "terminate_backend", "Terminate session", id="activity.terminate"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.data = ActivityData()
        self.filter_line = ""
        self._status_line = Text()
        self._bindings_state: tuple[bool, bool] | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield Input(
            placeholder="filter — state:active user:NAME app:NAME dur:>5s  words search the query",
            id="activity-filter",
        )
        yield Static(id="activity-status")
        with Horizontal(id="activity-body"):
            yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            pools = Static(id="pgbouncer-pools", classes="panel")
            pools.border_title = "PgBouncer pools"
            pools.display = False  # shown with pgbouncer_dsn / --pgbouncer
            yield pools
            with VerticalScroll(id="tree-box", classes="panel"):
                yield Static(id="session-detail")
                yield Static(id="blocking-tree")
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        self.watch(self.app, "header_info", lambda _v: self.refresh_bindings(), init=False)
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        # Columns are fitted to the width: refit once the new layout is done, not at the next refresh.
        self.call_after_refresh(self._fill)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel_backend", "terminate_backend"):
            info = self.pg_app.header_info
            if info is None or not info.can_signal_backend:
                return False  # read-only: not offered at all (the status line says why)
            row = self._selected_row()
            if row is None or row.can_signal is False:
                return (
                    None  # shown disabled: this role may not signal that session (reason on the status line)
                )
        return True

    async def fetch(self) -> ActivityData:
        data = await self.source.activity()
        data.pools = await self.source.pgbouncer()
        return data

    def show(self, data: ActivityData) -> None:
        self.data = data
        self._fill()

    def _fill(self) -> None:
        now = _text.clock()
        table: DataTable[Any] = self.query_one(DataTable)
        keep = self._selected_pid()
        try:
            check_filter(self.filter_line)
            rows = [s for s in self.data.sessions if match(s, self.filter_line, now)]
            error = ""
        except (FilterError, ValueError) as exc:
            rows, error = self.data.sessions, str(exc)
        cells = [
            {
                "pid": Text(str(s.pid)),
                "user": lit(s.usename, 16),
                "app": lit(s.application_name, 28),
                "state": lit(s.state, 20),
                "wait": lit(s.wait_event, 24),
                "xact": Text(since(s.xact_start)),
                "age": Text(since(s.query_start)),
                "blocked": Text(",".join(map(str, s.blocked_by)), style="red"),
            }
            for s in rows
        ]

        def w(key: str) -> int:
            return max((c[key].cell_len for c in cells), default=1)

        # The query keeps a usable width at 80 columns: the application, the wait, the user and the
        # transaction age give way (the detail pane below shows them for the selected session).
        widths = columns.apply(
            table,
            [
                Col("pid", "pid", w("pid")),
                Col("user", "user", w("user"), minimum=10, priority=3),
                Col("app", "application", w("app"), short="app", minimum=12, priority=5),
                Col("state", "state", w("state")),
                Col("wait", "wait", w("wait"), minimum=10, priority=4),
                Col("xact", "xact", w("xact"), priority=2),
                Col("age", "query age", w("age"), short="age"),
                Col("blocked", "blocked by", w("blocked"), short="by", priority=1),
                Col(
                    "query",
                    "query",
                    max((len(one_line(s.query or "")) for s in rows), default=5),
                    minimum=30,
                    flex=True,
                ),
            ],
            refit=self._fill,
        )
        for s, row_cells in zip(rows, cells, strict=True):
            row_cells["query"] = lit(one_line(s.query or ""), widths["query"])
            for k in ("user", "app", "state", "wait"):
                if k in widths:
                    row_cells[k] = lit(row_cells[k].plain, widths[k])
        # Keyed by pid: a session's changed cells are updated, the table is not refilled.
        sync_rows(table, [(str(s.pid), [c[k] for k in widths]) for s, c in zip(rows, cells, strict=True)])
        if keep is not None and self._selected_pid() != keep:  # rows above it came or went
            try:
                table.move_cursor(row=table.get_row_index(str(keep)))
            except Exception:  # noqa: BLE001 - that session ended
                pass
        t = Text(
            f"{len(rows)} of {len(self.data.sessions)} sessions shown; "
            f"{self.data.hidden_own} of the console's own hidden"
        )
        if error:
            t.append(f"  {error}", style="red")
        self._status_line = t
        self._show_status()
        self._show_detail()
        set_text(self.query_one("#blocking-tree", Static), blocking_tree(self.data.sessions))
        self._show_pools()

    def _show_pools(self) -> None:
        panel = self.query_one("#pgbouncer-pools", Static)
        pools = self.data.pools
        if panel.display != pools.configured:
            panel.display = pools.configured
        if pools.configured:
            # the panel's border and padding take 4 cells of the screen's width
            set_text(panel, pools_text(pools, max(40, self.size.width - 4)))

    def _show_status(self) -> None:
        t = self._status_line.copy()
        info = self.pg_app.header_info
        row = self._selected_row()
        if info is not None and not info.can_signal_backend:
            t.append("\ncancel/terminate unavailable: ", style="yellow")
            t.append_text(block(info.signal_reason, style="yellow"))
        elif row is not None and row.can_signal is False:
            t.append(f"\ncancel/terminate unavailable for pid {row.pid}: ", style="yellow")
            t.append_text(block(row.signal_reason, style="yellow"))
        set_text(self.query_one("#activity-status", Static), t)
        # Only when what the footer offers changes: refresh_bindings recomposes the footer, and doing
        # it on every refresh made it blink (and left it empty in screenshots taken right after).
        state = (
            info is not None and info.can_signal_backend,
            row is not None and row.can_signal is not False,
        )
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#sessions-table")
    def _row_changed(self) -> None:
        self._show_status()
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected session whole (the table truncates), above the blocking tree."""
        row = self._selected_row()
        t = Text()
        if row is not None:
            t.append(f"pid {row.pid}", style="bold")
            t.append("  ")
            t.append_text(
                lit(
                    f"{row.usename or '?'} · {row.application_name or '-'} · {row.client_addr or 'local'} · "
                    f"{row.state or '?'}",
                    120,
                    style="dim",
                )
            )
            t.append("\n")
            t.append_text(block(row.query or ""))
            t.append("\n")
        set_text(self.query_one("#session-detail", Static), t)

    def _selected_row(self) -> BackendRow | None:
        pid = self._selected_pid()
        return next((s for s in self.data.sessions if s.pid == pid), None) if pid is not None else None

    def _selected_pid(self) -> int | None:
        table: DataTable[Any] = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            return int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        except Exception:  # noqa: BLE001
            return None

    def action_focus_filter(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#activity-filter")
    def _filter(self, event: Input.Submitted) -> None:
        self.filter_line = event.value
        self._fill()
        self.query_one(DataTable).focus()

    def action_cancel_backend(self) -> None:
        self._signal(False)

    def action_terminate_backend(self) -> None:
        self._signal(True)

    @work(exclusive=True, group="signal", exit_on_error=False)
    async def _signal(self, terminate: bool) -> None:
        pid = self._selected_pid()
        if pid is None:
            return
        row = next((s for s in self.data.sessions if s.pid == pid), None)
        what = (
            "Terminate session — this ENDS the session and rolls back its transaction"
            if terminate
            else "Cancel the running query (the session stays)"
        )
        stmt = signal_statement(pid, terminate)
        question = (
            f"{what}: pid {pid} ({row.usename if row else '?'} / {row.application_name if row else '?'})"
        )
        if not await self.app.push_screen_wait(
            ConfirmScreen(
                "Terminate session" if terminate else "Cancel query", question, stmt, danger=terminate
            )
        ):
            return
        try:
            result = await self.source.signal_backend(pid, terminate)
        except SourceError as exc:
            result = f"failed: {exc}"
        self.notify(result, markup=False)
        self.kick()

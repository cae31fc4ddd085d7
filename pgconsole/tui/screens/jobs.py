"""2 Jobs: filtered keyset-paged table, stuck jobs, failures grouped by error, and the actions."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from pgconsole.queue.browse import cursor_of
from pgconsole.queue.models import STUCK_REASONS
from pgconsole.tui import filter_line as filters
from pgconsole.tui import text as _text
from pgconsole.tui.models import (
    SORT_KEYS,
    ActionKind,
    ActionTarget,
    FailureGroup,
    JobPage,
    JobQuery,
    StuckJob,
)
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.text import STATUS_STYLE, age, as_datetime, lit, since, stamp
from pgconsole.tui.widgets import columns
from pgconsole.tui.widgets.columns import Col
from pgconsole.tui.widgets.in_place import set_text, sync_rows

HISTORY_PAGE_REFRESH_S = 10.0
SLOW_PAGE_S = 0.25
ACTIONS = {"retry", "cancel", "delete", "retry_filter", "cancel_filter", "delete_filter", "edit_retry"}


def _due(ts: datetime | None) -> str:
    """How long the job has been due (``22s``), or ``in 5m`` for one scheduled ahead."""
    aware, now = as_datetime(ts), _text.clock()  # the module's clock: snapshot tests pin it
    if aware is not None and aware > now:
        return f"in {age((aware - now).total_seconds())}"
    return since(ts)


class JobsScreen(LiveScreen):
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="jobs.filter"),
        Binding("f", "failed_only", "Failed", id="jobs.failed"),
        Binding("l", "tab('list')", "List", show=False, id="jobs.tab_list"),  # the tab labels show the key
        Binding("s", "tab('stuck')", "Stuck", show=False, id="jobs.tab_stuck"),  # the tab labels show the key
        Binding(
            "g", "tab('failures')", "By error", show=False, id="jobs.tab_failures"
        ),  # the tab labels show the key
        Binding("m", "mark", "Mark", id="jobs.mark"),
        # Paging and sort are named on the status line ("page 1 (n/p)", "sort … (o)"), so the footer
        # keeps its room for the actions; they stay in help (?) and the command palette.
        Binding("n", "next_page", "Next page", show=False, id="jobs.next"),
        Binding("p", "prev_page", "Prev page", show=False, id="jobs.prev"),
        Binding("o", "cycle_sort", "Sort", show=False, id="jobs.sort"),
        Binding("r", "retry", "Retry", id="jobs.retry"),
        Binding("c", "cancel", "Cancel", id="jobs.cancel"),
        Binding("d", "delete", "Delete", id="jobs.delete"),
        Binding("e", "edit_retry", "Edit+retry", id="jobs.edit_retry"),
        Binding("R", "retry_filter", "Retry all matching", show=False, id="jobs.retry_all"),
        Binding("C", "cancel_filter", "Cancel all matching", show=False, id="jobs.cancel_all"),
        Binding("D", "delete_filter", "Delete all matching", show=False, id="jobs.delete_all"),
        # The system selector: the other queue systems in this database are on the Queues screen.
        Binding("S", "app.switch_mode('queues')", "Other queue systems", show=False, id="jobs.systems"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_model = JobQuery()
        self.page_starts: list[tuple[Any, str] | None] = [None]
        self.page = JobPage(rows=[])
        self.marked: set[str] = set()
        self.filter_error = ""
        self.stuck: list[StuckJob] = []
        self.failures: list[FailureGroup] = []
        self._page_key: tuple[JobQuery, tuple[Any, str] | None] | None = None
        self._page_at = 0.0
        self._page_cost_s = 0.0
        self._row_cells: dict[str, tuple[tuple[Any, ...], list[Any]]] = {}  # job id -> (what, cells)

    def compose(self) -> ComposeResult:
        yield from self.compose_chrome_top()
        yield Input(placeholder=f"filter — {filters.HELP}", id="filter")
        yield Static(id="jobs-status")
        with TabbedContent(id="jobs-tabs", initial="list"):
            with TabPane("Jobs (l)", id="list"):
                yield Static(id="jobs-empty")  # "no job matches …" instead of a blank table
                yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Stuck (s)", id="stuck"):
                yield DataTable(id="stuck-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Failures by error (g)", id="failures"):
                yield DataTable(id="failures-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_chrome_bottom()

    def on_mount(self) -> None:
        self.query_one("#jobs-empty", Static).display = False
        self.watch(self.app, "header_info", lambda _v: self.refresh_bindings(), init=False)
        self.query_one("#jobs-table", DataTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTIONS and self.pg_app.read_only:
            return False  # read-only: the binding is neither shown nor runnable
        return True

    # -- data --------------------------------------------------------------------------------
    @property
    def tab(self) -> str:
        return self.query_one(TabbedContent).active or "list"

    async def fetch(self) -> tuple[str, Any]:
        tab = self.tab
        if tab == "stuck":
            return tab, await self.source.stuck_jobs()
        if tab == "failures":
            return tab, await self.source.failure_groups()
        key = (self.query_model, self.page_starts[-1])
        if self.timed and key == self._page_key and time.monotonic() - self._page_at < self._page_interval():
            return tab, self.page  # nothing re-queried: see _page_interval
        started = time.monotonic()
        page = await self.source.jobs_page(self.query_model, self.page_starts[-1])
        self._page_key, self._page_at = key, time.monotonic()
        self._page_cost_s = self._page_at - started
        return tab, page

    def _page_interval(self) -> float:
        """How often the timer re-queries the shown page. The first page, where new and changed jobs
        appear, at every refresh. A later page (keyset: only jobs older than the page before it) and
        a page that timed out or took longer than SLOW_PAGE_S, every HISTORY_PAGE_REFRESH_S: their
        rows change by actions (after which the screen re-queries at once) and by the few jobs
        still running among them, and a slow page (a filter no index serves) would otherwise spend
        its cost again every second."""
        if len(self.page_starts) > 1 or self.page.timed_out or self._page_cost_s > SLOW_PAGE_S:
            return HISTORY_PAGE_REFRESH_S
        return 0.0

    def show(self, data: tuple[str, Any]) -> None:
        tab, value = data
        if tab == "stuck":
            self.stuck = value
            self._fill_stuck()
        elif tab == "failures":
            self.failures = value
            self._fill_failures()
        else:
            self.page = value
            self._fill_jobs()
        self._status()

    def on_resize(self) -> None:
        # Columns are fitted to the width: refit once the new layout is done, not at the next refresh.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        self._fill_jobs()
        self._fill_stuck()
        self._fill_failures()

    def _fill_jobs(self) -> None:
        table: DataTable[Any] = self.query_one("#jobs-table", DataTable)
        keep = self.selected_id()
        rows = self.page.rows
        type_w = min(24, max((len(r.job_type) for r in rows), default=4))
        # At 80 columns the error keeps a usable width: created and priority give way first.
        widths = columns.apply(
            table,
            [
                Col("mark", " ", 1),
                Col("id", "id", 12, minimum=8),
                Col("type", "type", type_w, minimum=12),
                Col("status", "status", 10),
                Col("prio", "prio", 4, priority=4),
                Col("fails", "fails", 5, priority=2),
                Col("created", "created", 5, priority=3),
                Col("due", "due", 6, priority=1),
                Col(
                    "error",
                    "error",
                    max((len(r.error_message or "") for r in rows), default=5),
                    minimum=24,
                    flex=True,
                ),
            ],
            refit=self._refit,
        )
        keyed = []
        cache: dict[str, tuple[tuple[Any, ...], list[Any]]] = {}
        layout = tuple(widths.items())
        for r in rows:
            # A row whose job, mark, ages and column widths are those of the last refresh keeps
            # its cells (the same objects: nothing to build, nothing to compare).
            created, due = since(r.created_at), _due(r.scheduled_at)
            sig = (r, r.id in self.marked, created, due, layout)
            hit = self._row_cells.get(r.id)
            if hit is not None and hit[0] == sig:
                cache[r.id] = hit
                keyed.append((r.id, hit[1]))
                continue
            cells = {
                "mark": Text("●" if r.id in self.marked else " ", style="bold yellow"),
                "id": Text(r.id[-widths["id"] :], style="dim"),
                "type": lit(r.job_type, widths["type"]),
                "status": Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                "prio": Text(str(r.priority), justify="right"),
                # failed attempts of the attempts allowed (max_retries + 1): 4/4 = no retry left
                "fails": Text(f"{r.retry_count}/{r.max_retries + 1}", justify="right"),
                "created": Text(created),
                "due": Text(due),
                "error": lit(r.error_message, widths["error"]),
            }
            cache[r.id] = (sig, [cells[k] for k in widths])
            keyed.append((r.id, cache[r.id][1]))
        self._row_cells = cache
        # Keyed by job id: a refresh of the same page updates the cells that changed (a status, an
        # age), and a page that gained new jobs at the top is rebuilt.
        sync_rows(table, keyed)
        if keep and self.selected_id() != keep:
            self._move_to(table, keep)
        empty = self.query_one("#jobs-empty", Static)
        if empty.display != (not self.page.rows):
            empty.display = not self.page.rows
        if self.page.timed_out:
            set_text(empty, lit(self.page.note, 200, style="yellow"))
        elif not self.page.rows:
            t = Text("no job matches ", style="yellow")
            if self.query_model.describe() == "all jobs":
                t.append("(no filter): the queue holds no jobs", style="yellow")
            else:
                t.append_text(lit(self.query_model.describe(), 120, style="bold yellow"))
                t.append("  (/ changes the filter)", style="dim")
            set_text(empty, t)

    @staticmethod
    def _move_to(table: DataTable[Any], key: str) -> None:
        try:
            table.move_cursor(row=table.get_row_index(key))
        except Exception:  # noqa: BLE001 - the row left the page (e.g. its status changed)
            pass

    def _fill_stuck(self) -> None:
        table: DataTable[Any] = self.query_one("#stuck-table", DataTable)
        st = self.stuck
        widths = columns.apply(
            table,
            [
                Col("id", "id", 12, minimum=8),
                Col("type", "type", min(24, max((len(s.job_type) for s in st), default=4)), minimum=12),
                Col(
                    "worker",
                    "worker",
                    min(30, max((len(s.locked_by or "") for s in st), default=6)),
                    minimum=10,
                    priority=2,
                ),
                Col("started", "started", 19, priority=3),
                Col("heartbeat", "heartbeat", 5, short="beat", priority=1),
                Col(
                    "reason",
                    "reason",
                    max((len(STUCK_REASONS.get(s.reason, s.reason)) for s in st), default=6),
                    minimum=24,
                    flex=True,
                ),
            ],
            refit=self._refit,
        )
        keyed = []
        for s in st:
            cells = {
                "id": Text(str(s.id)[-widths["id"] :], style="dim"),
                "type": lit(s.job_type, widths["type"]),
                "worker": lit(s.locked_by, widths.get("worker", 30)),
                "started": Text(stamp(s.started_at)),
                "heartbeat": Text(since(s.heartbeat_at)),
                "reason": lit(STUCK_REASONS.get(s.reason, s.reason), widths["reason"]),
            }
            keyed.append((str(s.id), [cells[k] for k in widths]))
        sync_rows(table, keyed)

    def _fill_failures(self) -> None:
        table: DataTable[Any] = self.query_one("#failures-table", DataTable)
        fs = self.failures
        widths = columns.apply(
            table,
            [
                Col("count", "count", max((len(str(f.n)) for f in fs), default=5)),
                Col("type", "type", min(24, max((len(f.job_type) for f in fs), default=4)), minimum=12),
                Col("last", "last seen", 5, short="last", priority=1),
                Col("error", "error", max((len(f.message) for f in fs), default=5), minimum=24, flex=True),
            ],
            refit=self._refit,
        )
        keyed = []
        for i, f in enumerate(fs):
            cells = {
                "count": Text(str(f.n), justify="right", style="red"),
                "type": lit(f.job_type, widths["type"]),
                "last": Text(since(f.last_at)),
                "error": lit(f.message, widths["error"]),
            }
            keyed.append((str(i), [cells[k] for k in widths]))  # the key indexes self.failures
        sync_rows(table, keyed)

    def _status(self) -> None:
        t = Text()
        if self.filter_error:
            t.append(self.filter_error, style="red")
        else:
            t.append_text(lit(self.query_model.describe(), 80, style="bold"))
            t.append(f"  ·  {len(self.page.rows)} rows  ·  page {len(self.page_starts)}")
            nav = [
                k
                for k, ok in (("n next", self.page.has_more), ("p previous", len(self.page_starts) > 1))
                if ok
            ]
            if nav:
                t.append(f" ({', '.join(nav)})", style="dim")
            t.append(f"  ·  sort {self.query_model.sort.replace('_', ' ')}")
            t.append(" (o)", style="dim")
            if self.page.note and not self.page.timed_out:
                t.append("  ")
                t.append_text(lit(self.page.note, 90, style="dim"))
            if self.marked:
                t.append(f"  {len(self.marked)} marked", style="yellow")
        info = self.pg_app.header_info
        if info is not None and info.read_only:
            t.append("  no actions: ", style="yellow")
            t.append_text(lit(info.read_only_reason, 90, style="yellow"))
        set_text(self.query_one("#jobs-status", Static), t)

    def selected_id(self) -> str | None:
        table: DataTable[Any] = self.query_one("#jobs-table", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001
            return None
        return str(key.value) if key.value is not None else None

    # -- navigation -------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_failed_only(self) -> None:
        self._apply_filter("status:failed")

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(
            f"#{ {'list': 'jobs', 'stuck': 'stuck', 'failures': 'failures'}[tab] }-table", DataTable
        ).focus()
        self.kick()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.kick()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter(event.value)

    def _apply_filter(self, line: str) -> None:
        try:
            self.query_model = filters.parse_filter(line).model_copy(update={"sort": self.query_model.sort})
            if "sort:" in line:
                self.query_model = filters.parse_filter(line)
            self.filter_error = ""
        except filters.FilterError as exc:
            self.filter_error = str(exc)
            self._status()
            return
        self.query_one("#filter", Input).value = filters.to_line(self.query_model)
        self.page_starts = [None]
        self.marked.clear()
        self.query_one(TabbedContent).active = "list"
        self.query_one("#jobs-table", DataTable).focus()
        self.kick()

    def action_next_page(self) -> None:
        if self.page.has_more and self.page.rows:
            self.page_starts.append(cursor_of(self.page.rows[-1], self.query_model))
            self.kick()

    def action_prev_page(self) -> None:
        if len(self.page_starts) > 1:
            self.page_starts.pop()
            self.kick()

    def action_cycle_sort(self) -> None:
        i = SORT_KEYS.index(self.query_model.sort)
        self.query_model = self.query_model.model_copy(update={"sort": SORT_KEYS[(i + 1) % len(SORT_KEYS)]})
        self.page_starts = [None]
        self.kick()

    def action_mark(self) -> None:
        job = self.selected_id()
        if job is None:
            return
        self.marked.symmetric_difference_update({job})
        table: DataTable[Any] = self.query_one("#jobs-table", DataTable)
        table.update_cell(
            job, table.ordered_columns[0].key, Text("●" if job in self.marked else " ", style="bold yellow")
        )
        table.action_cursor_down()
        self._status()

    @on(DataTable.RowSelected, "#jobs-table")
    @on(DataTable.RowSelected, "#stuck-table")
    def _open_detail(self, event: DataTable.RowSelected) -> None:
        from pgconsole.tui.screens.job_detail import JobDetailScreen

        if event.row_key.value:
            self.app.push_screen(JobDetailScreen(str(event.row_key.value)))

    @on(DataTable.RowSelected, "#failures-table")
    def _drill_failure(self, event: DataTable.RowSelected) -> None:
        f = self.failures[int(str(event.row_key.value))]
        self.query_model = JobQuery(
            statuses=["failed"], job_types=[f.job_type], error_contains=f.message[:80] if f.error else None
        )
        self.query_one("#filter", Input).value = filters.to_line(self.query_model)
        self.page_starts = [None]
        self.action_tab("list")

    # -- actions ----------------------------------------------------------------------------
    def _chosen(self) -> ActionTarget | None:
        if self.marked:
            return ActionTarget(ids=sorted(self.marked), source="marked")
        job = self.selected_id()
        return ActionTarget(ids=[job], source="cursor") if job else None

    def _act(self, kind: ActionKind, everything: bool = False) -> None:
        # A cancel of everything matching also asks running jobs to stop (`jobs cancel --include-running`).
        target = (
            ActionTarget(filter=self.query_model, source="filter", request_running=kind == "cancel")
            if everything
            else self._chosen()
        )
        if target is None:
            self.notify("no job selected", severity="warning")
            return
        self.pg_app.start_job_action(kind, target, on_done=self.after_action)

    def after_action(self) -> None:
        """After an action ran: the marks are spent. Kept, a marked job that left the page (a retried
        job is no longer failed) would be the hidden target of the next key."""
        if not self.marked:
            return
        self.marked.clear()
        table: DataTable[Any] = self.query_one("#jobs-table", DataTable)
        for row_key in list(table.rows):
            table.update_cell(row_key, table.ordered_columns[0].key, Text(" "))
        self._status()

    def action_retry(self) -> None:
        self._act("retry")

    def action_cancel(self) -> None:
        self._act("cancel")

    def action_delete(self) -> None:
        self._act("delete")

    def action_retry_filter(self) -> None:
        self._act("retry", everything=True)

    def action_cancel_filter(self) -> None:
        self._act("cancel", everything=True)

    def action_delete_filter(self) -> None:
        self._act("delete", everything=True)

    def action_edit_retry(self) -> None:
        job = self.selected_id()
        if job:
            self.pg_app.edit_and_retry(job)

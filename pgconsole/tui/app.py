"""PgConsoleApp: modes 1-5, global bindings, shared state (header, banner, health, refresh), the
command palette, and the job-action flow (preview → confirm → batched run → report)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme

from pgconsole.db.session import SourceError
from pgconsole.resources import stylesheet
from pgconsole.tui.models import ActionKind, ActionTarget, CheckResult, HeaderInfo
from pgconsole.tui.screens.activity import ActivityScreen
from pgconsole.tui.screens.help import HelpScreen
from pgconsole.tui.screens.jobs import JobsScreen
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen, MessageScreen
from pgconsole.tui.screens.overview import OverviewScreen
from pgconsole.tui.screens.queries import QueriesScreen
from pgconsole.tui.screens.queues import QueuesScreen
from pgconsole.tui.screens.schema import SchemaScreen
from pgconsole.tui.screens.workers import WorkersScreen
from pgconsole.tui.source import DataSource

HISTORY = 120  # points kept per chart: 4 minutes at the default 2 s
HEALTH_INTERVAL_S = 10.0  # the banner's checks on screens other than the Overview

PGCONSOLE_THEME = Theme(
    name="pgconsole",
    primary="#3b82f6",
    secondary="#14b8a6",
    accent="#f59e0b",
    warning="#f59e0b",
    error="#ef4444",
    success="#22c55e",
    background="#0f172a",
    surface="#111827",
    panel="#1e293b",
    dark=True,
)

MODE_TITLES = {
    "overview": "1 Overview",
    "jobs": "2 Jobs",
    "queries": "3 Queries",
    "activity": "4 Activity",
    "schema": "5 Schema",
    "workers": "6 Workers",
    "queues": "7 Queues",
}


class PgConsoleApp(App[int]):
    TITLE = "pgconsole"
    CSS_PATH = [stylesheet("app.tcss")]  # styles/ in a checkout, pgconsole/styles in a wheel
    # Screen classes for styles/app.tcss: at 80x24 (the SSH default) charts give way to the tables.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    MODES = {
        "overview": OverviewScreen,
        "jobs": JobsScreen,
        "queries": QueriesScreen,
        "activity": ActivityScreen,
        "schema": SchemaScreen,
        "workers": WorkersScreen,
        "queues": QueuesScreen,
    }
    BINDINGS = [
        Binding("1", "switch_mode('overview')", "Overview", id="mode.overview"),
        Binding("2", "switch_mode('jobs')", "Jobs", id="mode.jobs"),
        Binding("3", "switch_mode('queries')", "Queries", id="mode.queries"),
        Binding("4", "switch_mode('activity')", "Activity", id="mode.activity"),
        Binding("5", "switch_mode('schema')", "Schema", id="mode.schema"),
        Binding("6", "switch_mode('workers')", "Workers", id="mode.workers"),
        # Not in the footer's "1-6 Modes" fold (the help lists it): every queue system in the database.
        Binding("7", "switch_mode('queues')", "Queues", show=False, id="mode.queues"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_ctrl"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
        Binding("space", "toggle_pause", "Pause", show=False, id="app.pause"),
        Binding("plus,equals_sign", "faster", "Faster", show=False, id="app.faster"),
        Binding("minus", "slower", "Slower", show=False, id="app.slower"),
        Binding("T", "next_target", "Next target", show=False, id="app.next_target"),
    ]

    header_info: reactive[HeaderInfo | None] = reactive(None)
    db_error: reactive[str] = reactive("")
    db_error_kind = "network"  # SourceError.kind of db_error: the banner's words depend on it
    # Set at every Overview refresh; its watchers (the banner) redraw what changed. No repaint: an
    # app-level repaint paints the whole screen again, every widget on it.
    health: reactive[list[CheckResult]] = reactive(list, always_update=True, repaint=False)
    paused: reactive[bool] = reactive(False)
    refresh_interval: reactive[float] = reactive(2.0)
    mode_title: reactive[str] = reactive("1 Overview")

    def __init__(
        self,
        source: DataSource,
        *,
        refresh: float = 2.0,
        start_mode: str = "overview",
        targets: Mapping[str, Callable[[], DataSource]] | None = None,
        target: str | None = None,
    ) -> None:
        """``targets``: profile name -> a factory of its data source, to switch between them
        (palette, ``T``); ``target``: the name of ``source`` among them."""
        super().__init__()
        self.source = source
        self.targets = dict(targets or {})
        self.target = target
        self.start_mode = start_mode
        self.set_reactive(PgConsoleApp.refresh_interval, refresh)
        self.history: dict[str, deque[float]] = {}
        self.first_data_at: float | None = None  # monotonic time of the first rendered data (startup metric)
        self.fatal_error = ""  # why the app ended by itself (a refused login); the CLI prints it

    def end_on_login_refused(self, message: str) -> None:
        """The server refused the login (wrong or missing password, no pg_hba.conf entry): end the
        console with the reason instead of retrying every refresh forever."""
        self.fatal_error = message
        self.exit(2, return_code=2)

    health_interval = HEALTH_INTERVAL_S

    def on_mount(self) -> None:
        self.register_theme(PGCONSOLE_THEME)
        self.theme = "pgconsole"
        self.switch_mode(self.start_mode)
        self.set_interval(self.health_interval, self._refresh_health)

    def _refresh_health(self) -> None:
        """The Overview reads the checks with its own refresh; every other screen keeps the banner
        current through this one."""
        if not self.paused and not isinstance(self.screen, OverviewScreen):
            self._read_health()

    @work(exclusive=True, group="health", exit_on_error=False)
    async def _read_health(self) -> None:
        try:
            self.health = await self.source.health()
        except Exception:  # noqa: BLE001 - the screen's own refresh reports database errors
            return

    def on_unmount(self) -> None:
        self.source.close()

    def record(self, name: str, value: float | None) -> list[float]:
        series = self.history.setdefault(name, deque(maxlen=HISTORY))
        if value is not None:
            series.append(float(value))
        return list(series)

    async def load_header(self) -> None:
        self.header_info = await self.source.header()

    @property
    def read_only(self) -> bool:
        return self.header_info is None or self.header_info.read_only

    # -- global actions --------------------------------------------------------------------
    async def action_switch_mode(self, mode: str) -> None:
        self.mode_title = MODE_TITLES.get(mode, mode)
        await self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.exit(0)

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            kick = getattr(self.screen, "kick", None)
            if kick:
                kick()
        self.notify("refresh paused" if self.paused else "refresh resumed", timeout=2)

    def action_faster(self) -> None:
        self.refresh_interval = max(0.5, round(self.refresh_interval / 2, 2))

    def action_slower(self) -> None:
        self.refresh_interval = min(300.0, round(self.refresh_interval * 2, 2))

    # -- targets ---------------------------------------------------------------------------
    async def action_switch_target(self, name: str) -> None:
        """Watch another profile: a fresh data source (its own sessions, no carried snapshot), the
        header and every screen re-read from it; the old source's sessions are closed."""
        factory = self.targets.get(name)
        if factory is None or name == self.target:
            return
        try:
            new = factory()
        except Exception as exc:  # noqa: BLE001 - a bad profile (config error) is reported, not fatal
            self.notify(f"cannot switch to {name}: {exc}", severity="error")
            return
        old, self.source = self.source, new
        self.target = name
        old.close()
        self.history.clear()
        self.db_error = ""
        self.header_info = None
        self.health = []
        self.notify(f"target: {name}", timeout=2)
        kick = getattr(self.screen, "kick", None)
        if kick:
            kick()

    async def action_next_target(self) -> None:
        names = list(self.targets)
        if len(names) < 2:
            self.notify("one target only: give --profile more than once, or add profiles to the config")
            return
        i = names.index(self.target) if self.target in names else -1
        await self.action_switch_target(names[(i + 1) % len(names)])

    # -- command palette -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for mode, title in MODE_TITLES.items():
            yield SystemCommand(
                f"Go to {title[2:]}", f"key {title[0]}", lambda m=mode: self.run_action(f"switch_mode('{m}')")
            )
        yield SystemCommand("Help: list every binding", "key ?", self.action_help)
        yield SystemCommand("Pause / resume refresh", "key space", self.action_toggle_pause)
        yield SystemCommand("Refresh faster", "key +", self.action_faster)
        yield SystemCommand("Refresh slower", "key -", self.action_slower)
        for name in self.targets:
            if name != self.target:
                yield SystemCommand(
                    f"Switch target: {name}",
                    "watch this profile instead (key T: the next one)",
                    lambda n=name: self.run_action(f"switch_target({n!r})"),
                )
        if not self.read_only:
            for task, text in (
                ("rescue", "rescue stuck jobs"),
                ("expire", "expire overdue pending jobs"),
                ("cleanup", "delete finished jobs past retention"),
            ):
                yield SystemCommand(
                    f"Maintenance: {text}",
                    f"runs the queue's {task} step once",
                    lambda t=task: self.run_maintenance(t),
                )
        # The current screen's own actions, only those its check_action allows (read-only hides them).
        for b in getattr(screen, "BINDINGS", []):
            if isinstance(b, Binding) and b.description and screen.check_action(b.action, ()) is not False:
                yield SystemCommand(
                    b.description, f"key {b.key}", lambda a=b.action, s=screen: s.run_action(a)
                )
        yield SystemCommand("Quit", "key q / ctrl+q", lambda: self.exit(0))

    # -- job actions -----------------------------------------------------------------------
    def start_job_action(
        self, kind: ActionKind, target: ActionTarget, on_done: Callable[[], None] | None = None
    ) -> None:
        """Preview, confirm with the row count and statement, then run in batches; ``on_done`` runs
        after the action ran (the Jobs screen clears its marks there)."""
        if self.read_only:
            reason = self.header_info.read_only_reason if self.header_info else "not connected"
            self.notify(f"no actions: {reason}", severity="warning", markup=False)
            return
        self._preview_and_confirm(kind, target, on_done)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def _preview_and_confirm(
        self, kind: ActionKind, target: ActionTarget, on_done: Callable[[], None] | None = None
    ) -> None:
        try:
            preview = await self.source.preview(kind, target)
        except SourceError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if preview.matched == 0:
            self.notify(f"{kind}: no job matches {target.describe()}", markup=False)
            return
        confirm = ConfirmScreen.for_action(preview)
        if await self.push_screen_wait(confirm):
            target = target.model_copy(update={"reason": confirm.reason_text()})
            await self.push_screen_wait(ActionRunScreen(kind, target, preview.eligible))
            if on_done is not None:
                on_done()
            refresh = getattr(self.screen, "kick", None)
            if refresh:
                refresh()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def run_maintenance(self, task: str) -> None:
        from pgconsole.queue import maintenance

        ok = await self.push_screen_wait(
            ConfirmScreen(
                "Maintenance", f"Run the queue's {task} step once now?", maintenance.statement(task)
            )
        )
        if not ok:
            return
        try:
            result = await self.source.maintenance(task)
        except SourceError as exc:
            result = f"failed: {exc}"
        await self.push_screen_wait(MessageScreen(f"Maintenance: {task}", result, any_key=True))

    def edit_and_retry(self, job_id: str) -> None:
        if self.read_only:
            self.start_job_action("retry", ActionTarget(ids=[job_id]))  # says why nothing can run
            return
        self._edit_and_retry(job_id)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def _edit_and_retry(self, job_id: str) -> None:
        from pgconsole.tui.screens.modals import EditPayloadScreen

        try:
            detail = await self.source.job_detail(job_id)
        except SourceError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if detail is None:
            self.notify("that job no longer exists", severity="warning")
            return
        edited = await self.push_screen_wait(EditPayloadScreen(job_id, detail.job.payload))
        if edited is None:
            return
        self._preview_and_confirm("retry", ActionTarget(ids=[job_id], payload=edited["payload"]))

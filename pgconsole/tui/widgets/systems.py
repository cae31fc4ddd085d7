"""The queue systems in the database, grouped by system: one row per (system, state) with the
native states and how each count was obtained. Used by the Queues screen (7) and, when the
database holds another system beside pgconsole's own, by the Overview (a panel of its own that
refreshes itself, so the Overview's own refresh is untouched)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets import DataTable, Static

from pgconsole.db.session import SourceError
from pgconsole.queue.systems.base import CountMethod
from pgconsole.queue.systems.registry import SystemRead
from pgconsole.tui.text import age, lit
from pgconsole.tui.widgets.in_place import set_text, sync_rows

COLUMNS = ("system", "state", "jobs", "native", "types", "oldest due", "15 min")


def count_text(n: int, method: CountMethod) -> Text:
    shown = {"capped": f"{n:,}+", "estimate": f"~{n:,}"}.get(method, f"{n:,}")
    return Text(shown, justify="right", style="dim" if method == "estimate" else "")


def system_rows(reads: list[SystemRead]) -> list[tuple[str, list[Text]]]:
    """(row key, cells) per system and state; the system's name on its first row only."""
    out: list[tuple[str, list[Text]]] = []
    for r in reads:
        name = r.info.name + (f" {r.info.version}" if r.info.version else "")
        if r.summary is None:
            out.append(
                (
                    f"{r.info.name}|",
                    [lit(name, 28), Text("cannot read", style="red"), Text(""), lit(r.error or "", 60)],
                )
            )
            out[-1][1].extend([Text(""), Text(""), Text("")])
            continue
        s = r.summary
        tp = s.throughput
        done = f"{tp.completed:,} ok / {tp.failed:,} failed" if tp else "–"
        types = ", ".join(t.name for t in s.types[:3]) + (f" +{len(s.types) - 3}" if len(s.types) > 3 else "")
        for i, st in enumerate(s.states):
            first = i == 0
            natives = ", ".join(n.native for n in s.native_states if n.state == st.state)
            out.append(
                (
                    f"{r.info.name}|{st.state}",
                    [
                        lit(name if first else "", 28, "bold"),
                        Text(st.state, style="red" if st.state == "failed" and st.count else ""),
                        count_text(st.count, st.method),
                        lit(natives, 30, "dim"),
                        lit(types if first else "", 30),
                        Text(
                            age(s.oldest_due_age_s) if first and s.oldest_due_age_s is not None else "",
                            justify="right",
                        ),
                        Text(done if first else "", style="dim"),
                    ],
                )
            )
    return out


def fill(table: DataTable[Any], reads: list[SystemRead]) -> None:
    """The rows updated in place by key (a refresh that changes one count redraws that cell)."""
    if not table.columns:
        table.add_columns(*COLUMNS)
    keep = table.cursor_row
    if sync_rows(table, system_rows(reads)) and table.row_count:
        table.move_cursor(row=min(keep, table.row_count - 1))


class SystemsPanel(Static):
    """The Overview's queue systems beside pgconsole's own: hidden while there is no other one."""

    DEFAULT_CSS = "SystemsPanel { display: none; height: auto; max-height: 12; } SystemsPanel.-shown { display: block; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timer: Timer | None = None
        self.reads: list[SystemRead] = []

    def on_mount(self) -> None:
        self.border_title = "Queue systems"
        self._tick()

    def _tick(self) -> None:
        self.run_worker(self._read(), exclusive=True, group="systems", exit_on_error=False)

    async def _read(self) -> None:
        app: Any = self.app
        source = getattr(app, "source", None)
        reader = getattr(source, "systems", None)
        if reader is None:
            return  # a data source without queue systems (the tests' fakes)
        try:
            if self.screen.is_current:
                self.reads = await reader()
                self._show_reads()
        except SourceError:
            pass  # the banner shows the Overview's own error; this panel keeps its last rows
        if app.is_running:
            self._timer = self.set_timer(max(2.0, float(getattr(app, "refresh_interval", 2.0))), self._tick)

    def _show_reads(self) -> None:
        # pgconsole's own queue is the table above, by type: here one line per other system.
        others = [r for r in self.reads if r.info.kind != "pgconsole"]
        self.set_class(bool(others), "-shown")
        if others:
            set_text(self, Text("\n").join(system_line(r) for r in others))


def system_line(r: SystemRead) -> Text:
    """One system on one line: its name and version, each state's count (marked as exact, capped
    or estimated) and its oldest due job; or why it cannot be read."""
    name = r.info.name + (f" {r.info.version}" if r.info.version else "")
    line = Text.assemble(lit(name, 28, "bold"), "  ")
    if r.summary is None:
        return line.append_text(Text.assemble(Text("cannot read: ", style="red"), lit(r.error or "", 80)))
    for i, st in enumerate(r.summary.states):
        if i:
            line.append(" · ", style="dim")
        count = count_text(st.count, st.method)
        count.justify = None
        if st.state == "failed" and st.count:
            count.stylize("red")
        line.append_text(Text.assemble(f"{st.state} ", count))
    if r.summary.oldest_due_age_s is not None:
        line.append(f"  oldest due {age(r.summary.oldest_due_age_s)}", style="dim")
    return line

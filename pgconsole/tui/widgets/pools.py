"""PgBouncer's pools as a few lines of text (the Activity screen's panel): one line per pool,
fitted to the width, the pool name giving way first."""

from __future__ import annotations

from rich.text import Text

from pgconsole.format import cell, duration
from pgconsole.tui.models import PoolsData
from pgconsole.tui.text import lit

MAX_POOLS = 6  # lines of pools shown; the rest are counted on the last line
# (title, width) of the figures after the pool name; "cl" = clients, "sv" = server connections
_COLUMNS = (
    ("mode", 5),
    ("cl act", 6),
    ("wait", 5),
    ("sv act", 6),
    ("idle", 5),
    ("maxwait", 8),
    ("query", 8),
    ("xact", 8),
)


_MODES = {"transaction": "txn", "session": "sess", "statement": "stmt"}


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}ms" if v < 1000 else duration(v / 1000)


def pools_text(pools: PoolsData, width: int) -> Text:
    """The panel's lines for a content width of ``width`` cells."""
    t = Text()
    if pools.stats is None:
        t.append("PgBouncer: ", style="bold")  # a span, as below
        t.append_text(lit(pools.error or "no data yet", max(20, width - 12), style="yellow"))
        return t
    s = pools.stats
    t.append(cell(s.version or "PgBouncer", 24), style="bold")  # a span: what follows is not bold
    waiting = s.clients_waiting
    t.append(f" · {len(s.pools)} pool(s), ")
    t.append(f"{waiting} client(s) waiting", style="bold yellow" if waiting else "")
    t.append(", max wait ")
    t.append(
        duration(s.max_wait_s) if s.max_wait_s else "0s", style="bold yellow" if s.max_wait_s >= 1 else ""
    )
    figures = sum(w + 1 for _, w in _COLUMNS)
    name_w = max(10, width - figures)
    t.append("\n")
    t.append(
        "database/user".ljust(name_w)[:name_w] + "".join(" " + title.rjust(w) for title, w in _COLUMNS),
        style="dim",
    )
    for p in s.pools[:MAX_POOLS]:
        t.append("\n")
        name = cell(f"{p.database}/{p.user}", name_w).ljust(name_w)
        cells = (
            _MODES.get(p.pool_mode, p.pool_mode[:5]),
            str(p.cl_active),
            str(p.cl_waiting),
            str(p.sv_active),
            str(p.sv_idle),
            duration(p.maxwait_s) if p.maxwait_s else "0s",
            _ms(p.avg_query_ms),
            _ms(p.avg_xact_ms),
        )
        hot = p.cl_waiting > 0 or p.maxwait_s >= 1  # clients wait in this pool: the row in yellow
        figures_text = "".join(
            " " + value[-w:].rjust(w) for (_, w), value in zip(_COLUMNS, cells, strict=True)
        )
        t.append(name + figures_text, style="bold yellow" if hot else "")  # one span per row
    if len(s.pools) > MAX_POOLS:
        t.append(f"\n… and {len(s.pools) - MAX_POOLS} more pool(s)", style="dim")
    if not s.pools:
        t.append(
            "\nno pools yet (PgBouncer opens one per database and user at the first client)", style="dim"
        )
    return t

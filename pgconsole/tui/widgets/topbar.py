"""Header line (target, server, role, read-only, refresh state) and the health banner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from pgconsole.tui.text import STATUS_STYLE, lit
from pgconsole.tui.widgets.in_place import set_classes, set_text

if TYPE_CHECKING:
    from pgconsole.tui.app import PgConsoleApp
    from pgconsole.tui.models import HeaderInfo

_RANK = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}
_BANNER_CLASSES = ("error", "warning", "critical", "ok")


class TopBar(Static):
    """``pgconsole · user@host:5432/db · PostgreSQL 18.1 · role operator · read-write · 2s``.

    Fitted to the width: the mode, the role and read-only/read-write always show (at 80 columns,
    the SSH default, they were cut off); the brand, the word "PostgreSQL", the server version and
    the target's ``user@`` (when it is the role) give way first, then the target is shortened."""

    def on_mount(self) -> None:
        for attr in ("header_info", "paused", "refresh_interval", "mode_title"):
            self.watch(self.app, attr, self._redraw, init=False)
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self, *_: object) -> None:
        app: PgConsoleApp = self.app  # type: ignore[assignment]
        set_text(
            self,
            header_line(
                app.mode_title,
                app.header_info,
                app.paused,
                app.refresh_interval,
                self.size.width or app.size.width,
            ),
        )


def header_line(mode_title: str, info: HeaderInfo | None, paused: bool, interval: float, width: int) -> Text:
    refresh = Text("⏸ paused" if paused else f"⟳ {interval:g}s", style="yellow" if paused else "dim")
    brand = Text(" pgconsole ", style="bold reverse")
    mode = Text(f" {mode_title} ", style="bold")
    if info is None:
        return Text.assemble(brand, mode, Text(" connecting…", style="dim"), "  ", refresh)
    access = (
        Text(" READ-ONLY ", style="bold black on yellow")
        if info.read_only
        else Text("read-write", style="green")
    )
    target = info.target
    host_only = target.split("@", 1)[1] if target.startswith(f"{info.role}@") else target

    def line(*, with_brand: bool, version: str, tgt: str, tgt_w: int, role_w: int) -> Text:
        t = Text()
        if with_brand:
            t.append_text(brand)
        t.append_text(mode)
        t.append(" ")
        if info.profile:
            t.append_text(lit(info.profile, 24, style="bold cyan"))
            t.append(" ")
        t.append_text(lit(tgt, tgt_w))
        if version:
            t.append(f"  {version}")
        t.append("  role ")
        t.append_text(lit(info.role, role_w, style="bold"))
        t.append("  ")
        t.append_text(access)
        t.append("  ")
        t.append_text(refresh)
        return t

    v = info.server_version
    # Most to least: each step gives up a little more; the first that fits is shown.
    steps = [
        dict(with_brand=True, version=f"PostgreSQL {v}", tgt=target, tgt_w=50, role_w=30),
        dict(with_brand=True, version=f"PG {v}", tgt=target, tgt_w=50, role_w=30),
        dict(with_brand=False, version=f"PG {v}", tgt=target, tgt_w=50, role_w=30),
        dict(with_brand=False, version=f"PG {v}", tgt=host_only, tgt_w=50, role_w=30),
        dict(with_brand=False, version="", tgt=host_only, tgt_w=50, role_w=30),
    ]
    for step in steps:
        t = line(**step)  # type: ignore[arg-type]
        if t.cell_len <= width:
            return t
    # Still too wide: the target and then the role are shortened, never the mode or read-only.
    fixed = line(with_brand=False, version="", tgt="", tgt_w=1, role_w=20).cell_len
    return line(with_brand=False, version="", tgt=host_only, tgt_w=max(8, width - fixed), role_w=20)


class HealthBanner(Static):
    """Lost connection (red, with the redacted error) or the worst health checks."""

    def on_mount(self) -> None:
        self.watch(self.app, "db_error", self._redraw, init=False)
        self.watch(self.app, "health", self._redraw, init=False)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        app: PgConsoleApp = self.app  # type: ignore[assignment]
        # The checks are handed over at every Overview refresh, mostly unchanged: the banner's
        # classes and text are touched only when they differ (a class change restyles it).
        if app.db_error:
            # Only a network failure is "unreachable"; a missing privilege or schema says what is
            # missing and what fixes it (the message carries the GRANT or the command).
            kind = app.db_error_kind
            lead = {
                "network": "✖ database unreachable: ",
                "permission": "✖ missing privilege: ",
                "schema": "✖ pgconsole schema missing: ",
            }.get(kind, "✖ database error: ")
            t = Text(lead, style="bold")
            t.append_text(lit(app.db_error, 300))
            if kind == "network":
                t.append("  — reconnecting by itself", style="italic")
            else:
                t.append("  — retrying every refresh", style="italic")
            set_classes(self, "error", _BANNER_CLASSES)
            set_text(self, t)
            return
        checks = app.health
        if not checks:
            set_classes(self, "", _BANNER_CLASSES)
            set_text(self, Text("health: waiting for the first refresh…", style="dim"))
            return
        worst = max(checks, key=lambda c: _RANK.get(c.status.word, 1))
        bad = [c for c in checks if c.status.word != "ok"]
        set_classes(
            self,
            {"ok": "ok", "unknown": "warning", "warning": "warning", "critical": "critical"}[
                worst.status.word
            ],
            _BANNER_CLASSES,
        )
        t = Text()
        t.append(
            f" {worst.status.word.upper()} ", style=f"bold reverse {STATUS_STYLE.get(worst.status.word, '')}"
        )
        if not bad:
            t.append(f"  all {len(checks)} checks ok")
        for c in sorted(bad, key=lambda c: -_RANK.get(c.status.word, 1))[:4]:
            t.append("  ")
            t.append(f"{c.name}: ", style=STATUS_STYLE.get(c.status.word, ""))
            t.append_text(lit(c.message, 70))
        set_text(self, t)

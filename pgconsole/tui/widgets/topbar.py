"""Header line (target, server, role, read-only, refresh state) and the health banner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from pgconsole.tui.text import STATUS_STYLE, lit

if TYPE_CHECKING:
    from pgconsole.tui.app import PgConsoleApp

_RANK = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}


class TopBar(Static):
    """``pgconsole · user@host:5432/db · PostgreSQL 18.1 · role operator · read-write · 2s``."""

    def on_mount(self) -> None:
        for attr in ("header_info", "paused", "refresh_interval", "mode_title"):
            self.watch(self.app, attr, self._redraw, init=False)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        app: PgConsoleApp = self.app  # type: ignore[assignment]
        t = Text()
        t.append(" pgconsole ", style="bold reverse")
        t.append(f" {app.mode_title} ", style="bold")
        info = app.header_info
        if info is None:
            t.append(" connecting…", style="dim")
        else:
            t.append(" ")
            t.append_text(lit(info.target, 50))
            t.append(f"  PostgreSQL {info.server_version}  role ")
            t.append_text(lit(info.role, 30, style="bold"))
            t.append("  ")
            if info.read_only:
                t.append(" READ-ONLY ", style="bold black on yellow")
            else:
                t.append("read-write", style="green")
        t.append("  ")
        t.append("⏸ paused" if app.paused else f"⟳ {app.refresh_interval:g}s", style="yellow" if app.paused else "dim")
        self.update(t)


class HealthBanner(Static):
    """Lost connection (red, with the redacted error) or the worst health checks."""

    def on_mount(self) -> None:
        self.watch(self.app, "db_error", self._redraw, init=False)
        self.watch(self.app, "health", self._redraw, init=False)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        app: PgConsoleApp = self.app  # type: ignore[assignment]
        self.remove_class("error", "warning", "critical", "ok")
        if app.db_error:
            # Only a network failure is "unreachable"; a missing privilege or schema says what is
            # missing and what fixes it (the message carries the GRANT or the command).
            kind = app.db_error_kind
            lead = {"network": "✖ database unreachable: ", "permission": "✖ missing privilege: ",
                    "schema": "✖ pgconsole schema missing: "}.get(kind, "✖ database error: ")
            t = Text(lead, style="bold")
            t.append_text(lit(app.db_error, 300))
            if kind == "network":
                t.append("  — reconnecting by itself", style="italic")
            else:
                t.append("  — retrying every refresh", style="italic")
            self.add_class("error")
            self.update(t)
            return
        checks = app.health
        if not checks:
            self.update(Text("health: waiting for the first refresh…", style="dim"))
            return
        worst = max(checks, key=lambda c: _RANK.get(c.status, 1))
        bad = [c for c in checks if c.status != "ok"]
        self.add_class({"ok": "ok", "unknown": "warning", "warning": "warning", "critical": "critical"}[worst.status])
        t = Text()
        t.append(f" {worst.status.upper()} ", style=f"bold reverse {STATUS_STYLE.get(worst.status, '')}")
        if not bad:
            t.append(f"  all {len(checks)} checks ok")
        for c in sorted(bad, key=lambda c: -_RANK.get(c.status, 1))[:4]:
            t.append("  ")
            t.append(f"{c.name}: ", style=STATUS_STYLE.get(c.status, ""))
            t.append_text(lit(c.message, 70))
        self.update(t)

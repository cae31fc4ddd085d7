"""`pgconsole` with no subcommand: the live console (pgconsole.tui)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def run(args: argparse.Namespace, settings: Any) -> int:
    from pgconsole.tui.source import PgSource

    try:
        dsn = settings.target_dsn()
    except ValueError as exc:
        print(f"pgconsole: {exc}", file=sys.stderr)
        return 1
    if not sys.stdout.isatty() and not getattr(args, "force_tui", False):
        print(
            "pgconsole: the console needs a terminal; use `pgconsole --check` for headless checks",
            file=sys.stderr,
        )
        return 1
    from pgconsole.tui.app import PgConsoleApp

    source = PgSource(
        dsn,
        read_only=bool(settings.read_only),
        connect_timeout=min(float(getattr(settings, "connect_timeout", 5.0)), 10.0),
        pgbouncer_dsn=getattr(settings, "pgbouncer_dsn", None),
        queues=getattr(settings, "queues", None),
    )
    app = PgConsoleApp(source, refresh=float(settings.refresh))
    code = app.run()
    if app.fatal_error:
        print(f"pgconsole: cannot connect: {app.fatal_error}", file=sys.stderr)
        return 2
    return int(code or 0)

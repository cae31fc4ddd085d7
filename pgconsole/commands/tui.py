"""`pgconsole` with no subcommand: the live console (pgconsole.tui)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from typing import Any


def source_for(settings: Any) -> Any:
    """The console's data source for one target's settings."""
    from pgconsole.tui.source import PgSource

    return PgSource(
        settings.target_dsn(),
        read_only=bool(settings.read_only),
        connect_timeout=min(float(getattr(settings, "connect_timeout", 5.0)), 10.0),
        pgbouncer_dsn=getattr(settings, "pgbouncer_dsn", None),
        thresholds=settings.thresholds,
        custom_checks=settings.checks.custom,
        profile=settings.profile,
        queues=getattr(settings, "queues", None),
    )


def switchable_targets(
    targets: list[Any], load: Callable[[str | None], Any] | None
) -> dict[str, Callable[[], Any]]:
    """Profile name -> a data-source factory: the profiles given with --profile when more than one,
    else every profile of the config file (each read by ``load`` when switched to)."""
    from pgconsole.config import profile_names

    if len(targets) > 1:
        return {s.profile: partial(source_for, s) for s in targets}
    names = profile_names(targets[0].config_file) if load and targets and targets[0].config_file else []
    if targets and targets[0].profile is None and names:
        names = ["(default)", *names]

    def later(name: str) -> Any:
        assert load is not None
        return source_for(load(None if name == "(default)" else name))

    return {n: partial(later, n) for n in names}


def run(
    args: argparse.Namespace,
    settings: Any,
    targets: list[Any] | None = None,
    load: Callable[[str | None], Any] | None = None,
) -> int:
    """``targets``: the settings of each --profile given; ``load(profile)``: another profile's settings."""
    try:
        settings.target_dsn()  # a bad DSN ends here, before the terminal is taken over
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

    source = source_for(settings)
    choices = switchable_targets(targets or [settings], load)
    current = settings.profile or ("(default)" if "(default)" in choices else None)
    app = PgConsoleApp(source, refresh=float(settings.refresh), targets=choices, target=current)
    code = app.run()
    if app.fatal_error:
        print(f"pgconsole: cannot connect: {app.fatal_error}", file=sys.stderr)
        return 2
    return int(code or 0)

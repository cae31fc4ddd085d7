"""Command-line entry point (DESIGN.md §2).

Each subcommand lives in ``pgconsole/commands/<name>.py`` with ``add_parser(subparsers)`` and
``run(args, settings) -> int``; the modules keep their imports inside ``run`` so that
``pgconsole --check`` never pays for (or loads) Textual.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from pgconsole import __version__

SUBCOMMANDS = ("demo", "migrate", "setup", "doctor", "jobs", "queues", "worker", "workers", "maintain")

EXIT_USAGE = 64  # argparse's own errors exit 2, which collides with CRITICAL; see _Parser.error


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; for `--check` 2 means CRITICAL, so usage errors exit 3
    (UNKNOWN) there, as check_postgres does, and 64 (EX_USAGE) elsewhere."""

    # The command line being parsed, set by main() (subparsers share it through the class, which is
    # why this is not an instance attribute); sys.argv when main() was not the caller.
    argv: Sequence[str] | None = None

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        argv = _Parser.argv if _Parser.argv is not None else sys.argv[1:]
        code = 3 if "--check" in argv else EXIT_USAGE
        # argparse quotes the offending arguments, which may be a DSN with a password in it.
        self.exit(code, f"{self.prog}: error: {_redact_argv(message, argv)}\n")


def _redact_argv(message: str, argv: Sequence[str]) -> str:
    from pgconsole.db.redact import password_of, redact

    secrets = tuple(pw for a in argv if ("=" in a or "://" in a) and (pw := password_of(a)))
    return redact(message, secrets)


def add_connection_arguments(p: argparse.ArgumentParser, *, in_subcommand: bool = False) -> None:
    """The connection flags, accepted before and after the subcommand (`pgconsole migrate --dsn X`).

    In a subcommand their default is SUPPRESS: argparse copies a subparser's defaults over the
    values already parsed, so a default of None there would erase `pgconsole --dsn X migrate`.
    """
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if in_subcommand else {}
    g = p.add_argument_group("connection")
    g.add_argument(
        "--dsn",
        help="libpq conninfo or URI (default: $PGCONSOLE_DSN, config file, $DATABASE_URL, libpq defaults)",
        **kw,
    )
    g.add_argument("--config", metavar="FILE", help="TOML config file (default: user config dir)", **kw)
    g.add_argument("--profile", metavar="NAME", help="profile from the config file", **kw)
    g.add_argument(
        "--connect-timeout", type=float, metavar="S", help="connection timeout in seconds (default 10)", **kw
    )


def build_parser(*, subcommands: bool = True) -> argparse.ArgumentParser:
    """The whole parser; with ``subcommands=False`` only the top-level flags (the `--check` path).

    Building the subcommand parsers imports every command module, and with them the queue and
    schema modules, which `--check` does not need (its start-up cost: docs/BENCHMARKS.md).
    """
    parser = _Parser(
        prog="pgconsole",
        description="Terminal dashboard, admin console and job queue for PostgreSQL.",
        epilog="Run `pgconsole demo` to try it on an embedded server.",
    )
    parser.add_argument("--version", action="version", version=f"pgconsole {__version__}")
    add_connection_arguments(parser)
    tui = parser.add_argument_group("dashboard")
    tui.add_argument("--read-only", action="store_true", default=None, help="offer no actions")
    tui.add_argument("--refresh", type=float, metavar="SECONDS", help="refresh interval (default 2)")
    tui.add_argument(
        "--pgbouncer",
        metavar="DSN",
        help="PgBouncer's admin console (database pgbouncer): its pools in the console and the "
        "pgbouncer_* checks (default: pgbouncer_dsn in the config file, $PGCONSOLE_PGBOUNCER_DSN)",
    )
    from pgconsole.commands import check as check_cmd

    check_cmd.add_top_level_arguments(parser)
    if not subcommands:
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"pgconsole.commands.{name}")
        module.add_parser(sub)
        subparser = sub.choices.get(name)
        if subparser is not None:
            _add_connection_arguments_everywhere(subparser)
    return parser


def _add_connection_arguments_everywhere(p: argparse.ArgumentParser) -> None:
    """The connection flags on a subcommand and on each of its own subcommands (`pgconsole jobs
    list --dsn X` as well as `pgconsole jobs --dsn X list` and `pgconsole --dsn X jobs list`)."""
    if not any("--dsn" in a.option_strings for a in p._actions):
        add_connection_arguments(p, in_subcommand=True)
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share one parser
                _add_connection_arguments_everywhere(child)


def settings_from_args(args: argparse.Namespace) -> Any:
    from pgconsole.config import load_settings

    cli = {
        "dsn": getattr(args, "dsn", None),
        "read_only": getattr(args, "read_only", None),
        "refresh": getattr(args, "refresh", None),
        "timeout": getattr(args, "timeout", None),
        "connect_timeout": getattr(args, "connect_timeout", None),
        "pgbouncer_dsn": getattr(args, "pgbouncer", None),
    }
    return load_settings(
        cli, config_path=getattr(args, "config", None), profile=getattr(args, "profile", None)
    )


def _check_only(argv: Sequence[str]) -> bool:
    """`pgconsole --check ...` with no subcommand named: the top-level parser is enough. Any word
    that names a subcommand (even as an option's value) takes the full parser, so a command line
    means the same either way; the only difference is the wording of a usage error (both exit 3)."""
    return "--check" in argv and not any(a in SUBCOMMANDS for a in argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.argv = argv
    check_only = _check_only(argv)
    if check_only:
        # A `--check` process lives for at most --timeout seconds and makes few cycles, so the
        # cyclic GC only costs it time: its collections during the pydantic/psycopg imports, and
        # the final one at interpreter exit over every object those imports made. Reference
        # counting still frees memory; gc.freeze() below keeps the exit-time collection from
        # walking the imports.
        gc.disable()
        # pydantic looks for plugins in every installed distribution's entry points when it
        # builds its first model, a cost per installed distribution; a health check wants none.
        # An explicit setting by the user still wins.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser(subcommands=not check_only)
    args = parser.parse_args(argv)
    from pgconsole.config import ConfigError
    from pgconsole.db.connect import ConnectError

    checking = bool(getattr(args, "check", False))
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"pgconsole: {exc}", file=sys.stderr)
        return 3 if checking else 1
    from pgconsole.db.connect import set_default_pooler

    set_default_pooler(settings.pooler)
    try:
        if checking:
            from pgconsole.commands import check as check_cmd

            try:
                return int(check_cmd.run(args, settings))
            finally:
                gc.freeze()
        if args.command:
            module = importlib.import_module(f"pgconsole.commands.{args.command}")
            return int(module.run(args, settings))
        from pgconsole.commands import tui

        return int(tui.run(args, settings))
    except ConnectError as exc:
        # A command that did not catch it itself: still one redacted line, never a traceback.
        print(f"pgconsole: cannot connect: {exc}", file=sys.stderr)
        return 2


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        # The reader went away (`pgconsole jobs list | head -c 200`): stop quietly, as the Python
        # docs advise (library/signal.html, "Note on SIGPIPE"): point stdout at devnull so that the
        # final flush at exit raises nothing, and exit 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code)


if __name__ == "__main__":
    entry()

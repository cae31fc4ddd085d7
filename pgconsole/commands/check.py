"""`pgconsole --check`: headless health checks, exit 0 OK / 1 WARNING / 2 CRITICAL / 3 UNKNOWN.

Bounded in time even against a server that accepts TCP and then says nothing (reliability.md F4:
neither connect_timeout nor keepalives notice a peer that ACKs and stays silent): a watchdog thread
prints a CRITICAL result and ends the process with ``os._exit`` when ``--timeout`` is reached. The
normal path stays inside the same budget by giving each statement only the time left.

Imports stay light: no Textual, no TUI; only psycopg, pydantic and the monitor/checks packages.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

EXIT_USAGE = 3  # a usage error under --check is UNKNOWN, as check_postgres does
OUTPUT_MARGIN_S = 0.25  # time kept for rendering and exiting after the snapshot's deadline


def add_top_level_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("headless check")
    g.add_argument("--check", action="store_true", help="run the health checks and exit 0/1/2/3")
    g.add_argument(
        "--format", choices=("text", "json", "nagios"), default="text", help="--check output format"
    )
    g.add_argument("--only", metavar="NAME,...", help="run only these checks")
    g.add_argument("--timeout", type=float, metavar="S", help="--check time limit in seconds (default 10)")
    g.add_argument("--set", action="append", default=[], metavar="NAME.warn=V", help="override a threshold")


class _Reporter:
    """Prints exactly one report, from the main thread or from the watchdog, whichever comes first."""

    def __init__(self, fmt: str, target: str, start: float) -> None:
        self.fmt = fmt
        self.target = target
        self.start = start
        self.lock = threading.Lock()
        self.done = False
        self.phase = "connecting"

    def emit(self, results: list[Any]) -> int | None:
        from pgconsole.checks.output import render_json, render_nagios, render_text
        from pgconsole.checks.result import overall_status

        with self.lock:
            if self.done:
                return None
            self.done = True
            elapsed = time.monotonic() - self.start
            if self.fmt == "json":
                out = render_json(results, elapsed, self.target)
            elif self.fmt == "nagios":
                out = render_nagios(results, frozenset({"cache_hit"}))
            else:
                out = render_text(results, elapsed)
            sys.stdout.write(out + "\n")
            sys.stdout.flush()
            return int(overall_status(results))

    def on_timeout(self, timeout: float) -> None:
        from pgconsole.checks.result import CheckResult, Status

        if self.phase == "connecting":
            msg = f"no answer from the server within {timeout:g}s ({self.target})"
        else:
            msg = f"the server stopped answering: checks did not finish within {timeout:g}s ({self.phase})"
        code = self.emit([CheckResult(name="connection", status=Status.CRITICAL, message=msg)])
        if code is not None:
            os._exit(code)


def _usage_error(message: str) -> int:
    print(f"pgconsole: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _system_checks(conn: Any, settings: Any, thresholds: Any, only: Any, results: list[Any]) -> list[Any]:
    """The queue checks for every other queue system found here (issue 17 item 6); pgconsole's own
    queue's checks are marked ``system = "pgconsole"``."""
    from pgconsole.checks.result import CheckResult, Status
    from pgconsole.checks.systems import QUEUE_CHECKS, judge_systems
    from pgconsole.monitor.system_tables import tables_health
    from pgconsole.queue.models import InvalidInput
    from pgconsole.queue.systems import registry

    if only is not None and not any(n in QUEUE_CHECKS for n in only):
        return []
    for r in results:
        if r.name in QUEUE_CHECKS:
            r.system = "pgconsole"
    try:
        systems = [s for s in registry.detect(conn, settings.queues) if s.kind != "pgconsole"]
    except InvalidInput as exc:
        return [CheckResult(name="queue_latency", status=Status.UNKNOWN, message=f"config: {exc}")]
    if not systems:
        return []
    reads = registry.read_all(conn, systems)
    health = {s.name: tables_health(conn, s.tables()) for s in systems}
    return judge_systems(reads, health, thresholds, only)


def run(args: argparse.Namespace, settings: Any) -> int:
    start = time.monotonic()
    from pgconsole.checks.registry import check_names, collectors_for, resolve_thresholds, run_checks
    from pgconsole.checks.result import CheckResult, Status
    from pgconsole.checks.thresholds import ThresholdError, parse_set_options
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.db.connect import ConnectError, Purpose, connect, connect_pgbouncer_admin, describe_error
    from pgconsole.db.dsn import describe_target
    from pgconsole.monitor.snapshot import PGBOUNCER, attach_pgbouncer, pgbouncer_unreachable, take_snapshot

    timeout = float(args.timeout if args.timeout is not None else settings.timeout)
    if timeout <= 0:
        return _usage_error("--timeout must be positive")
    only: list[str] | None = None
    try:
        if args.only:
            known = check_names()
            only = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = [n for n in only if n not in known]
            if unknown or not only:
                return _usage_error(
                    f"--only: unknown check {', '.join(unknown) or '(none given)'} (known: {', '.join(known)})"
                )
        thresholds = resolve_thresholds(settings.thresholds, parse_set_options(args.set))
    except ThresholdError as exc:
        return _usage_error(str(exc))

    dsn = settings.target_dsn()
    reporter = _Reporter(args.format, describe_target(dsn), start)
    watchdog = threading.Timer(max(0.0, start + timeout - time.monotonic()), reporter.on_timeout, (timeout,))
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            conn = connect(dsn, Purpose.CHECK, connect_timeout=min(settings.connect_timeout, timeout))
        except ConnectError as exc:
            code = reporter.emit(
                [CheckResult(name="connection", status=Status.CRITICAL, message=f"cannot connect: {exc}")]
            )
            return code if code is not None else 2
        bouncer = None
        bouncer_error: str | None = None
        try:
            reporter.phase = "reading capabilities"
            caps = read_capabilities(conn)
            needed = collectors_for(only)
            if settings.pgbouncer_dsn and PGBOUNCER in needed:
                reporter.phase = "connecting to PgBouncer"
                left = max(1.0, start + timeout - OUTPUT_MARGIN_S - time.monotonic())
                try:
                    bouncer = connect_pgbouncer_admin(
                        settings.pgbouncer_dsn, connect_timeout=min(settings.connect_timeout, left)
                    )
                except ConnectError as exc:
                    bouncer_error = str(exc)
            reporter.phase = "collecting"
            snap = take_snapshot(
                conn,
                caps,
                only=needed,
                deadline=start + timeout - OUTPUT_MARGIN_S,
                collector_timeout_ms=int(min(2.0, timeout) * 1000),
                pgbouncer=bouncer,
            )
            if bouncer_error is not None:
                attach_pgbouncer(snap, None, pgbouncer_unreachable(bouncer_error))
            reporter.phase = "judging"
            results = run_checks(snap, thresholds, only)
            reporter.phase = "reading the other queue systems"
            try:
                results += _system_checks(conn, settings, thresholds, only, results)
            except Exception as exc:  # noqa: BLE001 - the other checks' verdicts stand
                if conn.broken or conn.closed:
                    raise
                results.append(
                    CheckResult(
                        name="queue_latency",
                        status=Status.UNKNOWN,
                        message=f"cannot read the other queue systems: {describe_error(exc, dsn)}",
                    )
                )
        except Exception as exc:
            if conn.broken or conn.closed:
                results = [
                    CheckResult(
                        name="connection",
                        status=Status.CRITICAL,
                        message=f"lost the connection: {describe_error(exc, dsn)}",
                    )
                ]
            else:
                results = [
                    CheckResult(
                        name="connection",
                        status=Status.UNKNOWN,
                        message=f"internal error: {describe_error(exc, dsn)}",
                    )
                ]
        finally:
            for c in (conn, bouncer):
                try:
                    if c is not None:
                        c.close()
                except Exception:
                    pass
        code = reporter.emit(results)
        return code if code is not None else 3
    finally:
        watchdog.cancel()

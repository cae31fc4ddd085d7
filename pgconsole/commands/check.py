"""`pgconsole --check`: headless health checks, exit 0 OK / 1 WARNING / 2 CRITICAL / 3 UNKNOWN.

Bounded in time even against a server that accepts TCP and then says nothing (reliability.md F4:
neither connect_timeout nor keepalives notice a peer that ACKs and stays silent): a watchdog thread
prints a CRITICAL result and ends the process with ``os._exit`` when ``--timeout`` is reached. The
normal path stays inside the same budget by giving each statement only the time left.

Imports stay light: no Textual, no TUI; only psycopg, pydantic and the monitor/checks packages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

EXIT_USAGE = 3  # a usage error under --check is UNKNOWN, as check_postgres does


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


def _resolve(args: argparse.Namespace, settings: Any) -> tuple[list[str] | None, Any] | int:
    """``--only`` (built-in and this target's custom checks) and the thresholds, or a usage error's exit code."""
    from pgconsole.checks.custom import check_name
    from pgconsole.checks.registry import check_names, resolve_thresholds
    from pgconsole.checks.thresholds import ThresholdError, parse_set_options

    only: list[str] | None = None
    try:
        if args.only:
            known = check_names() + [check_name(n) for n in settings.checks.custom]
            only = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = [n for n in only if n not in known]
            if unknown or not only:
                return _usage_error(
                    f"--only: unknown check {', '.join(unknown) or '(none given)'} (known: {', '.join(known)})"
                )
        return only, resolve_thresholds(settings.thresholds, parse_set_options(args.set))
    except ThresholdError as exc:
        return _usage_error(str(exc))


def _timeout(args: argparse.Namespace, settings: Any) -> float:
    return float(args.timeout if args.timeout is not None else settings.timeout)


def run(args: argparse.Namespace, settings: Any) -> int:
    start = time.monotonic()
    from pgconsole.checks.target import check_target
    from pgconsole.db.dsn import describe_target

    timeout = _timeout(args, settings)
    if timeout <= 0:
        return _usage_error("--timeout must be positive")
    resolved = _resolve(args, settings)
    if isinstance(resolved, int):
        return resolved
    only, thresholds = resolved

    reporter = _Reporter(args.format, describe_target(settings.target_dsn()), start)
    watchdog = threading.Timer(max(0.0, start + timeout - time.monotonic()), reporter.on_timeout, (timeout,))
    watchdog.daemon = True
    watchdog.start()
    try:

        def phase(p: str) -> None:
            reporter.phase = p

        results = check_target(settings, thresholds, only, timeout, start=start, on_phase=phase)
        code = reporter.emit(results)
        return code if code is not None else 3
    finally:
        watchdog.cancel()


def run_many(args: argparse.Namespace, targets: list[Any]) -> int:
    """``--check --profile a --profile b ...``: every target at once, each within its own timeout;
    one line (text, nagios) or one JSON object (json, one per line) per target, in the order given;
    the exit code is the worst target's."""
    start = time.monotonic()
    from pgconsole.checks.output import render_nagios, summary, to_json_obj
    from pgconsole.checks.result import CheckResult, Status, overall_status
    from pgconsole.checks.target import check_target
    from pgconsole.db.dsn import describe_target

    jobs = []
    for settings in targets:
        timeout = _timeout(args, settings)
        if timeout <= 0:
            return _usage_error("--timeout must be positive")
        resolved = _resolve(args, settings)
        if isinstance(resolved, int):
            return resolved
        jobs.append((settings, timeout, *resolved))
    outcomes: list[list[Any] | None] = [None] * len(jobs)

    def body(i: int, settings: Any, timeout: float, only: Any, thresholds: Any) -> None:
        outcomes[i] = check_target(settings, thresholds, only, timeout, start=start)

    threads = [
        threading.Thread(target=body, args=(i, *job), name=f"pgconsole-check-{i}", daemon=True)
        for i, job in enumerate(jobs)
    ]
    for t in threads:
        t.start()
    for t, (_settings, timeout, _only, _th) in zip(threads, jobs, strict=True):
        # Daemon threads: one stuck on a silent server is left behind, never waited for.
        t.join(max(0.0, start + timeout - time.monotonic()))
    worst = Status.OK
    lines = []
    for i, (settings, timeout, _only, _th) in enumerate(jobs):
        target = describe_target(settings.target_dsn())
        results = outcomes[i]
        if results is None:
            msg = f"no answer from the server within {timeout:g}s ({target})"
            results = [CheckResult(name="connection", status=Status.CRITICAL, message=msg)]
        status = overall_status(results)
        worst = max(worst, status, key=lambda s: s.severity)
        name = settings.profile or target
        if args.format == "json":
            obj = {"profile": settings.profile, **to_json_obj(results, time.monotonic() - start, target)}
            lines.append(json.dumps(obj, default=str))
        elif args.format == "nagios":
            lines.append(f"{name}: {render_nagios(results, frozenset({'cache_hit'}))}")
        else:
            bad = [r for r in results if r.status is not Status.OK]
            worst_line = "; ".join(f"{r.name} {r.status.name}" for r in bad[:5])
            lines.append(f"{name}: {status.name}: {summary(results)}" + (f" ({worst_line})" if bad else ""))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return int(worst)

"""`pgconsole jobs list|show|enqueue|retry|cancel|cleanup` (DESIGN.md §2, docs/queue.md).

Exit codes: 0 done, 1 bad input / unknown job / refused / failed, 2 cannot connect.
Destructive actions need --yes (or an interactive confirmation); --dry-run prints the number of
jobs and the statement that would run, and changes nothing.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from pgconsole.queue.states import STATES


def _filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("which jobs")
    g.add_argument("--id", dest="ids", action="append", metavar="ID", help="job id (repeatable)")
    g.add_argument("--status", dest="statuses", action="append", choices=STATES, help="repeatable")
    g.add_argument(
        "--type",
        dest="types",
        action="append",
        metavar="TYPE",
        help="job type, a prefix of one (email matches email.send) or a glob (email.*, *.send); repeatable",
    )
    g.add_argument(
        "--older-than", metavar="DURATION", help="finished (or created) longer ago than 90s/30m/12h/7d"
    )
    g.add_argument("--error-contains", metavar="TEXT", help="case-insensitive substring of the error message")
    g.add_argument("--payload-contains", metavar="JSON", help="payload @> JSON")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "jobs",
        help="list, inspect, enqueue, retry, cancel and clean up jobs",
        description="Operate on the pgconsole job queue, or on another queue system in the database "
        "(--system: procrastinate, pgqueuer, a configured [queues.NAME], ...; see `pgconsole queues`).",
    )
    p.add_argument(
        "--system",
        metavar="NAME",
        help="the queue system to act on (default: the only one, else pgconsole's own when installed)",
    )
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)

    ls = jsub.add_parser("list", help="list jobs, newest first")
    ls.add_argument("--status", dest="statuses", action="append", choices=STATES)
    ls.add_argument(
        "--type",
        dest="types",
        action="append",
        metavar="TYPE",
        help="job type, a prefix of one (email matches email.send) or a glob (email.*, *.send); repeatable",
    )
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--format", choices=["text", "json"], default="text")

    show = jsub.add_parser("show", help="one job with its log lines and audit records")
    show.add_argument("id")
    show.add_argument("--format", choices=["text", "json"], default="text")

    enq = jsub.add_parser("enqueue", help="enqueue one job")
    enq.add_argument("job_type")
    src = enq.add_mutually_exclusive_group()
    src.add_argument("--payload", metavar="JSON", default="{}", help="payload as JSON (default {})")
    src.add_argument("--payload-file", metavar="FILE", help="read the JSON payload from FILE ('-' = stdin)")
    enq.add_argument("--priority", type=int, default=0, help="-100..100, higher runs first")
    enq.add_argument("--max-retries", type=int, default=3)
    enq.add_argument("--user", metavar="USER_ID")
    enq.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="run no earlier than this from now"
    )
    enq.add_argument("--dedupe-key", metavar="KEY")
    enq.add_argument("--format", choices=["text", "json"], default="text")

    for name, help_text in (
        ("retry", "failed/cancelled/expired jobs back to pending"),
        ("cancel", "cancel pending jobs (with --id also request cancel of running ones)"),
        ("cleanup", "delete finished jobs (completed, failed, cancelled, expired)"),
    ):
        a = jsub.add_parser(name, help=help_text)
        _filters(a)
        a.add_argument("--reason", help="why (written to the audit record)")
        a.add_argument(
            "--dry-run", action="store_true", help="print the count and the statement; change nothing"
        )
        a.add_argument("--yes", "-y", action="store_true", help="do it without asking")
        a.add_argument("--batch-size", type=int, default=1000, metavar="N")
        a.add_argument("--format", choices=["text", "json"], default="text")
        if name == "cancel":
            a.add_argument(
                "--include-running",
                action="store_true",
                help="with a filter, also request cancellation of processing jobs",
            )


def run(args: argparse.Namespace, settings: Any) -> int:
    import psycopg

    from pgconsole.commands.common import fail
    from pgconsole.db import redact
    from pgconsole.queue.errors import QueueError
    from pgconsole.queue.models import InvalidInput

    try:
        return _run(args, settings)
    except InvalidInput as exc:
        return fail(str(exc))
    except ValueError as exc:
        return fail(str(exc))
    except QueueError as exc:
        return fail(str(exc))
    except psycopg.Error as exc:
        from pgconsole.db.connect import explain_error

        needs = {"enqueue": "enqueue", "list": "read", "show": "read"}.get(args.jobs_command, "act")
        return fail(redact(explain_error(exc, user=_user_of(settings), needs=needs)))


def _user_of(settings: Any) -> str | None:
    """The role the command connected as (for the GRANT in an error message)."""
    from psycopg.conninfo import conninfo_to_dict

    from pgconsole.commands.common import dsn_of

    try:
        user = conninfo_to_dict(dsn_of(settings)).get("user")
    except Exception:  # noqa: BLE001 - only for wording an error
        return None
    import getpass
    import os

    return str(user) if user else os.environ.get("PGUSER") or getpass.getuser()  # libpq's own default


def _emit(fmt: str, data: Any, text: str) -> None:
    import json

    print(json.dumps(data, default=str, ensure_ascii=False, indent=None) if fmt == "json" else text)


def _safe(text: Any, limit: int = 80) -> str:
    from pgconsole.format import literal_text

    return literal_text(text, limit)


def _without_traceback(metadata: Any) -> Any:
    """A log line's metadata for the one-line listing (the traceback is printed above it)."""
    return {k: v for k, v in metadata.items() if k != "traceback"} if isinstance(metadata, dict) else metadata


def _field(key: str, value: Any) -> str:
    """One value of `jobs show`: JSON for payload and result (never a Python repr), "–" for none."""
    import json

    if value is None:
        return "–"
    if key in ("payload", "result") or isinstance(value, dict | list | bool):
        return _safe(json.dumps(value, ensure_ascii=False), 200)
    return _safe(value, 200)


def _run(args: argparse.Namespace, settings: Any) -> int:
    import json
    import sys
    from pathlib import Path

    from pgconsole.commands.common import fail, open_connection
    from pgconsole.db import Purpose
    from pgconsole.queue import admin, client
    from pgconsole.queue.models import parse_json

    cmd = args.jobs_command
    if cmd == "enqueue":
        if getattr(args, "system", None) not in (None, "pgconsole"):
            return fail("system: enqueue goes to pgconsole's own queue only (enqueue through your library)")
        if args.payload_file:
            try:
                raw = sys.stdin.read() if args.payload_file == "-" else Path(args.payload_file).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                return fail(f"payload_file: cannot read {args.payload_file!r}: {why}")
        else:
            raw = args.payload
        payload = parse_json("payload", raw)
        from datetime import UTC, datetime

        when = datetime.now(UTC) + timedelta(seconds=args.delay) if args.delay else None
        conn = open_connection(settings, Purpose.APP)
        with conn:
            jid = client.enqueue(
                conn,
                args.job_type,
                payload,
                priority=args.priority,
                max_retries=args.max_retries,
                user_id=args.user,
                scheduled_at=when,
                dedupe_key=args.dedupe_key,
            )
        _emit(args.format, {"id": str(jid)}, str(jid))
        return 0

    conn = open_connection(settings, Purpose.OPERATOR)
    with conn:
        system = _system_of(conn, args, settings)
        if system is not None:
            return _run_system(conn, system, args)
        if cmd == "list":
            jobs = admin.list_jobs(conn, args.statuses, args.types, args.limit)
            text = "\n".join(
                f"{j.id}  {j.status:<10} {_safe(j.job_type, 30):<30} p={j.priority:<4} a={j.attempt} "
                f"{j.created_at:%Y-%m-%d %H:%M:%S}  {_safe(j.error_message or '', 60)}"
                for j in jobs
            ) or _no_match(args)
            _emit(args.format, [j.model_dump(mode="json") for j in jobs], text)
            return 0
        if cmd == "show":
            job = client.get_job(conn, args.id)
            logs = client.get_logs(conn, job.id)
            data = {
                "job": job.model_dump(mode="json"),
                "log": [entry.model_dump(mode="json") for entry in logs],
            }
            lines = [f"{k:<20} {_field(k, v)}" for k, v in job.model_dump().items()]
            failures = [
                e
                for e in logs
                if isinstance(e.metadata, dict) and isinstance(e.metadata.get("traceback"), str)
            ]
            if failures:  # newest first, as the log; each with the traceback the worker stored
                lines += ["", f"failed attempts ({len(failures)}, newest first):"]
                for e in failures:
                    meta = e.metadata or {}
                    lines.append(
                        f"  attempt {meta.get('attempt', '?')}  {e.created_at:%Y-%m-%d %H:%M:%S}  "
                        f"code {_safe(meta.get('error_code') or '–', 100)}"
                    )
                    lines += ["    " + _safe(t, 300) for t in str(meta["traceback"]).rstrip().splitlines()]
            lines += ["", "log:"] + [
                f"  {e.created_at:%Y-%m-%d %H:%M:%S} {e.level:<7} {_safe(e.actor, 20)} "
                f"{_safe(e.message, 100)} "
                f"{_safe(json.dumps(_without_traceback(e.metadata)), 200)}"
                for e in logs
            ]
            _emit(args.format, data, "\n".join(lines))
            return 0

        action, target = _target(args, lambda ids: [str(i) for i in admin.parse_ids(ids)])
        return _act(conn, action, target, args)


def _target(args: argparse.Namespace, parse_ids: Any) -> tuple[Any, Any]:
    """The action and its target from the flags (ids or a filter), for any queue system."""
    from pgconsole.format import parse_duration
    from pgconsole.queue.models import Action, ActionTarget, InvalidInput, JobFilter, parse_json

    cmd = args.jobs_command
    action: Action = "retry" if cmd == "retry" else "cancel" if cmd == "cancel" else "delete"
    reason = args.reason or f"pgconsole jobs {cmd}"
    if args.ids:
        if any([args.statuses, args.types, args.older_than, args.error_contains, args.payload_contains]):
            raise InvalidInput("ids", "give either --id or filters, not both")
        return action, ActionTarget(ids=parse_ids(args.ids), reason=reason)
    flt = JobFilter.build(
        statuses=args.statuses,
        job_types=args.types,
        older_than=parse_duration(args.older_than) if args.older_than else None,
        error_contains=args.error_contains,
        payload_contains=parse_json("payload_contains", args.payload_contains)
        if args.payload_contains
        else None,
    )
    running = bool(getattr(args, "include_running", False))
    return action, ActionTarget(filter=flt, reason=reason, request_running=running)


def _system_of(conn: Any, args: argparse.Namespace, settings: Any) -> Any:
    """The queue system --system names (None: pgconsole's own queue, through the code below)."""
    from pgconsole.queue.systems import registry

    found = registry.detect(conn, settings.queues)
    if args.system in (None, "pgconsole") and (not found or any(s.kind == "pgconsole" for s in found)):
        return None  # pgconsole's own (or nothing found: its own path says what is missing)
    chosen = registry.choose(found, args.system)
    return None if chosen.kind == "pgconsole" else chosen


def _run_system(conn: Any, system: Any, args: argparse.Namespace) -> int:
    """`pgconsole jobs --system NAME list|show|retry|cancel|cleanup` on another queue system."""
    from pgconsole.commands.common import fail
    from pgconsole.queue.models import JobFilter

    cmd = args.jobs_command
    if cmd == "list":
        if not 1 <= args.limit <= 10_000:
            return fail("limit: must be between 1 and 10000")
        page = system.page(
            conn, JobFilter.build(statuses=args.statuses, job_types=args.types), limit=args.limit
        )
        text = "\n".join(_system_row(j) for j in page.rows) or _no_match(args)
        if page.note:
            text += f"\n({_safe(page.note, 200)})"
        _emit(args.format, [j.model_dump(mode="json") for j in page.rows], text)
        return 0 if not page.timed_out else fail(page.note)
    if cmd == "show":
        detail = system.detail(conn, args.id)
        if detail is None:
            return fail(f"job {args.id[:60]!r} not found in {system.name}")
        lines = [f"{k:<20} {_field(k, v)}" for k, v in detail.job.model_dump().items()]
        lines += [
            f"{'payload':<20} {_field('payload', detail.payload)}",
            "",
            f"native fields ({system.name}):",
        ]
        lines += [f"  {_safe(k, 30):<28} {_field(k, v)}" for k, v in detail.native.items()]
        lines += ["", "history:"] + [
            f"  {e.at:%Y-%m-%d %H:%M:%S} {_safe(e.kind, 20)} {_safe(e.detail or '', 200)}"
            for e in detail.events
            if e.at
        ]
        lines += ["", "audit:"] + [
            f"  {a.at:%Y-%m-%d %H:%M:%S} {_safe(a.actor, 20)} {a.action} {_safe(a.old_status or '', 20)}"
            f" -> {_safe(a.new_status or '', 20)} {_safe(a.reason or '', 100)}"
            for a in detail.audit
        ]
        _emit(args.format, detail.model_dump(mode="json"), "\n".join(lines))
        return 0
    if cmd == "enqueue":
        return fail("system: enqueue goes to pgconsole's own queue only (enqueue through your library)")
    action, target = _target(args, lambda ids: [system.parse_id(i) for i in ids])
    return _act(conn, action, target, args, system)


def _system_row(j: Any) -> str:
    created = f" {j.created_at:%Y-%m-%d %H:%M:%S}" if j.created_at is not None else ""
    attempts = j.attempts if j.attempts is not None else "–"
    return (
        f"{_safe(j.id, 40)}  {(j.status or '?'):<10} {_safe(j.native_status, 12):<12} "
        f"{_safe(j.job_type, 30):<30} a={attempts}{created}  {_safe(j.error or '', 60)}"
    )


def _act(conn: Any, action: Any, target: Any, args: argparse.Namespace, system: Any = None) -> int:
    """Preview, confirm, run: the path the console's actions take too (queue.admin, or the
    queue system's own preview and run)."""
    from pgconsole.commands.common import fail
    from pgconsole.queue import admin

    cmd = args.jobs_command
    if system is not None:
        shown = system.preview(conn, action, target)
    else:
        shown = admin.preview(conn, action, target, batch_size=args.batch_size)
    left = "".join(f"\n  left alone: {n} {why}" for why, n in shown.skipped.items())
    if args.dry_run:
        _emit(
            args.format,
            {
                "action": action,
                "count": shown.eligible,
                "matched": shown.matched,
                "skipped": shown.skipped,
                "statement": shown.statement,
            },
            f"would {cmd} {shown.eligible} job(s) with:\n{shown.statement}{left}",
        )
        return 0
    # With nothing to change it still runs (and changes nothing): a role that may not act is told so.
    if shown.eligible and not args.yes and not _confirm(f"{cmd} {shown.eligible} job(s)?"):
        return fail(f"not confirmed: {cmd} needs --yes (or an interactive yes); nothing changed")
    if system is not None:
        report = system.run(conn, action, target, batch_size=args.batch_size)
    else:
        report = admin.run(conn, action, target, batch_size=args.batch_size)
    lines = [f"{r.id} {r.old_status} -> {r.new_status}" for r in report.rows] if target.ids else []
    _emit(
        args.format,
        {
            "action": action,
            "changed": report.changed,
            "rows": [r.model_dump(mode="json") for r in report.rows],
            "skipped": report.skipped,
        },
        "\n".join([*lines, f"{cmd}: {report.changed} job(s) changed in {report.batches} batch(es)"])
        + "".join(f"\n  left alone: {n} {why}" for why, n in report.skipped.items()),
    )
    return 0


def _no_match(args: argparse.Namespace) -> str:
    """What an empty `jobs list` says, instead of printing nothing."""
    given = [f"--status {','.join(args.statuses)}"] if args.statuses else []
    given += [f"--type {','.join(args.types)}"] if args.types else []
    if not given:
        return "no job matches (no filter): the queue holds no jobs"
    return f"no job matches {' '.join(given)}"


def _confirm(question: str) -> bool:
    import sys

    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False

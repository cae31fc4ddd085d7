"""`pgconsole maintain`: one maintenance pass for cron or a systemd timer."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "maintain",
        help="one pass: rescue stuck, auto-retry, expire, retention cleanup",
        description="Rescue stuck jobs, retry eligible failed jobs, expire stale pending jobs and "
        "delete finished jobs past retention (in batches). Safe to run concurrently.",
    )
    p.add_argument(
        "--batch-size", type=int, default=5000, metavar="N", help="rows per cleanup batch (default 5000)"
    )
    p.add_argument(
        "--time-budget", type=float, default=60.0, metavar="S", help="stop cleanup after S seconds"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace, settings: Any) -> int:
    import json

    import psycopg

    from pgconsole.commands.common import fail, open_connection
    from pgconsole.db import Purpose, redact
    from pgconsole.queue.maintenance import run_pass
    from pgconsole.queue.models import InvalidInput

    if not 1 <= args.batch_size <= 100_000:
        return fail("batch_size: must be between 1 and 100000")
    conn = open_connection(settings, Purpose.OPERATOR)
    try:
        report = run_pass(conn, batch_size=args.batch_size, time_budget=args.time_budget)
    except psycopg.Error as exc:
        from pgconsole.commands.jobs import _user_of
        from pgconsole.db.connect import explain_error

        return fail(f"maintenance failed: {redact(explain_error(exc, user=_user_of(settings), needs='act'))}")
    except InvalidInput as exc:
        return fail(
            f"maintenance failed: {redact(str(exc).strip().splitlines()[0] if str(exc).strip() else exc)}"
        )
    finally:
        conn.close()
    print(json.dumps(report.model_dump()) if args.format == "json" else str(report))
    return 0

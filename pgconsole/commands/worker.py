"""`pgconsole worker`: run jobs with a handler function (DESIGN.md §2, docs/queue.md)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="run jobs with a handler function",
        description="Claim jobs in batches and run MODULE:FUNCTION on each (sync or async). "
        "SIGTERM/SIGINT stop it gracefully: running jobs finish (up to --shutdown-timeout), "
        "the rest are released.",
    )
    p.add_argument(
        "--handler", required=True, metavar="MODULE:FUNCTION", help="def handle(job) -> result | None"
    )
    p.add_argument(
        "--type", dest="types", action="append", metavar="TYPE", help="only these job types (repeatable)"
    )
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="handler threads (default 4)")
    p.add_argument(
        "--batch", type=int, default=10, metavar="N", help="jobs per claim and per completion (default 10)"
    )
    p.add_argument(
        "--lease",
        type=int,
        default=60,
        metavar="SECONDS",
        help="lease per claim, renewed by heartbeats (default 60)",
    )
    p.add_argument("--heartbeat", type=float, metavar="SECONDS", help="heartbeat interval (default lease/3)")
    p.add_argument(
        "--rescue-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="take over jobs of dead workers this often (0 = never; default 15)",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="poll interval when idle, and without a LISTEN (through transaction pooling without listen_dsn) (default 1)",
    )
    p.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long running jobs may finish after SIGTERM (default 30)",
    )
    p.add_argument(
        "--worker-id",
        metavar="ID",
        help="locked_by value and application_name suffix (default host-pid-rand)",
    )
    p.add_argument(
        "--burst", action="store_true", help="exit when no job is due and none is held (after a rescue pass)"
    )
    p.add_argument(
        "--connect-retry",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="keep trying the first connection this long, with backoff (0 = fail at once; default 60)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args: argparse.Namespace, settings: Any) -> int:
    import logging
    import os
    import sys

    import psycopg

    from pgconsole.commands.common import dsn_of, fail
    from pgconsole.db.connect import ConnectError
    from pgconsole.db.redact import redact
    from pgconsole.queue.models import InvalidInput
    from pgconsole.queue.worker import StartError, WorkerConfig, default_worker_id, load_handler, run_worker

    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # handlers in the current project, like `python -m`
    try:
        handler = load_handler(args.handler)
        config = WorkerConfig(
            dsn=dsn_of(settings),
            handler=handler,
            job_types=args.types,
            concurrency=args.concurrency,
            batch=args.batch,
            lease_seconds=args.lease,
            heartbeat_interval=args.heartbeat,
            rescue_interval=args.rescue_interval,
            poll_interval=args.poll,
            shutdown_timeout=args.shutdown_timeout,
            worker_id=args.worker_id or default_worker_id(),
            burst=args.burst,
            connect_timeout=settings.connect_timeout,
            start_retry_seconds=args.connect_retry,
            pooler=settings.pooler,
            listen_dsn=settings.listen_dsn,
        )
        config.validate()
    except InvalidInput as exc:
        return fail(str(exc))
    try:
        stats = run_worker(config)
    except ConnectError as exc:
        return fail(f"cannot connect: {exc}", 2)
    except StartError as exc:
        return fail(str(exc), 2)
    except psycopg.Error as exc:
        return fail(
            f"database error: {redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)}",
            2,
        )
    print(
        f"worker {config.worker_id}: claimed {stats.claimed}, completed {stats.completed}, failed {stats.failed}, "
        f"cancelled {stats.cancelled}, released {stats.released}, rescued {stats.rescued}",
        file=sys.stderr,
    )
    return 0

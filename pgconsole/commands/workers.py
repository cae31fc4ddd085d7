"""`pgconsole workers [--format text|json]`: the live workers (the worker registry)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "workers", help="list the live workers: host, pid, what they serve, held jobs, counters"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace, settings: Any) -> int:
    import json
    from datetime import UTC, datetime

    import psycopg

    from pgconsole.commands.common import dsn_of, fail, open_connection
    from pgconsole.db import Purpose
    from pgconsole.db.connect import explain_error
    from pgconsole.format import duration as fmt_duration
    from pgconsole.format import literal_text
    from pgconsole.queue import client

    conn = open_connection(settings, Purpose.DASHBOARD)
    try:
        with conn:
            workers = client.list_workers(conn)
    except psycopg.Error as exc:
        return fail(explain_error(exc, dsn_of(settings), needs="read"))
    if args.format == "json":
        print(json.dumps([w.model_dump(mode="json") for w in workers], ensure_ascii=False))
        return 0
    if not workers:
        print("no live worker (none has sent a heartbeat within three heartbeat intervals)")
        return 0
    now = datetime.now(UTC)
    print(
        f"{'worker':<30} {'host':<16} {'pid':>7} {'conc':>4} {'held':>5} {'done':>8} {'failed':>7} "
        f"{'heartbeat':>10}  types / sessions"
    )
    for w in workers:
        types = ",".join(w.job_types) if w.job_types else "all types"
        sessions = ",".join(str(p) for p in w.backend_pids or []) or "none"
        print(
            f"{literal_text(w.worker_id, 30):<30} {literal_text(w.host, 16):<16} {w.pid:>7} {w.concurrency:>4} {w.held:>5} "
            f"{w.completed:>8} {w.failed:>7} {fmt_duration((now - w.heartbeat_at).total_seconds()) + ' ago':>10}  "
            f"{literal_text(types, 40)} / backends {sessions}"
        )
        for jid in (w.held_job_ids or [])[:10]:
            print(f"    holds {jid}")
    return 0

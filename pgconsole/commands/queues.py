"""`pgconsole queues [--format text|json]`: every queue system in the database (issue 17 item 3).

Lists each detected system (pgconsole's own, Procrastinate, PgQueuer, ... and the configured
``[queues.NAME]`` tables) with its version where known, counts by state in pgconsole's words beside
the native states, how each count was obtained (exact, capped, estimate), its job types or queues,
the oldest due job and the recent throughput, all read by queue.systems (the console's Queues
screen reads the same); reading needs only read access to the library's tables.
Exit codes: 0 listed (a system that could not be read says why in its entry), 1 bad config, 2 cannot connect.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "queues",
        help="list the job-queue systems in the database with their counts",
        description="Detect every queue system in the database (pgconsole, procrastinate, pgqueuer, "
        "pgboss, graphile_worker, configured [queues.NAME] tables) and show its counts.",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace, settings: Any) -> int:
    import json

    from pgconsole.commands.common import fail, open_connection
    from pgconsole.db import Purpose
    from pgconsole.queue.models import InvalidInput
    from pgconsole.queue.systems import registry

    conn = open_connection(settings, Purpose.DASHBOARD)
    with conn:
        try:
            reads = registry.read_every(conn, settings.queues)
        except InvalidInput as exc:
            return fail(str(exc))
        out = [
            r.summary.model_dump(mode="json")
            if r.summary
            else {"info": r.info.model_dump(), "error": r.error}
            for r in reads
        ]
    if args.format == "json":
        print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        print(render_text(out) if out else "no job queue found in this database")
    return 0


def _count(c: dict[str, Any]) -> str:
    n = c["count"]
    return {"capped": f"{n:,}+", "estimate": f"~{n:,}"}.get(c["method"], f"{n:,}")


def render_text(summaries: list[dict[str, Any]]) -> str:
    from pgconsole.format import duration, literal_text

    lines: list[str] = []
    for s in summaries:
        info = s["info"]
        head = f"{literal_text(info['name'], 60)}"
        if info["kind"] != info["name"]:
            head += f" ({info['kind']})"
        if info.get("version"):
            head += f" {literal_text(info['version'], 40)}"
        lines.append(f"{head}  {literal_text(info.get('location') or '', 100)}")
        if "error" in s:
            lines.append(f"  cannot read: {literal_text(s['error'], 300)}")
            continue
        lines.append("  " + "  ".join(f"{c['state']} {_count(c)}" for c in s["states"]))
        lines.append(
            "  native: "
            + ", ".join(f"{literal_text(c['native'], 30)} {_count(c)}" for c in s["native_states"])
            + "   (n exact, n+ capped, ~n estimate)"
        )
        if s["types"]:
            shown = [
                f"{literal_text(t['name'], 40)} "
                + "/".join(f"{k} {v:,}" for k, v in t["counts"].items())
                + ("+" if t["method"] == "capped" else "")
                for t in s["types"][:10]
            ]
            more = f" (+{len(s['types']) - 10} more)" if len(s["types"]) > 10 else ""
            lines.append("  types: " + ", ".join(shown) + more)
        due = s.get("oldest_due_age_s")
        lines.append("  oldest due: " + (duration(due) + " ago" if due is not None else "none"))
        tp = s.get("throughput")
        if tp:
            mark = "+" if tp["method"] == "capped" else ""
            lines.append(
                f"  last {tp['window_s'] / 60:g} min: {tp['completed']:,}{mark} completed, {tp['failed']:,}{mark} failed"
            )
        for f in s["failures"][:5]:
            lines.append(
                f"  failing: {f['count']:,} x {literal_text(f.get('job_type') or '', 40)} {literal_text(f['error'], 120)}"
            )
        if s["stuck"]:
            lines.append(f"  stuck or running long: {len(s['stuck'])}")
        for note in s.get("notes") or []:
            lines.append(f"  note: {literal_text(note, 300)}")
    return "\n".join(lines)

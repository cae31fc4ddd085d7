"""`pgconsole doctor`: what this role can and cannot do, and the SQL that would fix each gap."""

from __future__ import annotations

import argparse
from typing import Any

from pgconsole.db import Purpose


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "doctor", help="privileges, extensions and settings: what is missing and how to fix it"
    )
    p.add_argument("--format", choices=("text", "json"), default="text", dest="doctor_format")


def run(args: argparse.Namespace, settings: Any) -> int:
    from pgconsole.commands.common import open_connection
    from pgconsole.schema.doctor import diagnose

    conn = open_connection(settings, Purpose.CHECK)
    try:
        report = diagnose(conn)
    finally:
        conn.close()
    if args.doctor_format == "json":
        print(report.model_dump_json(indent=2))
    else:
        for f in report.findings:
            mark = {"ok": "ok  ", "missing": "MISS", "warning": "WARN"}[f.status]
            print(f"[{mark}] {f.name}: {f.message}")
            if f.fix:
                print(f"       fix: {f.fix}")
    return 0 if all(f.status == "ok" for f in report.findings) else 1

"""`pgconsole setup [--print]`: roles, schema, extensions (idempotent)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pgconsole.db import Purpose


def add_parser(sub: Any) -> None:
    p = sub.add_parser("setup", help="create the pgconsole schema, roles and extensions (idempotent)")
    p.add_argument("--print", action="store_true", dest="print_sql", help="print the SQL instead of running it")


def run(args: argparse.Namespace, settings: Any) -> int:
    import psycopg

    from pgconsole.commands.common import open_connection
    from pgconsole.db.connect import describe_error
    from pgconsole.schema.setup import run_setup, setup_sql

    if args.print_sql:
        print(";\n\n".join(s.rstrip(";") for s in setup_sql()) + ";")
        return 0
    conn = open_connection(settings, Purpose.MIGRATOR)
    try:
        report = run_setup(conn)
    except psycopg.Error as exc:
        # Usually a role that may not create roles or schemas (or a read-only one): say what works.
        print(f"pgconsole setup: {describe_error(exc)}: run setup as a role with CREATEROLE that may create "
              "schemas (or hand `pgconsole setup --print` to your DBA)", file=sys.stderr)
        return 1
    finally:
        conn.close()
    for note in report.notes:
        print(f"note: {note}")
    print("setup complete: schema pgconsole; roles pgconsole_owner, _migrator, _readonly, _operator, _app")
    return 0

"""`pgconsole migrate [--status | --sql | --dry-run | --convert-prerelease]`; exit codes in
docs/migrations.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pgconsole.db import Purpose


def add_parser(sub: Any) -> None:
    p = sub.add_parser("migrate", help="apply pending schema migrations")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--status", action="store_true", help="list applied and pending migrations")
    mode.add_argument("--sql", action="store_true", help="print the pending SQL instead of running it")
    mode.add_argument("--dry-run", action="store_true", help="say what would be applied; change nothing")
    mode.add_argument(
        "--convert-prerelease",
        action="store_true",
        help="convert a database built from the pre-release migrations (all twelve applied), keeping its jobs",
    )
    p.add_argument(
        "--lock-wait", type=float, default=60.0, metavar="S", help="wait for another migrator (default 60)"
    )
    p.add_argument("--ddl-lock-timeout", default="5s", metavar="T", help="lock_timeout for DDL (default 5s)")
    p.add_argument("--migrations-dir", type=Path, help=argparse.SUPPRESS)  # tests: an edited copy


def run(args: argparse.Namespace, settings: Any) -> int:
    import psycopg

    from pgconsole.commands.common import open_connection
    from pgconsole.db.redact import redact
    from pgconsole.schema import migrator as m

    conn = open_connection(settings, Purpose.MIGRATOR)
    directory = args.migrations_dir
    try:
        if args.status or args.dry_run:
            st = m.status(conn, directory)
            if st.exit_code == m.EXIT_PRERELEASE:  # its history would only mislead: one line
                print(f"error: {st.problems[0]}", file=sys.stderr)
                return st.exit_code
            for a in st.applied:
                print(
                    f"applied  {a.version:04d}_{a.name}  {a.applied_at:%Y-%m-%d %H:%M:%S%z}  by {a.applied_by}"
                )
            for p in st.pending:
                tx = "" if p.transactional else "  (no transaction)"
                print(f"{'would apply' if args.dry_run else 'pending'}  {p.filename}{tx}")
            for problem in st.problems:
                print(f"error: {problem}", file=sys.stderr)
            if not st.pending and not st.problems:
                print("database is up to date")
            return st.exit_code
        if args.sql:
            print(m.pending_sql(conn, directory))
            return m.EXIT_OK
        say = lambda msg: print(msg, flush=True)  # noqa: E731
        if args.convert_prerelease:
            m.convert_prerelease(
                conn,
                directory,
                lock_wait_seconds=args.lock_wait,
                ddl_lock_timeout=args.ddl_lock_timeout,
                say=say,
            )
        applied = m.apply(
            conn,
            directory,
            lock_wait_seconds=args.lock_wait,
            ddl_lock_timeout=args.ddl_lock_timeout,
            say=say,
        )
        if applied:
            print(f"applied {len(applied)} migration(s)")
        return m.EXIT_OK
    except m.MigrationError as exc:
        print(f"pgconsole migrate: {redact(exc)}", file=sys.stderr)
        return exc.exit_code
    except psycopg.OperationalError as exc:
        print(f"pgconsole migrate: connection lost: {redact(exc)}", file=sys.stderr)
        return m.EXIT_CONNECT
    finally:
        conn.close()

"""`pgconsole setup [--print] [--pgpass ROLE,...]`: roles, schema, extensions (idempotent); then how
the login roles log in."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from pgconsole.db import Purpose


def add_parser(sub: Any) -> None:
    p = sub.add_parser("setup", help="create the pgconsole schema, roles and extensions (idempotent)")
    p.add_argument(
        "--print", action="store_true", dest="print_sql", help="print the SQL instead of running it"
    )
    p.add_argument(
        "--pgpass",
        metavar="ROLE,...",
        action="append",
        default=[],
        help="after setup, give each named login role a new random password (sent as a hash, never "
        "shown) and write it to your password file ($PGPASSFILE, else ~/.pgpass, mode 0600) "
        "for this host, port and database; replaces a password the role had",
    )


def _roles(values: list[str]) -> list[str]:
    from pgconsole.schema.setup import LOGIN_ROLES

    roles = [r.strip() for v in values for r in v.split(",") if r.strip()]
    bad = [r for r in roles if r not in LOGIN_ROLES]
    if bad:
        raise ValueError(f"--pgpass: {bad[0]!r} is not a pgconsole login role: use {', '.join(LOGIN_ROLES)}")
    return list(dict.fromkeys(roles))


def shown_dsn(dsn: str) -> str:
    """The DSN as the next-step commands print it: without its password (never ``***`` either)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from pgconsole.db.redact import redact

    if redact(dsn) == dsn:
        return dsn
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if k != "password" and v is not None}
    return make_conninfo(**params)  # type: ignore[arg-type]


def next_step(dsn: str, target: tuple[str, str, str]) -> str:
    """What to do after setup: the login roles have no password (unless given one before)."""
    from pgconsole.schema.setup import pgpass_line

    flag = f"--dsn {shlex.quote(shown_dsn(dsn))} " if dsn else ""
    psql = f"psql {shlex.quote(shown_dsn(dsn))}" if dsn else "psql"
    host = "localhost" if target[0].startswith("/") else target[0]  # libpq's name for the default socket
    example = pgpass_line(host, target[1], target[2], "pgconsole_migrator", "PASSWORD")
    return "\n".join(
        [
            "next: setup gives the login roles no password. Give the ones you use a password kept out of DSNs:",
            "  random passwords, written to your password file (~/.pgpass, mode 0600) for this host/port/database:",
            f"    pgconsole {flag}setup --pgpass pgconsole_migrator,pgconsole_operator,pgconsole_readonly",
            "  or your own: psql asks for it and sends only its hash; then add a line per role to ~/.pgpass (chmod 600):",
            f"    {psql} -c '\\password pgconsole_migrator'",
            f"    {example}",
            "  (or a service file, certificates or peer authentication: see docs/roles.md). Then:",
            f"    pgconsole --dsn {shlex.quote(_as_role(dsn, 'pgconsole_migrator'))} migrate",
        ]
    )


def _as_role(dsn: str, role: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = {k: v for k, v in conninfo_to_dict(dsn).items() if k != "password" and v is not None}
    except Exception:  # noqa: BLE001 - only for wording the hint
        params = {}
    params["user"] = role
    if (
        dsn.startswith(("postgresql://", "postgres://"))
        and "host" in params
        and "," not in str(params["host"])
        and not str(params["host"]).startswith("/")
    ):
        port = f":{params['port']}" if params.get("port") else ""
        return f"postgresql://{role}@{params['host']}{port}/{params.get('dbname', '')}"
    return make_conninfo(**params)  # type: ignore[arg-type]


def run(args: argparse.Namespace, settings: Any) -> int:
    import psycopg

    from pgconsole.commands.common import dsn_of, fail, open_connection
    from pgconsole.db.connect import describe_error
    from pgconsole.schema.setup import ROLES, pgpass_target, run_setup, set_random_passwords, setup_sql

    if args.print_sql:
        print(";\n\n".join(s.rstrip(";") for s in setup_sql()) + ";")
        return 0
    try:
        roles = _roles(args.pgpass)
    except ValueError as exc:
        return fail(str(exc), 2)
    conn = open_connection(settings, Purpose.MIGRATOR)
    try:
        report = run_setup(conn)
        target = pgpass_target(conn)
        written = set_random_passwords(conn, roles, target) if roles else None
    except psycopg.Error as exc:
        # Usually a role that may not create roles or schemas (or a read-only one): say what works.
        print(
            f"pgconsole setup: {describe_error(exc)}: run setup as a role with CREATEROLE that may create "
            "schemas (or hand `pgconsole setup --print` to your DBA)",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        return fail(f"setup: cannot write the password file: {exc}")
    finally:
        conn.close()
    for note in report.notes:
        print(f"note: {note}")
    print("setup complete: schema pgconsole; roles " + ", ".join(ROLES) + " (pgconsole_owner cannot log in)")
    if written is not None:
        for role in roles:
            print(f"{role}: new password written to {written} for {':'.join(target)}")
        print(
            f"next: pgconsole --dsn {shlex.quote(_as_role(dsn_of(settings), 'pgconsole_migrator'))} migrate"
        )
        return 0
    print(next_step(dsn_of(settings), target))
    return 0

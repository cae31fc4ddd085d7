"""The doctor: each finding says what works, what does not, and the SQL or setting that fixes it."""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps, read_capabilities


class Finding(BaseModel):
    name: str
    status: Literal["ok", "missing", "warning"]
    message: str
    fix: str | None = None


class DoctorReport(BaseModel):
    role: str
    server_version: str
    findings: list[Finding]


# What the queue's own roles must be able to do: (finding, privilege test, what it is for). A
# producer or worker role is judged by these alone: monitoring is pgconsole_readonly's, so the
# doctor does not suggest pg_read_all_stats to an application.
_ROLE_NEEDS: dict[str, list[tuple[str, str, str]]] = {
    "pgconsole_app": [
        (
            "enqueue",
            "has_function_privilege('pgconsole.create_job(text, text, jsonb, integer, integer, "
            "timestamptz, timestamptz, text, text)', 'EXECUTE')",
            "create_job / client.enqueue",
        ),
        ("insert", "has_table_privilege('pgconsole.jobs', 'INSERT')", "a plain INSERT INTO pgconsole.jobs"),
        ("read_own_jobs", "has_table_privilege('pgconsole.jobs', 'SELECT')", "its own jobs and their status"),
    ],
    "pgconsole_worker": [
        (
            "claim",
            "has_function_privilege('pgconsole.claim_jobs_lean(text, integer, integer, text[])', 'EXECUTE')",
            "the worker's claim",
        ),
        (
            "complete",
            "has_function_privilege('pgconsole.complete_and_claim_jobs(text, uuid[], integer[], jsonb[], "
            "integer, integer, text[])', 'EXECUTE')",
            "the worker's completion",
        ),
        (
            "rescue",
            "has_function_privilege('pgconsole.rescue_stuck_jobs(integer, uuid[])', 'EXECUTE')",
            "taking over a dead worker's jobs",
        ),
    ],
}


def diagnose(conn: psycopg.Connection[Any]) -> DoctorReport:
    caps = read_capabilities(conn)
    queue_role = _queue_role(conn, caps)
    if queue_role is not None:
        findings = _queue_role_findings(conn, caps, queue_role)
    else:
        findings = list(_findings(conn, caps))
        findings += _collector_and_check_findings(conn, caps)
    return DoctorReport(role=caps.current_user, server_version=caps.server_version, findings=findings)


def _queue_role(conn: psycopg.Connection[Any], caps: ServerCaps) -> str | None:
    """pgconsole_app or pgconsole_worker when this role is one of them (and not staff), else None."""
    if caps.is_superuser:
        return None
    rows = conn.execute(
        "SELECT r.rolname FROM pg_roles r"
        " WHERE r.rolname IN ('pgconsole_readonly', 'pgconsole_worker', 'pgconsole_app')"
        "   AND pg_has_role(current_user, r.oid, 'MEMBER')"
    ).fetchall()
    member = {r[0] for r in rows}
    if "pgconsole_readonly" in member:
        return None
    return (
        "pgconsole_worker"
        if "pgconsole_worker" in member
        else "pgconsole_app"
        if "pgconsole_app" in member
        else None
    )


def _queue_role_findings(conn: psycopg.Connection[Any], caps: ServerCaps, queue_role: str) -> list[Finding]:
    role = caps.current_user
    out = [
        Finding(
            name="role",
            status="ok",
            message=f"{role} is a {queue_role} role; the console and --check connect as "
            "pgconsole_readonly or pgconsole_operator, so monitoring privileges are not its",
        )
    ]
    if not caps.has_queue:
        out.append(
            Finding(
                name="queue_schema",
                status="missing",
                message="the pgconsole queue is not installed",
                fix="pgconsole setup && pgconsole migrate",
            )
        )
        return out
    for name, test, what in _ROLE_NEEDS[queue_role]:
        row = conn.execute(f"SELECT {test}").fetchone()  # noqa: S608 - constant expressions above
        if row and row[0]:
            out.append(Finding(name=name, status="ok", message=f"can use {what}"))
        else:
            out.append(
                Finding(
                    name=name,
                    status="missing",
                    message=f"cannot use {what}",
                    fix=f'GRANT {queue_role} TO "{role}"; -- then `pgconsole migrate` if it is current',
                )
            )
    return out


def _collector_and_check_findings(conn: psycopg.Connection[Any], caps: ServerCaps) -> list[Finding]:
    """Run every collector once as this role and judge every check: what works, what does not, and
    the GRANT / setting / command that would enable it."""
    from pgconsole.checks.registry import REGISTRY, check_names, run_checks
    from pgconsole.checks.result import Status
    from pgconsole.monitor.snapshot import COLLECTORS, take_snapshot

    snap = take_snapshot(conn, caps)
    out: list[Finding] = []
    for spec in COLLECTORS:
        st = snap.state(spec.name)
        if st.status == "ok":
            out.append(Finding(name=f"collector:{spec.name}", status="ok", message=spec.description))
        elif st.status == "limited":
            out.append(
                Finding(
                    name=f"collector:{spec.name}",
                    status="warning",
                    message=f"{spec.description}: {st.message}",
                    fix=st.hint,
                )
            )
        else:
            out.append(
                Finding(
                    name=f"collector:{spec.name}",
                    status="missing",
                    message=f"{spec.description}: {st.status}: {st.message}",
                    fix=st.hint,
                )
            )
    check_names()
    for r in run_checks(snap):
        d = REGISTRY[r.name]
        if r.status is Status.UNKNOWN:
            out.append(
                Finding(
                    name=f"check:{r.name}", status="missing", message=f"cannot run: {r.message}", fix=r.hint
                )
            )
        else:
            out.append(Finding(name=f"check:{r.name}", status="ok", message=f"can run ({d.description})"))
    return out


def _findings(conn: psycopg.Connection[Any], caps: ServerCaps) -> list[Finding]:
    role = caps.current_user
    out: list[Finding] = []
    if caps.major < 14:
        out.append(
            Finding(
                name="server_version",
                status="warning",
                message=f"PostgreSQL {caps.server_version} is older than 14, which pgconsole supports",
            )
        )
    else:
        out.append(Finding(name="server_version", status="ok", message=f"PostgreSQL {caps.server_version}"))
    if caps.is_superuser:
        out.append(
            Finding(
                name="role",
                status="warning",
                message=f"connected as superuser {role}: use pgconsole_readonly or pgconsole_operator",
            )
        )
    if caps.can_read_all_stats or caps.is_superuser:
        out.append(
            Finding(name="pg_read_all_stats", status="ok", message="can see every session and statement")
        )
    else:
        out.append(
            Finding(
                name="pg_read_all_stats",
                status="missing",
                message="other roles' query text, waits and statements are hidden",
                fix=f'GRANT pg_read_all_stats TO "{role}";',
            )
        )
    if caps.can_read_all_settings or caps.is_superuser:
        out.append(Finding(name="pg_read_all_settings", status="ok", message="can read every setting"))
    else:
        out.append(
            Finding(
                name="pg_read_all_settings",
                status="missing",
                message="some settings (data_directory, archive_command) are hidden",
                fix=f'GRANT pg_read_all_settings TO "{role}";',
            )
        )
    if not caps.pgss_preloaded:
        out.append(
            Finding(
                name="pg_stat_statements_preload",
                status="missing",
                message="pg_stat_statements is not in shared_preload_libraries; no slow-query data",
                fix="ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; -- then restart",
            )
        )
    elif not caps.pgss_usable:
        out.append(
            Finding(
                name="pg_stat_statements",
                status="missing",
                message="the pg_stat_statements extension is not created in this database",
                fix="CREATE EXTENSION pg_stat_statements;",
            )
        )
    else:
        out.append(
            Finding(
                name="pg_stat_statements",
                status="ok",
                message=f"pg_stat_statements {caps.pgss_version} in schema {caps.pgss_schema}",
            )
        )
    if not caps.has_queue:
        out.append(
            Finding(
                name="queue_schema",
                status="missing",
                message="the pgconsole queue is not installed",
                fix="pgconsole setup && pgconsole migrate",
            )
        )
    else:
        out.append(Finding(name="queue_schema", status="ok", message="pgconsole.jobs exists"))
    track = conn.execute("SELECT current_setting('track_io_timing')").fetchone()
    if track and track[0] != "on":
        out.append(
            Finding(
                name="track_io_timing",
                status="warning",
                message="I/O timing is off; read/write time shows 0",
                fix="ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();",
            )
        )
    return out


_CAN_MIGRATE_SQL = """
SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       OR coalesce(pg_has_role(current_user, to_regrole('pgconsole_owner'), 'MEMBER'), false), current_user::text
"""


def migrate_refusal(conn: psycopg.Connection[Any]) -> str:
    """Why this role may not apply migrations ("" when it may)."""
    row = conn.execute(_CAN_MIGRATE_SQL).fetchone()
    if row and row[0]:
        return ""
    user = row[1] if row else "this role"
    return (
        f"role {user} may not apply migrations: run `pgconsole migrate` as pgconsole_migrator, "
        f"or GRANT pgconsole_migrator TO {user}"
    )

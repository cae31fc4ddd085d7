"""Arrange jobs in a test database (as superuser: test setup, not code under test)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

HOSTILE = "[bold red]x[/] [/] \x1b[31mred\x1b[0m bell\x07 end"

_INSERT = """
INSERT INTO pgconsole.jobs (job_type, status, payload, error_message, retry_count, max_retries, completed_at,
                            started_at, locked_by, lease_expires_at, created_at)
VALUES (%(job_type)s, %(status)s, %(payload)s::jsonb, %(error)s, %(retries)s, 3,
        CASE WHEN %(status)s IN ('completed','failed','cancelled','expired') THEN now() - make_interval(secs => %(age)s) END,
        CASE WHEN %(status)s = 'processing' THEN now() END,
        CASE WHEN %(status)s = 'processing' THEN 'w-test' END,
        CASE WHEN %(status)s = 'processing' THEN now() + interval '5 minutes' END,
        now() - make_interval(secs => %(age)s))
RETURNING id::text
"""


def add_job(
    conn: psycopg.Connection[Any],
    job_type: str,
    status: str,
    *,
    payload: Any = None,
    error: str | None = None,
    retries: int = 0,
    age: float = 60,
) -> str:
    row = conn.execute(
        _INSERT,
        {
            "job_type": job_type,
            "status": status,
            "payload": json.dumps(payload or {}),
            "error": error,
            "retries": retries,
            "age": age,
        },
    ).fetchone()
    assert row is not None
    return str(row[0])


def seed(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for i in range(3):
        ids.setdefault("failed", []).append(
            add_job(
                conn,
                "email.send",
                "failed",
                payload={"to": f"u{i}@x.test"},
                error="SMTP 451 mailbox busy",
                retries=3,
                age=300 + i,
            )
        )
    ids["processing"] = [add_job(conn, "report.build", "processing", age=120)]
    ids["pending"] = [add_job(conn, "image.resize", "pending", age=30 + i) for i in range(2)]
    ids["completed"] = [add_job(conn, "email.send", "completed", age=600 + i) for i in range(2)]
    return ids


def statuses(conn: psycopg.Connection[Any], ids: list[str]) -> dict[str, str]:
    rows = conn.execute(
        "SELECT id::text, status FROM pgconsole.jobs WHERE id = ANY(%s::uuid[])", (ids,)
    ).fetchall()
    return {r[0]: r[1] for r in rows}

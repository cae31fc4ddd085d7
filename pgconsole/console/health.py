"""Health verdicts for the banner: the check registry (pgconsole.checks) when it is installed.

The banner and ``pgconsole --check`` must agree, so the console asks the same registry. Until the
registry exists, a connection-level verdict is all the banner claims.
"""

from __future__ import annotations

from typing import Any

import psycopg

from pgconsole.console.models import CheckRow
from pgconsole.db.capabilities import ServerCaps


def run(conn: psycopg.Connection[Any], caps: ServerCaps) -> list[CheckRow]:
    try:
        from pgconsole.checks import run_checks  # type: ignore[attr-defined]
        from pgconsole.monitor import take_snapshot  # type: ignore[attr-defined]
    except ImportError:
        return [CheckRow(name="connection", status="ok", message=f"connected to PostgreSQL {caps.server_version}")]
    snapshot = take_snapshot(conn, caps)
    out = []
    for r in run_checks(snapshot, {}):
        status = str(getattr(r, "status", "unknown")).lower().rsplit(".", 1)[-1]
        if status not in ("ok", "warning", "critical", "unknown"):
            status = "unknown"
        out.append(CheckRow(name=str(getattr(r, "name", "?")), status=status,  # type: ignore[arg-type]
                            message=str(getattr(r, "message", ""))))
    return out

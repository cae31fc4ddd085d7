"""Edit a job's payload, then retry it: parse what the operator typed, and call the queue's
``pgconsole.retry_job_with_payload`` (SECURITY DEFINER, compare-and-set on failed/cancelled/expired,
one audit record naming the session user in the same statement).

The operator role has no UPDATE on ``pgconsole.jobs``; this module never writes the table itself.
"""

from __future__ import annotations

import json
from typing import Any, LiteralString

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from pgconsole.queue.models import ACTION_STATES, SKIP_REASONS, ActionRow

CALL_SQL: LiteralString = "SELECT id, job_type, old_status, new_status FROM pgconsole.retry_job_with_payload(%s::uuid, %s::jsonb, %s)"


class PayloadError(ValueError):
    """What the operator typed is not a payload the queue accepts; nothing was written."""


class PayloadRetryResult(BaseModel):
    job_id: str
    changed: bool
    old_status: str | None = None  # the state before (None: the job does not exist)
    reason: str = ""  # why nothing changed
    row: ActionRow | None = None  # the change, when there was one

    def describe(self) -> str:
        if self.changed:
            return f"retried {self.job_id} with the edited payload (was {self.old_status})"
        return f"not retried: {self.reason}"


def parse_payload(text: str) -> Any:
    """The editor's text as a JSON value, or :class:`PayloadError` with line and column."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if value is None:
        raise PayloadError("payload: must not be null (use {} for none)")
    if _has_nul(value):
        raise PayloadError("not storable: PostgreSQL jsonb cannot hold the NUL character (\\u0000)")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def call_text(conn: psycopg.Connection[Any], job_id: str, payload: Any, reason: str, width: int = 400) -> str:
    """The statement the confirmation shows (values inlined for reading only; they run as parameters)."""
    body = json.dumps(payload, ensure_ascii=False)
    note = ""
    if len(body) > width:
        body, note = body[:width] + "…", f"\n  -- payload shown cut at {width} of {len(body)} characters"
    return psycopg.ClientCursor(conn).mogrify(CALL_SQL, (job_id, body, reason)) + note


def retry_with_payload(
    conn: psycopg.Connection[Any], job_id: str, payload: Any, reason: str = "pgconsole console"
) -> PayloadRetryResult:
    """Set ``payload`` and make the job pending again, in one transaction with its audit record.

    Nothing changes unless the job is failed, cancelled or expired at the moment of the call.
    """
    with conn.transaction(), conn.cursor(row_factory=class_row(ActionRow)) as cur:
        cur.execute(CALL_SQL, (job_id, Jsonb(payload), reason))
        rows = cur.fetchall()
    if rows:
        return PayloadRetryResult(job_id=job_id, changed=True, old_status=rows[0].old_status, row=rows[0])
    row = conn.execute("SELECT status FROM pgconsole.jobs WHERE id = %s::uuid", (job_id,)).fetchone()
    if row is None:
        return PayloadRetryResult(job_id=job_id, changed=False, reason="the job no longer exists")
    status = str(row[0])
    why = SKIP_REASONS.get(("retry", status), status)
    if status in ACTION_STATES["retry"]:  # retryable, yet refused: an active job holds its dedupe key
        why = "another pending or processing job holds the same dedupe key"
    return PayloadRetryResult(job_id=job_id, changed=False, old_status=status, reason=why)

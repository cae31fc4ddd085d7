"""Queue errors with one clear line each, translated from the SQL API's SQLSTATEs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from pgconsole.db.redact import redact
from pgconsole.queue.models import InvalidInput


class QueueError(Exception):
    """A queue call failed; the message is one line and safe to show."""


class JobNotFound(QueueError):
    pass


class LimitExceeded(QueueError):
    """The per-user active-job limit (SQLSTATE PC429)."""


class DuplicateJob(QueueError):
    """An active job with the same dedupe key exists (SQLSTATE 23505)."""


def _first_line(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        return redact(str(primary))
    lines = str(exc).strip().splitlines()
    return redact(lines[0] if lines else exc.__class__.__name__)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn the SQL API's errors into InvalidInput / JobNotFound / LimitExceeded / DuplicateJob."""
    try:
        yield
    except psycopg.Error as exc:
        new = translated(exc)
        if new is exc:
            raise
        raise new from None


def translated(exc: psycopg.Error) -> Exception:
    """The queue error a SQL API error stands for, or ``exc`` itself when it is none of them."""
    state = getattr(exc, "sqlstate", None)
    msg = _first_line(exc)
    field, _, problem = msg.partition(": ")
    if state == "22023":
        return InvalidInput(field if problem else "input", problem or msg)
    if state == "22P02":
        return InvalidInput("payload", f"not valid JSON ({msg})")
    if state in ("22P05", "22021"):
        return InvalidInput("payload", f"contains a character PostgreSQL cannot store ({msg})")
    if state == "23514":
        constraint = getattr(getattr(exc, "diag", None), "constraint_name", None) or ""
        name = constraint.removeprefix("jobs_").removesuffix("_check") or "input"
        return InvalidInput(name, f"violates {constraint or 'a check constraint'}")
    if state == "PC404":
        return JobNotFound(msg)
    if state == "PC429":
        return LimitExceeded(msg)
    if state == "23505":
        return DuplicateJob(msg)
    if state is None and isinstance(exc, psycopg.DataError):
        # raised by psycopg before sending, e.g. a NUL byte in a text parameter
        return InvalidInput("input", msg)
    return exc

"""Reading timestamps that Python's datetime cannot hold.

PostgreSQL stores ``infinity``, ``-infinity`` and years before 1 or after 9999; psycopg's loader
raises on them, so one such value in a row would make a whole listing or check fail. pgconsole's
reads show them as ``datetime.max`` / ``datetime.min`` (UTC) instead. Registered for the text
format, which every read outside the worker's binary claim uses; psycopg's C loader cannot be
subclassed, so this one wraps it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Loader

TIMESTAMPTZ_MAX = datetime.max.replace(tzinfo=UTC)
TIMESTAMPTZ_MIN = datetime.min.replace(tzinfo=UTC)

_OID = psycopg.postgres.types["timestamptz"].oid
_BASE = psycopg.adapters.get_loader(_OID, pq.Format.TEXT)


class FiniteTimestamptzLoader(Loader):
    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        assert _BASE is not None
        self._inner = _BASE(oid, context)

    def load(self, data: Any) -> datetime:
        try:
            return self._inner.load(data)  # type: ignore[no-any-return]
        except psycopg.DataError:
            text = bytes(data).lstrip()
            # 'infinity' and years after 9999 are late; '-infinity' and BC dates are early
            return TIMESTAMPTZ_MIN if text.startswith(b"-") or text.endswith(b"BC") else TIMESTAMPTZ_MAX


def register() -> None:
    psycopg.adapters.register_loader("timestamptz", FiniteTimestamptzLoader)

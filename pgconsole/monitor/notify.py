"""LISTEN/NOTIFY queue fill (pg_notification_queue_usage, 9.5+): a full queue makes NOTIFY fail."""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_one

NOTIFY_SQL = """
SELECT pg_notification_queue_usage()::float8 AS usage,
       (SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'ClientRead' AND upper(left(query, 6)) = 'LISTEN')::int AS listeners
"""


class NotifyQueue(BaseModel):
    usage: float
    """Fraction (0..1) of the notification queue in use."""
    listeners: int
    """Sessions whose last statement was a LISTEN (a lower bound; needs pg_read_all_stats for other roles)."""

    @property
    def usage_percent(self) -> float:
        return self.usage * 100.0


def notify_statements(caps: ServerCaps) -> list[Statement]:
    return [(NOTIFY_SQL, None)]


def collect_notify(conn: psycopg.Connection[Any], caps: ServerCaps) -> NotifyQueue:
    return NotifyQueue(**fetch_one(conn, *notify_statements(caps)[0]))

"""Connections: one factory for every connection, DSN resolution, password redaction."""

from pgconsole.db.connect import (
    ConnectError,
    Pooler,
    Purpose,
    Timeouts,
    connect,
    describe_error,
)
from pgconsole.db.dsn import describe_target
from pgconsole.db.redact import redact
from pgconsole.db.timestamps import register as _register_timestamp_loader

_register_timestamp_loader()  # every connection made after this reads out-of-range timestamps

__all__ = [
    "ConnectError",
    "Pooler",
    "Purpose",
    "Timeouts",
    "connect",
    "describe_error",
    "describe_target",
    "redact",
]

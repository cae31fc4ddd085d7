"""Connections: one factory for every connection and pool, DSN resolution, password redaction."""

from pgconsole.db.connect import (
    ConnectError,
    Purpose,
    Timeouts,
    connect,
    connect_async,
    describe_error,
    make_async_pool,
    make_pool,
)
from pgconsole.db.dsn import describe_target
from pgconsole.db.redact import redact
from pgconsole.db.timestamps import register as _register_timestamp_loader

_register_timestamp_loader()  # every connection made after this reads out-of-range timestamps

__all__ = [
    "ConnectError",
    "Purpose",
    "Timeouts",
    "connect",
    "connect_async",
    "describe_error",
    "make_async_pool",
    "make_pool",
    "describe_target",
    "redact",
]

"""Helpers shared by the subcommands: connecting with a clear one-line error."""

from __future__ import annotations

import sys
from typing import Any

from pgconsole.db import Purpose
from pgconsole.db.connect import ConnectError, connect


def dsn_of(settings: Any) -> str:
    return str(settings.target_dsn())


def open_connection(settings: Any, purpose: Purpose, **kwargs: Any) -> Any:
    """Connect or print one redacted line and raise SystemExit(2)."""
    dsn = dsn_of(settings)
    try:
        return connect(dsn, purpose, connect_timeout=settings.chosen_connect_timeout(), **kwargs)
    except ConnectError as exc:
        print(f"pgconsole: cannot connect: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def fail(message: str, code: int = 1) -> int:
    print(f"pgconsole: {message}", file=sys.stderr)
    return code

"""Helpers shared by the subcommands: connecting with a clear one-line error."""

from __future__ import annotations

import sys
from typing import Any

from pgconsole.db import Purpose, resolve_dsn
from pgconsole.db.connect import ConnectError, connect


def dsn_of(settings: Any) -> str:
    # settings.dsn already ranks --dsn over $PGCONSOLE_DSN over the config file.
    return resolve_dsn(settings.dsn)


def connect_timeout_of(settings: Any) -> float | None:
    """The connect timeout the user chose (flag, env or config file), else None: then a
    ``connect_timeout`` in the DSN or ``$PGCONNECT_TIMEOUT`` applies, else the 10 s default."""
    chosen = "connect_timeout" in getattr(settings, "model_fields_set", ())
    return float(settings.connect_timeout) if chosen else None


def open_connection(settings: Any, purpose: Purpose, **kwargs: Any) -> Any:
    """Connect or print one redacted line and raise SystemExit(2)."""
    dsn = dsn_of(settings)
    try:
        return connect(dsn, purpose, connect_timeout=connect_timeout_of(settings), **kwargs)
    except ConnectError as exc:
        print(f"pgconsole: cannot connect: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def fail(message: str, code: int = 1) -> int:
    print(f"pgconsole: {message}", file=sys.stderr)
    return code


def literal_text(text: Any, limit: int = 80) -> str:
    """Database text shown literally: control characters escaped, long values cut."""
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return s if len(s) <= limit else s[: limit - 1] + "…"

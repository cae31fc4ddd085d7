"""The one connection factory: every connection and pool pgconsole opens comes from here.

Each use (dashboard, check, operator, migrator, worker) gets its own application_name and its own
server-side time limits, so that nothing pgconsole runs can hang a session or hold a lock for long
(DESIGN.md §5, reliability.md F2–F4).
"""

from __future__ import annotations

import enum
import os
import weakref
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel

from pgconsole.db.redact import password_of, redact

DEFAULT_CONNECT_TIMEOUT = 10.0


class ConnectError(Exception):
    """Could not connect or authenticate; the message is already redacted.

    ``auth`` is True when the server refused the login (wrong or missing password, no pg_hba.conf
    entry): trying again changes nothing, unlike a network error or a server that is restarting.
    """

    def __init__(self, message: str, *, auth: bool = False) -> None:
        super().__init__(message)
        self.auth = auth


# libpq reports a refused login only as text (no SQLSTATE reaches the client before the
# connection exists); these are the server's and libpq's own wordings.
_AUTH_FAILURES = (
    "password authentication failed",
    "no password supplied",
    "authentication failed for user",
    "no pg_hba.conf entry",
    "password is required",
)


def is_auth_failure(message: str) -> bool:
    low = message.lower()
    return any(text in low for text in _AUTH_FAILURES)


# What a role needs for each kind of work (docs/roles.md): the GRANT that fixes a permission error.
GRANT_FOR = {"read": "pgconsole_readonly", "act": "pgconsole_operator", "enqueue": "pgconsole_app"}

ErrorKind = str  # "auth" | "network" | "permission" | "read_only" | "schema" | "other"


def classify_error(exc: BaseException) -> ErrorKind:
    """What kind of failure ``exc`` is, for the words and the fix shown to the user."""
    if isinstance(exc, ConnectError):
        return "auth" if exc.auth else "network"
    state = getattr(exc, "sqlstate", None)
    if state == "42501":  # insufficient_privilege
        return "permission"
    if state == "25006":  # read_only_sql_transaction: the role's sessions are read-only
        return "read_only"
    if state in ("42P01", "42883", "3F000") and "pgconsole" in str(exc):
        return "schema"  # undefined table / function / schema, in pgconsole's own schema
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "other"  # a statement timeout: the server answered, it was slow
    if isinstance(exc, psycopg.OperationalError):
        return "network"
    return "other"


def explain_error(exc: BaseException, dsn: str = "", *, user: str | None = None, needs: str = "read") -> str:
    """One redacted line that says what went wrong and, for a missing privilege or a missing
    schema, what fixes it (the GRANT, or `pgconsole setup` / `pgconsole migrate`)."""
    text = describe_error(exc, dsn)
    kind = classify_error(exc)
    if kind == "permission":
        who = user or "this role"
        role = GRANT_FOR.get(needs, "pgconsole_readonly")
        return (
            f"{text}: role {who} lacks the privilege; fix (as an admin): GRANT {role} TO {who}; "
            f"`pgconsole doctor` lists what is missing"
        )
    if kind == "read_only":
        who = user or "this role"
        role = GRANT_FOR.get(needs, "pgconsole_operator")
        return (
            f"{text}: role {who}'s sessions are read-only (default_transaction_read_only); "
            f"connect as a role that may write, e.g. {role}"
        )
    if kind == "schema":
        return (
            f"{text}: the pgconsole schema is not installed or not migrated in this database; "
            f"run `pgconsole setup` (once, as an admin), then `pgconsole migrate`"
        )
    return text


class Purpose(enum.StrEnum):
    DASHBOARD = "dashboard"
    CHECK = "check"
    OPERATOR = "operator"
    MIGRATOR = "migrator"
    WORKER = "worker"
    APP = "app"


class Timeouts(BaseModel):
    """Server-side limits in milliseconds (0 disables one, which we only do deliberately)."""

    statement_ms: int
    lock_ms: int
    idle_in_transaction_ms: int


DEFAULT_TIMEOUTS: dict[Purpose, Timeouts] = {
    # The dashboard reads only: short statements, never waits on a lock for long.
    Purpose.DASHBOARD: Timeouts(statement_ms=5_000, lock_ms=1_000, idle_in_transaction_ms=10_000),
    Purpose.CHECK: Timeouts(statement_ms=5_000, lock_ms=1_000, idle_in_transaction_ms=10_000),
    # Operator actions run in batches; each batch must finish well inside this.
    Purpose.OPERATOR: Timeouts(statement_ms=30_000, lock_ms=5_000, idle_in_transaction_ms=60_000),
    # Migrations may rewrite tables; DDL lock waits are bounded per migration with SET LOCAL.
    Purpose.MIGRATOR: Timeouts(statement_ms=600_000, lock_ms=10_000, idle_in_transaction_ms=120_000),
    Purpose.WORKER: Timeouts(statement_ms=30_000, lock_ms=5_000, idle_in_transaction_ms=60_000),
    Purpose.APP: Timeouts(statement_ms=30_000, lock_ms=5_000, idle_in_transaction_ms=60_000),
}

# Dashboard and check sessions must stay cheap for the server they watch.
_CHEAP_SESSION = {"jit": "off", "max_parallel_workers_per_gather": "0"}


def application_name(purpose: Purpose, suffix: str | None = None) -> str:
    base = "pgconsole" if purpose is Purpose.DASHBOARD else f"pgconsole-{purpose.value}"
    return f"{base}:{suffix}" if suffix else base


def connection_kwargs(
    dsn: str,
    purpose: Purpose,
    *,
    connect_timeout: float | None = None,
    app_suffix: str | None = None,
) -> dict[str, Any]:
    """libpq parameters added to the user's DSN.

    ``connect_timeout``: a number given here (``--connect-timeout``, config) wins; ``None`` keeps
    the DSN's ``connect_timeout`` or ``$PGCONNECT_TIMEOUT`` when either is set, else 10 s.
    The DSN's own keepalive settings are kept. ``application_name`` is always pgconsole's own for
    its own sessions: the dashboard recognises and hides its own sessions, and stuck-job
    detection recognises workers, by that name; only :attr:`Purpose.APP` (the application's
    producers) keeps a name given in the DSN.
    Raises :class:`ConnectError` (redacted) when the DSN cannot be parsed.
    """
    try:
        given: Mapping[str, Any] = conninfo_to_dict(dsn) if dsn else {}
    except psycopg.Error as exc:
        # psycopg echoes the whole URI, password included, in some parse errors (reliability.md I4).
        raise ConnectError(f"invalid connection string: {describe_error(exc, dsn)}") from None
    defaults: dict[str, Any] = {
        # Detect a dead peer on idle connections (keepalives) and on unacknowledged sends.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    kwargs = {k: v for k, v in defaults.items() if k not in given}
    if connect_timeout is not None:
        kwargs["connect_timeout"] = _whole_seconds(connect_timeout)
    elif "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        kwargs["connect_timeout"] = _whole_seconds(DEFAULT_CONNECT_TIMEOUT)
    if purpose is not Purpose.APP or "application_name" not in given:
        kwargs["application_name"] = application_name(purpose, app_suffix)
    return kwargs


def _whole_seconds(seconds: float) -> int:
    # libpq takes whole seconds and treats anything below 2 as 2.
    return max(2, int(round(seconds)))


def _secrets(dsn: str) -> tuple[str, ...]:
    pw = password_of(dsn) if dsn else None
    return (pw,) if pw else ()


def session_settings(purpose: Purpose, timeouts: Timeouts | None = None) -> dict[str, str]:
    t = timeouts or DEFAULT_TIMEOUTS[purpose]
    settings = {
        "statement_timeout": str(t.statement_ms),
        "lock_timeout": str(t.lock_ms),
        "idle_in_transaction_session_timeout": str(t.idle_in_transaction_ms),
    }
    if purpose in (Purpose.DASHBOARD, Purpose.CHECK):
        settings.update(_CHEAP_SESSION)
    return settings


def apply_settings(conn: psycopg.Connection[Any], settings: Mapping[str, str]) -> None:
    """Apply session settings after connecting, all in one statement (values as parameters).

    Not through transaction pooling: a session setting stays on the server connection, which the
    pooler hands to its next client (:func:`connect` skips this there, docs/configuration.md)."""
    if not settings:
        return
    autocommit = conn.autocommit
    conn.autocommit = True
    calls = ", ".join(["set_config(%s, %s, false)"] * len(settings))
    params = [v for item in settings.items() for v in item]
    conn.execute(f"SELECT {calls}", params)  # type: ignore[arg-type]  # noqa: S608 - placeholders only
    conn.autocommit = autocommit


class Pooler(enum.StrEnum):
    """What sits between pgconsole and the server (setting ``pooler``, docs/configuration.md).

    ``auto``: a pooler is assumed when the server's ``port`` setting differs from the port this
    connection reached (PgBouncer, pgcat, Odyssey, or any proxy or port mapping in between), and
    treated as transaction pooling, the mode that allows the least; ``none``: a direct connection;
    ``transaction`` / ``session``: a pooler in that mode, declared."""

    AUTO = "auto"
    NONE = "none"
    TRANSACTION = "transaction"
    SESSION = "session"


_default_pooler = Pooler.AUTO
# How each open connection was classified (none / transaction / session), for the code that must
# not leave session state behind (queue.admin's audit name, the snapshot's statement_timeout).
_pooling: weakref.WeakKeyDictionary[psycopg.Connection[Any], Pooler] = weakref.WeakKeyDictionary()


def set_default_pooler(pooler: str | Pooler) -> None:
    """The ``pooler`` setting for connections opened without one (the CLI sets it once)."""
    global _default_pooler
    _default_pooler = Pooler(pooler)


def default_pooler() -> Pooler:
    return _default_pooler


def pooling(conn: psycopg.Connection[Any]) -> Pooler:
    """``none``, ``transaction`` or ``session``: what :func:`connect` found or was told for ``conn``
    (``none`` for a connection it did not open)."""
    return _pooling.get(conn, Pooler.NONE)


_PORT_SQL = "SELECT current_setting('port')"


def detect_pooler(conn: psycopg.Connection[Any]) -> Pooler:
    """One cheap statement: the server's own port against the port this connection reached. A
    pooler (or any proxy) listens on a port of its own; one on another host with the same port
    number is not seen, and a plain port mapping looks like one: declare ``pooler`` then."""
    row = conn.execute(_PORT_SQL).fetchone()
    try:
        server_port = int(row[0]) if row else None
    except (TypeError, ValueError):
        server_port = None
    reached = conn.info.port
    if server_port is None or not reached or server_port == reached:
        return Pooler.NONE
    return Pooler.TRANSACTION


def _prepare_for(conn: psycopg.Connection[Any], pooler: Pooler) -> Pooler:
    """Classify ``conn`` and make it safe for what sits in between: behind any pooler no
    server-side prepared statement (psycopg's ``prepare_threshold=None``): the next transaction
    may run on another server connection, and one session's statements would be found by the next
    client of a session pool whose reset query does not DISCARD ALL."""
    mode = detect_pooler(conn) if pooler is Pooler.AUTO else pooler
    if mode is not Pooler.NONE:
        conn.prepare_threshold = None
        _pooling[conn] = mode
    return mode


def connect(
    dsn: str,
    purpose: Purpose,
    *,
    autocommit: bool = True,
    timeouts: Timeouts | None = None,
    connect_timeout: float | None = None,
    app_suffix: str | None = None,
    row_factory: Any = None,
    pooler: Pooler | str | None = None,
) -> psycopg.Connection[Any]:
    """Open one connection for ``purpose``. Raises :class:`ConnectError` with a redacted message.

    ``pooler`` (default: :func:`default_pooler`, the ``pooler`` setting): behind a pooler the
    connection prepares no statement; behind transaction pooling it also gets no session setting
    (its limits are then the role's own, which ``pgconsole setup`` sets for pgconsole's roles, and
    the callers' deadlines). application_name is a startup parameter, which PgBouncer keeps per
    client and sets on whichever server connection the client is given."""
    kwargs = connection_kwargs(dsn, purpose, connect_timeout=connect_timeout, app_suffix=app_suffix)
    try:
        conn: psycopg.Connection[Any] = psycopg.connect(dsn, autocommit=True, **kwargs)
    except psycopg.Error as exc:
        message = describe_error(exc, dsn)
        raise ConnectError(message, auth=is_auth_failure(message)) from None
    try:
        if row_factory is not None:
            conn.row_factory = row_factory
        mode = _prepare_for(conn, Pooler(pooler) if pooler is not None else _default_pooler)
        if mode is not Pooler.TRANSACTION:
            apply_settings(conn, session_settings(purpose, timeouts))
        conn.autocommit = autocommit
    except psycopg.Error as exc:
        conn.close()
        raise ConnectError(describe_error(exc, dsn)) from None
    return conn


def describe_error(exc: BaseException, dsn: str = "") -> str:
    """One line, no password: what went wrong talking to the server."""
    text = str(exc).strip()
    # libpq messages can span lines ("connection to server ... failed: ...\n\tIs the server ...").
    first = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return redact(first or exc.__class__.__name__, _secrets(dsn))


def connect_pgbouncer_admin(dsn: str, *, connect_timeout: float | None = None) -> psycopg.Connection[Any]:
    """A connection to PgBouncer's admin console (the ``pgbouncer`` database of ``dsn``, setting
    ``pgbouncer_dsn``): autocommit, no prepared statements and no session setting (it accepts only
    its SHOW commands, without parameters). Raises :class:`ConnectError`, redacted."""
    kwargs = connection_kwargs(dsn, Purpose.CHECK, connect_timeout=connect_timeout)
    try:
        conn: psycopg.Connection[Any] = psycopg.connect(
            dsn, autocommit=True, prepare_threshold=None, **kwargs
        )
    except psycopg.Error as exc:
        message = describe_error(exc, dsn)
        raise ConnectError(message, auth=is_auth_failure(message)) from None
    _pooling[conn] = Pooler.TRANSACTION  # nothing of a session is set on it, whatever the caller
    return conn

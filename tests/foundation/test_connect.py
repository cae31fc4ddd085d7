"""The connection factory: every purpose gets its application_name and server-side limits."""

from __future__ import annotations

import pytest

from pgconsole.db import Purpose, connect, describe_target, redact
from pgconsole.db.connect import DEFAULT_TIMEOUTS, Timeouts
from tests.foundation.helpers import SetUpDB

_SHOW = (
    "SELECT current_setting('application_name'), current_setting('statement_timeout'),"
    " current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout'),"
    " current_setting('jit'), current_setting('max_parallel_workers_per_gather')"
)


def _ms(value: str) -> int:
    units = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
    for unit in ("min", "ms", "s", "h"):
        if value.endswith(unit):
            return int(value.removesuffix(unit)) * units[unit]
    return int(value)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_each_purpose_gets_its_name_and_limits(setup_db: SetUpDB, purpose: Purpose) -> None:
    conn = connect(
        setup_db.dsn_as("pgconsole_app"), purpose, app_suffix=None if purpose is Purpose.DASHBOARD else "t1"
    )
    try:
        name, stmt, lock, idle, jit, parallel = conn.execute(_SHOW).fetchone()  # type: ignore[misc]
        assert conn.autocommit
    finally:
        conn.close()
    t = DEFAULT_TIMEOUTS[purpose]
    assert (_ms(stmt), _ms(lock), _ms(idle)) == (t.statement_ms, t.lock_ms, t.idle_in_transaction_ms)
    expected_name = "pgconsole" if purpose is Purpose.DASHBOARD else f"pgconsole-{purpose.value}:t1"
    assert name == expected_name
    cheap = purpose in (Purpose.DASHBOARD, Purpose.CHECK)
    assert (jit == "off" and parallel == "0") == cheap


def test_custom_timeouts_and_a_transaction_connection(setup_db: SetUpDB) -> None:
    conn = connect(
        setup_db.dsn_as("pgconsole_app"),
        Purpose.OPERATOR,
        autocommit=False,
        timeouts=Timeouts(statement_ms=1234, lock_ms=321, idle_in_transaction_ms=4567),
    )
    try:
        row = conn.execute(_SHOW).fetchone()
        assert row is not None and row[:4] == ("pgconsole-operator", "1234ms", "321ms", "4567ms")
        assert not conn.autocommit
    finally:
        conn.close()


def test_describe_target_and_redact_never_show_a_password() -> None:
    secret = "Hx7-secret-pw"
    assert describe_target(f"postgresql://bob:{secret}@db1:6432/app") == "bob@db1:6432/app"
    assert secret not in describe_target(f"host=db1 password={secret} user=bob")
    assert secret not in describe_target(f"postgresql://bob:{secret}@[broken")
    for text in (
        f"postgresql://bob:{secret}@db1/app",
        f"password={secret}",
        f"password = '{secret}' host=x",
        f"postgres://u:{secret}@h/d?sslmode=require",
        f"postgresql://h/d?user=u&password={secret}",
    ):
        assert secret not in redact(text), text
    assert redact("no secrets here: pass the salt") == "no secrets here: pass the salt"

"""EXPLAIN of a parameterised statement (issue 15 item 9): on PostgreSQL 14/15 it asks for the
values (NeedsParameters) and plans with them; on 16+ GENERIC_PLAN works without them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from pgconsole.monitor.explain import NeedsParameters, explain

QUERY = "SELECT id FROM pgconsole.jobs WHERE job_type = $1 AND priority > $2"


def test_parameterised_explain_on_this_server(db: Any) -> None:
    major = db.cluster.major
    with psycopg.connect(db.dsn_as("pgconsole_operator"), autocommit=True) as conn:
        if major < 16:
            with pytest.raises(NeedsParameters) as info:
                explain(conn, QUERY, server_major=major)
            assert info.value.numbers == [1, 2] and "$1, $2" in str(info.value)
        else:
            assert "jobs" in explain(conn, QUERY, server_major=major)  # GENERIC_PLAN
        with pytest.raises(NeedsParameters):  # ANALYZE executes: it needs values on every version
            explain(conn, QUERY, server_major=major, analyze=True)
        plan = explain(conn, QUERY, server_major=major, params=["email.send", "5"])
        assert "jobs" in plan and "email.send" in plan, plan
        analyzed = explain(conn, QUERY, server_major=major, analyze=True, params=["email.send", "5"])
        assert "actual" in analyzed
        # Nothing is left behind on the connection, even after a failed plan.
        with pytest.raises(psycopg.Error):
            explain(conn, QUERY, server_major=major, params=["email.send", "not a number"])
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
        assert "jobs" in explain(conn, QUERY, server_major=major, params=["x", "1"])


def test_wrong_number_of_values_is_refused(db18: Any) -> None:
    from pgconsole.monitor.explain import ExplainError

    with psycopg.connect(db18.dsn_as("pgconsole_operator"), autocommit=True) as conn:
        with pytest.raises(ExplainError, match=r"\$1, \$2"):
            explain(conn, QUERY, server_major=15, params=["only one"])

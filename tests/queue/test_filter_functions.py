"""The filter's newer_than and payload path (jobs_matching and every function built on it) and
count_jobs_matching_by_status (docs/sql-api.md, Operator actions)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pgconsole.db import Purpose, connect
from pgconsole.queue import client


@pytest.fixture
def readonly(db: Any) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
    yield conn
    conn.close()


@pytest.fixture
def seeded(app: Any, su: Any) -> dict[str, Any]:
    """Six jobs: their states, ages and payloads set by the superuser (the test's arrangement)."""
    rows = {
        # name: (status, age of coalesce(completed_at, created_at), payload)
        "new_pending": ("pending", "1 minute", {"customer": {"id": "42"}, "kind": "a"}),
        "old_pending": ("pending", "3 days", {"customer": {"id": "7"}, "kind": "a"}),
        "new_failed": ("failed", "2 hours", {"customer": {"id": "42"}, "n": 5}),
        "old_failed": ("failed", "10 days", {"customer": {"id": "42"}, "n": 6}),
        "new_done": ("completed", "30 minutes", {"list": ["x", "y"], "n": 5}),
        "old_cancelled": ("cancelled", "20 days", {"list": ["y", "x"]}),
    }
    ids: dict[str, Any] = {}
    for name, (status, age, payload) in rows.items():
        jid = client.enqueue(app, "filter.t", payload)
        su.execute(
            "UPDATE pgconsole.jobs SET status = %s, created_at = now() - %s::interval,"
            " completed_at = CASE WHEN %s <> 'pending' THEN now() - %s::interval END WHERE id = %s",
            (status, age, status, age, jid),
        )
        ids[name] = jid
    return ids


def _count(conn: Any, action: str | None = None, **kw: Any) -> int:
    args = ", ".join(f"{k} => %({k})s" for k in kw)
    row = conn.execute(
        f"SELECT pgconsole.count_jobs_matching(%(a)s{', ' if args else ''}{args})",  # noqa: S608 - names above
        {"a": action, **kw},
    ).fetchone()
    return int(row[0])


def _by_status(conn: Any, **kw: Any) -> list[tuple[str, int]]:
    args = ", ".join(f"{k} => %({k})s" for k in kw)
    return [
        (r[0], r[1])
        for r in conn.execute(f"SELECT * FROM pgconsole.count_jobs_matching_by_status({args})", kw).fetchall()  # noqa: S608
    ]


def test_newer_than_selects_jobs_finished_or_created_within_it(operator: Any, seeded: dict[str, Any]) -> None:
    assert _count(operator, p_newer_than="1 hour") == 2  # new_pending, new_done
    assert _count(operator, p_newer_than="1 day") == 3  # + new_failed
    assert _count(operator, "retry", p_newer_than="1 day") == 1  # only new_failed is retryable
    # with older_than: a window
    assert _count(operator, p_newer_than="15 days", p_older_than="1 day") == 2  # old_pending, old_failed
    assert _count(operator, p_newer_than="0 seconds") == 0


def test_payload_path_compares_the_text_at_the_path(operator: Any, seeded: dict[str, Any]) -> None:
    path = {"p_payload_path": ["customer", "id"]}
    assert _count(operator, **path, p_payload_path_value="42") == 3
    assert _count(operator, "delete", **path, p_payload_path_value="42") == 2  # the failed ones
    assert _count(operator, **path, p_payload_path_value="4") == 0  # equality, not a prefix
    assert _count(operator, p_payload_path=["n"], p_payload_path_value="5") == 2  # numbers as their text
    assert _count(operator, p_payload_path=["list", "0"], p_payload_path_value="x") == 1  # array index
    assert _count(operator, p_payload_path=["missing"], p_payload_path_value="x") == 0
    # combined with the other fields
    assert _count(operator, **path, p_payload_path_value="42", p_newer_than="1 day") == 2


def test_the_actions_take_the_new_fields_and_audit_them(
    operator: Any, su: Any, seeded: dict[str, Any]
) -> None:
    rows = operator.execute(
        "SELECT id, old_status, new_status FROM pgconsole.retry_jobs_matching(p_reason => 'customer 42',"
        " p_payload_path => '{customer,id}', p_payload_path_value => '42', p_newer_than => '1 day')"
    ).fetchall()
    assert rows == [(seeded["new_failed"], "failed", "pending")]
    [meta] = [
        r[0]
        for r in su.execute(
            "SELECT metadata FROM pgconsole.job_log WHERE level = 'audit' AND job_id = %s",
            (seeded["new_failed"],),
        ).fetchall()
    ]
    assert meta["filter"] == {
        "newer_than": "1 day",
        "payload_path": ["customer", "id"],
        "payload_path_value": "42",
        "request_running": False,
    }
    cancelled = operator.execute(
        "SELECT id FROM pgconsole.cancel_jobs_matching(p_reason => 'old ones', p_older_than => '1 day',"
        " p_newer_than => '5 days', p_payload_path => '{kind}', p_payload_path_value => 'a')"
    ).fetchall()
    assert cancelled == [(seeded["old_pending"],)]
    deleted = operator.execute(
        "SELECT id FROM pgconsole.delete_jobs_matching(p_reason => 'lists', p_payload_path => '{list,1}',"
        " p_payload_path_value => 'x')"
    ).fetchall()
    assert deleted == [(seeded["old_cancelled"],)]
    [meta] = [
        r[0]
        for r in su.execute(
            "SELECT metadata FROM pgconsole.job_log WHERE level = 'audit' AND message = 'delete'"
        ).fetchall()
    ]
    assert meta["filter"]["payload_path"] == ["list", "1"] and "newer_than" not in meta["filter"]


def test_existing_positional_and_named_calls_keep_working(operator: Any, seeded: dict[str, Any]) -> None:
    row = operator.execute(
        "SELECT pgconsole.count_jobs_matching('delete', NULL, ARRAY['filter'], NULL, NULL, NULL, false)"
    ).fetchone()
    assert row == (4,)
    rows = operator.execute(
        "SELECT * FROM pgconsole.delete_jobs_matching('done', ARRAY['completed'], NULL, NULL, NULL, NULL, 10)"
    ).fetchall()
    assert [r[0] for r in rows] == [seeded["new_done"]]


def test_count_by_status_groups_the_filter_over_every_state(
    operator: Any, readonly: Any, seeded: dict[str, Any]
) -> None:
    assert _by_status(readonly) == [("pending", 2), ("completed", 1), ("failed", 2), ("cancelled", 1)]
    assert _by_status(operator, p_newer_than="1 day") == [("pending", 1), ("completed", 1), ("failed", 1)]
    assert _by_status(operator, p_payload_path=["customer", "id"], p_payload_path_value="42") == [
        ("pending", 1),
        ("failed", 2),
    ]
    assert _by_status(operator, p_statuses=["failed"], p_older_than="1 day") == [("failed", 1)]
    assert _by_status(operator, p_job_types=["nothing"]) == []
    assert sum(n for _, n in _by_status(operator, p_newer_than="1 day")) == _count(
        operator, p_newer_than="1 day"
    )


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"p_newer_than": "-1 hour"}, "newer_than"),
        ({"p_payload_path": ["a"]}, "payload_path_value"),
        ({"p_payload_path_value": "x"}, "payload_path"),
        ({"p_payload_path": [], "p_payload_path_value": "x"}, "payload_path"),
        ({"p_payload_path": ["k"] * 33, "p_payload_path_value": "x"}, "payload_path"),
        ({"p_payload_path": ["a", None], "p_payload_path_value": "x"}, "payload_path"),
    ],
)
def test_bad_values_are_refused_naming_the_field(operator: Any, kw: dict[str, Any], field: str) -> None:
    calls = [
        lambda: _count(operator, **kw),
        lambda: _by_status(operator, **kw),
        lambda: operator.execute(
            "SELECT * FROM pgconsole.retry_jobs_matching(p_reason => 'r', "  # noqa: S608 - names above
            + ", ".join(f"{k} => %({k})s" for k in kw)
            + ")",
            kw,
        ),
    ]
    for call in calls:
        with pytest.raises(psycopg.errors.InvalidParameterValue) as exc:
            call()
        assert exc.value.diag.message_primary.startswith(f"{field}: "), exc.value.diag.message_primary


def test_a_32_element_path_is_accepted(operator: Any, seeded: dict[str, Any]) -> None:
    assert _count(operator, p_payload_path=["k"] * 32, p_payload_path_value="x") == 0


def test_only_staff_may_count_by_status(db: Any, app: Any, worker: Any, readonly: Any) -> None:
    for conn in (app, worker):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM pgconsole.count_jobs_matching_by_status()")
    assert readonly.execute("SELECT count(*) FROM pgconsole.count_jobs_matching_by_status()").fetchone() == (
        0,
    )
    with psycopg.connect(db.dsn, autocommit=True) as su:
        acl = su.execute(
            "SELECT array_agg(a.grantee::regrole::text ORDER BY a.grantee::regrole::text) FROM pg_proc p, aclexplode(p.proacl) a"
            " WHERE p.oid = 'pgconsole.count_jobs_matching_by_status'::regproc AND a.privilege_type = 'EXECUTE'"
        ).fetchone()
    assert acl == (["pgconsole_operator", "pgconsole_owner", "pgconsole_readonly"],)

"""Edit the payload, then retry (issue #5 §3), against PostgreSQL 18 as pgconsole_operator: the
console goes through pgconsole.retry_job_with_payload (migration 0005), never an UPDATE of its own."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from textual.widgets import DataTable, Static, TextArea

from pgconsole.queue import payload_edit
from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen, EditPayloadScreen
from pgconsole.tui.source import PgSource
from tests.tui.dbseed import add_job
from tests.tui.helpers import plain, rows, until

SIZE = (140, 40)


def _job(conn: psycopg.Connection[Any], job_id: str) -> tuple[Any, str]:
    row = conn.execute("SELECT payload, status FROM pgconsole.jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def _audit(conn: psycopg.Connection[Any], job_id: str) -> list[tuple[str, str, Any]]:
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT actor, message, metadata FROM pgconsole.job_log WHERE job_id = %s AND level = 'audit'",
            (job_id,),
        ).fetchall()
    ]


async def _open_editor(pilot: Any, app: PgConsoleApp, job_type: str) -> EditPayloadScreen:
    await pilot.press("slash")
    await pilot.press("ctrl+u", *f"type:{job_type}", "enter")
    await until(
        pilot,
        lambda: (
            [r for r in rows(app.screen.query_one("#jobs-table", DataTable)) if r[2] == job_type]
            and len(rows(app.screen.query_one("#jobs-table", DataTable))) == 1
        ),
        what=f"{job_type} row",
    )
    await pilot.press("e")
    return await until(pilot, lambda: isinstance(app.screen, EditPayloadScreen) and app.screen, what="editor")


async def test_edit_payload_then_retry_from_the_ui(db18: Any) -> None:
    with db18.admin() as conn:
        failed = add_job(
            conn, "email.send", "failed", payload={"to": "old@x.test"}, error="SMTP 550 no such user"
        )
        busy = add_job(conn, "report.build", "processing", payload={"n": 1})
    app = PgConsoleApp(PgSource(db18.dsn_as("pgconsole_operator")), refresh=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: rows(app.screen.query_one("#jobs-table", DataTable)), what="jobs")

        # 1. invalid JSON: the editor says why and stays open; nothing is written
        editor = await _open_editor(pilot, app, "email.send")
        area = editor.query_one(TextArea)
        assert json.loads(area.text) == {"to": "old@x.test"}, "the editor starts from the stored payload"
        area.load_text('{"to": "new@x.test",')
        await pilot.press("ctrl+s")
        # save either shows the error or leaves the editor: the error shown, the screen is checked below
        # (not idle(): the edit-and-retry worker waits on this editor while it is open)
        error = editor.query_one("#edit-error", Static)
        await until(pilot, lambda: plain(error), what="the editor's error line")
        assert app.screen is editor, "an invalid payload does not leave the editor"
        assert "not JSON" in plain(editor.query_one("#edit-error", Static))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, EditPayloadScreen), what="editor closed")
        with db18.admin() as conn:
            assert _job(conn, failed) == ({"to": "old@x.test"}, "failed")
            assert _audit(conn, failed) == []

        # 2. a valid edit: confirmation names the function, the job is pending with the new payload
        editor = await _open_editor(pilot, app, "email.send")
        editor.query_one(TextArea).load_text('{"to": "new@x.test", "retry_note": "[bold]typo fixed[/]"}')
        await pilot.press("ctrl+s")
        confirm = await until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, what="confirm"
        )
        statement = plain(confirm.query_one("#confirm-statement", Static))
        assert "pgconsole.retry_job_with_payload" in statement and "new@x.test" in statement
        assert "Retry 1 job(s)" in plain(confirm.query_one("#confirm-question", Static))
        await pilot.press("y")
        run = await until(
            pilot,
            lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished and app.screen,
            what="run finished",
        )
        assert "1 of 1 changed" in plain(run.query_one("#run-status", Static))
        await pilot.press("enter")

        # 3. a processing job: the confirmation says it will be skipped, and it is
        editor = await _open_editor(pilot, app, "report.build")
        editor.query_one(TextArea).load_text('{"n": 2}')
        await pilot.press("ctrl+s")
        confirm = await until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, what="confirm 2"
        )
        assert "Retry 0 job(s)" in plain(confirm.query_one("#confirm-question", Static))
        await pilot.press("y")
        run = await until(
            pilot,
            lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished and app.screen,
            what="run 2 finished",
        )
        report = plain(run.query_one("#run-status", Static))
        assert "0 of 1 changed" in report and "processing" in report
        await pilot.press("enter", "q")
    assert app.return_code == 0
    with db18.admin() as conn:
        assert _job(conn, failed) == ({"to": "new@x.test", "retry_note": "[bold]typo fixed[/]"}, "pending")
        audit = _audit(conn, failed)
        assert len(audit) == 1
        actor, message, meta = audit[0]
        assert actor == "pgconsole_operator" and message == "retry with edited payload"
        assert meta["old_status"] == "failed" and meta["new_status"] == "pending"
        assert meta["old_payload"] == {"to": "old@x.test"} and meta["action"] == "retry_with_payload"
        assert _job(conn, busy) == ({"n": 1}, "processing")
        assert _audit(conn, busy) == []


def test_function_rules(db18: Any) -> None:
    """Compare-and-set, payload limits and privileges of pgconsole.retry_job_with_payload itself."""
    with db18.admin() as conn:
        failed = add_job(conn, "email.send", "failed", payload={"a": 1})
        busy = add_job(conn, "report.build", "processing", payload={"b": 1})
        done = add_job(conn, "report.build", "completed", payload={"c": 1})
        conn.execute("UPDATE pgconsole.settings SET value = '200' WHERE key = 'payload_max_bytes'")
        prosecdef, config, grantees = conn.execute(
            "SELECT prosecdef, array_to_string(proconfig, ';'),"
            "       (SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END"
            "                         ORDER BY 1) FROM aclexplode(proacl) a WHERE a.privilege_type = 'EXECUTE')"
            "  FROM pg_proc WHERE oid = 'pgconsole.retry_job_with_payload(uuid,jsonb,text)'::regprocedure"
        ).fetchone()  # type: ignore[misc]
        assert prosecdef and "search_path=pg_catalog, pg_temp" in config
        assert sorted(grantees) == ["pgconsole_operator", "pgconsole_owner"], "no EXECUTE for PUBLIC"
    with psycopg.connect(db18.dsn_as("pgconsole_operator"), autocommit=True) as op:
        r = payload_edit.retry_with_payload(op, busy, {"b": 2})
        assert not r.changed and r.old_status == "processing" and "processing" in r.reason
        r = payload_edit.retry_with_payload(op, done, {"c": 2})
        assert not r.changed and r.reason == "completed"
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="payload: .* over the limit"):
            payload_edit.retry_with_payload(op, failed, {"big": "x" * 500})
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="reason"):
            payload_edit.retry_with_payload(op, failed, {"a": 2}, reason=" ")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            op.execute("UPDATE pgconsole.jobs SET payload = '{}' WHERE id = %s", (failed,))
        r = payload_edit.retry_with_payload(op, failed, {"a": 2})
        assert r.changed and r.old_status == "failed"
        r = payload_edit.retry_with_payload(op, failed, {"a": 3})
        assert not r.changed and r.reason == "already pending", "a second call changes nothing"
    for role in ("pgconsole_readonly", "pgconsole_app"):
        with (
            psycopg.connect(db18.dsn_as(role), autocommit=True) as other,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            other.execute("SELECT * FROM pgconsole.retry_job_with_payload(%s, '{}', 'x')", (done,))
    with db18.admin() as conn:
        assert _job(conn, failed) == ({"a": 2}, "pending")
        assert _job(conn, busy) == ({"b": 1}, "processing") and _job(conn, done) == ({"c": 1}, "completed")
        n = conn.execute("SELECT count(*) FROM pgconsole.job_log WHERE level = 'audit'").fetchone()
        assert n is not None and n[0] == 1


@pytest.mark.parametrize(
    "text,error",
    [
        ('{"a": ', "not JSON"),
        ("null", "must not be null"),
        ('{"a": "\\u0000"}', "NUL"),
        ("[1, 2", "not JSON"),
    ],
)
def test_parse_payload_refuses(text: str, error: str) -> None:
    with pytest.raises(payload_edit.PayloadError, match=error):
        payload_edit.parse_payload(text)
    assert payload_edit.parse_payload('{"k": "\\\\u0000 is text"}') == {"k": "\\u0000 is text"}

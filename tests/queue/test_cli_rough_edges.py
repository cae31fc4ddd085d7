"""Issue 15 item 9, the CLI's rough edges, through the real CLI in a subprocess: `jobs show` prints
JSON and "–" (no Python reprs), and `jobs list --type` means what the console's `type:` and the SQL
filter functions mean (a prefix or a glob)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pgconsole.queue.type_patterns import type_pattern
from tests.foundation.helpers import cli
from tests.tui.dbseed import add_job

TYPES = ("email.send", "email.bulk", "emailer.digest", "sms.send", "report.a", "report.ab", "snake_case.x")


def test_jobs_show_prints_json_and_a_dash_for_missing_values(db: Any) -> None:
    with db.admin() as su:
        jid = add_job(su, "calc.sum", "completed", payload={"n": 6, "ok": True, "name": "é"})
        su.execute('UPDATE pgconsole.jobs SET result = \'{"sum": 21, "none": null}\' WHERE id = %s', (jid,))
    out = cli("jobs", "show", jid, "--dsn", db.dsn_as("pgconsole_operator"))
    assert out.returncode == 0, out.stderr
    fields = {line[:20].strip(): line[21:] for line in out.stdout.split("\n\nlog:")[0].splitlines()}
    assert json.loads(fields["payload"]) == {"n": 6, "ok": True, "name": "é"}
    assert json.loads(fields["result"]) == {"sum": 21, "none": None}
    assert fields["error_message"] == "–" and fields["user_id"] == "–"
    assert "None" not in out.stdout and "{'" not in out.stdout and "True" not in out.stdout, out.stdout


@pytest.fixture
def typed_jobs(db: Any) -> dict[str, str]:
    with db.admin() as su:
        return {add_job(su, t, "failed", error="boom"): t for t in TYPES}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("email", {"email.send", "email.bulk", "emailer.digest"}),  # a prefix, as type:email
        ("email.", {"email.send", "email.bulk"}),
        ("email.*", {"email.send", "email.bulk"}),  # an anchored glob
        ("*.send", {"email.send", "sms.send"}),
        ("report.?", {"report.a"}),
        ("email.send", {"email.send"}),  # a full name still matches itself
        ("snake_case", {"snake_case.x"}),  # _ is literal, not LIKE's any-char
        ("snake?case.x", {"snake_case.x"}),
    ],
)
def test_list_type_is_a_prefix_or_a_glob_like_the_console_and_the_filter_functions(
    db: Any, typed_jobs: dict[str, str], value: str, expected: set[str]
) -> None:
    dsn = db.dsn_as("pgconsole_operator")
    listed = cli("jobs", "list", "--type", value, "--format", "json", "--dsn", dsn)
    assert listed.returncode == 0, listed.stderr
    assert {j["job_type"] for j in json.loads(listed.stdout)} == expected
    # The same filter through the SQL filter functions (retry's dry run counts with jobs_matching).
    dry = cli("jobs", "retry", "--type", value, "--dry-run", "--format", "json", "--dsn", dsn)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["count"] == len(expected), dry.stdout
    # And the console's filter line (console.jobs_browser.where_clause) over the same jobs.
    from pgconsole.queue.browse import where_clause
    from pgconsole.tui.filter_line import parse_filter

    where, params = where_clause(parse_filter(f"type:{value}"))
    with db.admin() as su:
        query = b"SELECT job_type FROM pgconsole.jobs WHERE " + where.as_bytes(su)
        got = {r[0] for r in su.execute(query, params).fetchall()}  # type: ignore[call-overload]
    assert got == expected


def test_sql_and_python_type_patterns_agree(db: Any) -> None:
    values = ["email", "email.*", "*.send", "a?b", "x_y", "50%", "back\\slash", "**", "?", "a.b.c"]
    with db.admin() as su:
        for v in values:
            row = su.execute("SELECT pgconsole.job_type_pattern(%s)", (v,)).fetchone()
            assert row is not None and row[0] == type_pattern(v), v


def test_a_bad_type_pattern_is_one_line(db: Any) -> None:
    out = cli("jobs", "list", "--type", "email send", "--dsn", db.dsn_as("pgconsole_operator"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("pgconsole: job_type:") and "glob" in out.stderr, out.stderr

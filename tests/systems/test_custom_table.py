"""A team's own jobs table, created with the seeds' ``jobs`` DDL and declared with one line of
config, is watched and acted on: counts, failed jobs listed, retried, cancelled, cleaned up, each
change guarded by state and audited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pgconsole.config import load_settings
from pgconsole.queue.models import ActionTarget, InvalidInput, JobFilter
from pgconsole.queue.systems import registry
from pgconsole.queue.systems.custom_table import TableSystem

# The seeds' DDL (shared/seeds/000: "CREATE TABLE jobs"), with the tables its foreign keys name.
# uuid_generate_v4() is uuid-ossp's, which the embedded server does not ship: the same v4 uuid
# from the core gen_random_uuid().
SEED_DDL = """
CREATE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql AS 'SELECT gen_random_uuid()';
CREATE TABLE users (id UUID PRIMARY KEY DEFAULT uuid_generate_v4());
CREATE TABLE teams (id UUID PRIMARY KEY DEFAULT uuid_generate_v4());
CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = now(); RETURN NEW; END $$;
CREATE TABLE jobs (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id UUID REFERENCES users(id) ON DELETE SET NULL,
    team_id UUID REFERENCES teams(id) ON DELETE CASCADE,
    job_type VARCHAR(100) NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'pending',
    priority INTEGER DEFAULT 0,
    payload JSONB NOT NULL DEFAULT '{}',
    result JSONB,
    error_message TEXT,
    retry_count INTEGER DEFAULT 0,
    max_retries INTEGER DEFAULT 3,
    scheduled_at TIMESTAMP WITH TIME ZONE,
    started_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_jobs_status ON jobs(status);
CREATE INDEX idx_jobs_scheduled_at ON jobs(scheduled_at) WHERE status = 'pending';
CREATE INDEX idx_jobs_user_id ON jobs(user_id);
CREATE INDEX idx_jobs_team_id ON jobs(team_id);
CREATE INDEX idx_jobs_created_at ON jobs(created_at);
CREATE TRIGGER update_jobs_updated_at BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
GRANT SELECT ON jobs TO pgconsole_readonly;
GRANT SELECT, UPDATE, DELETE ON jobs TO pgconsole_operator;
"""

ONE_LINE = '[queues.app_jobs]\ntable = "public.jobs"\n'


def seed_jobs(su: Any) -> dict[str, list[str]]:
    su.execute(SEED_DDL)
    rows = [("email", "pending"), ("email", "pending"), ("report", "processing"), ("email", "completed")]
    rows += [("email", "failed"), ("report", "failed")]
    ids: dict[str, list[str]] = {}
    for n, (jt, st) in enumerate(rows):
        r = su.execute(
            "INSERT INTO jobs (job_type, status, error_message, started_at, completed_at, created_at)"
            " VALUES (%s, %s, %s, CASE WHEN %s <> 'pending' THEN now() END,"
            " CASE WHEN %s IN ('completed', 'failed') THEN now() END, now() - make_interval(secs => %s))"
            " RETURNING id::text",
            (jt, st, "smtp down" if st == "failed" else None, st, st, 100 - n),
        ).fetchone()
        ids.setdefault(st, []).append(r[0])
    return ids


def app_jobs(conn: Any, tmp_path: Path) -> TableSystem:
    cfg = tmp_path / "config.toml"
    cfg.write_text(ONE_LINE)
    settings = load_settings(config_path=str(cfg))
    system = registry.choose(registry.detect(conn, settings.queues), "app_jobs")
    assert isinstance(system, TableSystem)
    return system


def test_seed_table_from_one_line_of_config(
    db: Any, su: Any, operator: Any, reader: Any, tmp_path: Path
) -> None:
    ids = seed_jobs(su)
    jobs = app_jobs(reader, tmp_path)
    s = jobs.summary(reader)
    counts = {st.state: (st.count, st.method) for st in s.states}
    assert counts == {
        "pending": (2, "exact"),
        "processing": (1, "exact"),
        "completed": (1, "exact"),
        "failed": (2, "exact"),
        "cancelled": (0, "exact"),
    }
    assert {t.name: t.counts for t in s.types} == {"email": {"pending": 2}, "report": {"processing": 1}}
    assert s.oldest_due_age_s is not None and s.oldest_due_age_s >= 99
    assert s.throughput is not None and (s.throughput.completed, s.throughput.failed) == (1, 2)
    assert [(g.error, g.count) for g in s.failures] == [("smtp down", 1), ("smtp down", 1)]

    page = jobs.page(reader, JobFilter(statuses=["failed"]))
    assert sorted(r.id for r in page.rows) == sorted(ids["failed"])
    assert all(r.error == "smtp down" for r in page.rows)
    # Keyset pages in creation order, newest first.
    first = jobs.page(reader, JobFilter(), limit=4)
    rest = jobs.page(reader, JobFilter(), after=first.next_after, limit=4)
    assert first.has_more and not rest.has_more and len(first.rows) + len(rest.rows) == 6
    assert len({r.id for r in first.rows + rest.rows}) == 6
    detail = jobs.detail(reader, ids["failed"][0])
    assert detail is not None and detail.native["error_message"] == "smtp down" and detail.payload == {}

    op = app_jobs(operator, tmp_path)
    caps = op.capabilities(operator)
    assert caps.retry.enabled and caps.cancel.enabled and not caps.cancel_running.enabled
    target = ActionTarget(filter=JobFilter(statuses=["failed"], job_types=["email"]), reason="smtp fixed")
    shown = op.preview(operator, "retry", target)
    assert (shown.matched, shown.eligible) == (1, 1)
    report = op.run(operator, "retry", target)
    assert [(r.old_status, r.new_status) for r in report.rows] == [("failed", "pending")]
    row = su.execute(
        "SELECT status, completed_at, scheduled_at IS NOT NULL FROM jobs WHERE id = %s", (report.rows[0].id,)
    ).fetchone()
    assert row == ("pending", None, True)

    # Cancel by ids: the running one is left alone (no signal its worker reads), the pending ones change.
    target = ActionTarget(ids=ids["pending"] + ids["processing"], reason="duplicate")
    shown = op.preview(operator, "cancel", target)
    assert shown.eligible == 2 and list(shown.skipped) == [
        "running (a team's own table has no cancel signal its workers are known to read)"
    ]
    report = op.run(operator, "cancel", target)
    assert sorted(r.id for r in report.rows) == sorted(ids["pending"])
    assert (
        su.execute("SELECT status FROM jobs WHERE id = %s", (ids["processing"][0],)).fetchone()[0]
        == "processing"
    )

    # By filter in batches of one: the keyset over the uuid ids goes through every match once.
    report = op.run(
        operator,
        "delete",
        ActionTarget(filter=JobFilter(statuses=["cancelled"]), reason="dupes"),
        batch_size=1,
    )
    assert sorted(r.id for r in report.rows) == sorted(ids["pending"]) and report.batches == 2
    report = op.run(operator, "delete", ActionTarget(filter=JobFilter(statuses=["completed"]), reason="tidy"))
    assert [r.id for r in report.rows] == ids["completed"]
    audits = su.execute(
        "SELECT message, metadata->>'job_id', metadata->>'old_status', metadata->>'new_status', metadata->>'reason'"
        " FROM pgconsole.job_log WHERE level = 'audit' AND metadata->>'system' = 'app_jobs' ORDER BY id"
    ).fetchall()
    assert [a[0] for a in audits] == ["retry", "cancel", "cancel", "delete", "delete", "delete"]
    assert audits[-1] == ("delete", ids["completed"][0], "completed", "deleted", "tidy")


def test_config_errors_name_the_key(db: Any, su: Any, reader: Any) -> None:
    su.execute(SEED_DDL)
    with pytest.raises(InvalidInput, match=r"queues.app_jobs.table: no table 'public.nope'"):
        registry.detect(reader, {"app_jobs": {"table": "public.nope"}})
    with pytest.raises(InvalidInput, match=r"queues.app_jobs.status: column 'state'"):
        registry.detect(reader, {"app_jobs": {"table": "public.jobs", "status": "state"}})
    with pytest.raises(InvalidInput, match=r"queues.x.bogus"):
        registry.detect(reader, {"x": {"table": "jobs", "bogus": 1}})
    with pytest.raises(InvalidInput, match="not one of"):
        registry.detect(reader, {"pgqueuer": {"table": "jobs"}})


def test_cli_queues_and_jobs_on_the_seed_table(db: Any, su: Any, tmp_path: Path) -> None:
    ids = seed_jobs(su)
    cfg = tmp_path / "config.toml"
    cfg.write_text(ONE_LINE)

    def cli(role: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pgconsole", "--dsn", db.dsn_as(role), "--config", str(cfg), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = cli("pgconsole_readonly", "queues", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = {s["info"]["name"]: s for s in json.loads(out.stdout)}
    assert set(data) == {"pgconsole", "app_jobs"}
    states = {s["state"]: s for s in data["app_jobs"]["states"]}
    assert states["failed"]["count"] == 2 and states["failed"]["method"] == "exact"
    assert data["app_jobs"]["info"]["location"] == "public.jobs"
    text = cli("pgconsole_readonly", "queues")
    assert text.returncode == 0 and "app_jobs" in text.stdout and "failed" in text.stdout

    # With two systems, --system is needed for anything but pgconsole's own.
    listed = cli(
        "pgconsole_readonly", "jobs", "--system", "app_jobs", "list", "--status", "failed", "--format", "json"
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(j["id"] for j in json.loads(listed.stdout)) == sorted(ids["failed"])
    dry = cli(
        "pgconsole_operator", "jobs", "--system", "app_jobs", "retry", "--status", "failed", "--dry-run"
    )
    assert dry.returncode == 0 and "would retry 2 job(s)" in dry.stdout
    refused = cli("pgconsole_operator", "jobs", "--system", "app_jobs", "retry", "--status", "failed")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    done = cli("pgconsole_operator", "jobs", "--system", "app_jobs", "retry", "--status", "failed", "--yes")
    assert done.returncode == 0, done.stderr
    assert "retry: 2 job(s) changed" in done.stdout
    shown = cli("pgconsole_readonly", "jobs", "--system", "app_jobs", "show", ids["failed"][0])
    assert shown.returncode == 0 and "audit" in shown.stdout and "retry" in shown.stdout


def test_hostile_names_and_text_stay_literal(db: Any, su: Any, operator: Any, tmp_path: Path) -> None:
    """A table and columns with quotes and semicolons in their names, renamed states, and markup and
    escape sequences in a job's type and error: identifiers are quoted, values stay values."""
    su.execute('CREATE SCHEMA "odd ""s"""')
    su.execute(
        'CREATE TABLE "odd ""s"""."q; DROP TABLE x" ("Id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,'
        ' "kind""" text NOT NULL, "st;ate" text NOT NULL, "why" text)'
    )
    su.execute('GRANT USAGE ON SCHEMA "odd ""s""" TO pgconsole_operator')
    su.execute('GRANT SELECT, UPDATE, DELETE ON "odd ""s"""."q; DROP TABLE x" TO pgconsole_operator')
    hostile = "[bold red]x[/] \x1b[31mred\x1b[0m"
    su.execute(
        'INSERT INTO "odd ""s"""."q; DROP TABLE x" ("kind""", "st;ate", "why") VALUES (%s, %s, %s), (%s, %s, %s)',
        (hostile, "BAD", hostile, "ok.task", "GOOD", None),
    )
    queues = {
        "odd": {
            "table": 'odd "s".q; DROP TABLE x',
            "id": "Id",
            "type": 'kind"',
            "status": "st;ate",
            "error": "why",
            "states": {"failed": ["BAD"], "completed": ["GOOD"], "pending": ["TODO"]},
        }
    }
    system = registry.choose(registry.detect(operator, queues), "odd")
    s = system.summary(operator)
    assert {st.state: st.count for st in s.states}["failed"] == 1
    page = system.page(operator, JobFilter(statuses=["failed"]))
    assert [(r.job_type, r.error) for r in page.rows] == [(hostile, hostile)]
    report = system.run(operator, "retry", ActionTarget(filter=JobFilter(statuses=["failed"]), reason="x"))
    assert [(r.old_status, r.new_status) for r in report.rows] == [("failed", "pending")]
    assert (
        su.execute(
            'SELECT count(*) FROM "odd ""s"""."q; DROP TABLE x" WHERE "st;ate" = %s', ("TODO",)
        ).fetchone()[0]
        == 1
    )

    from pgconsole.commands.queues import render_text

    text = render_text([s.model_dump(mode="json")])
    assert "\x1b" not in text

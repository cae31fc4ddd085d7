"""The exporter publishes every queue system in the database, not only pgconsole's own: a team's
table declared with one line of config appears as ``system="app_jobs"`` in the queue series, with
the counts the system's own summary gives, and its queue checks in ``pgconsole_check_status``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from pgconsole.config import load_settings
from pgconsole.exporter.server import Responder
from pgconsole.exporter.target import Target
from tests.systems.test_custom_table import ONE_LINE, seed_jobs


def _scrape(responder: Responder) -> str:
    code, _, body = responder.respond("/metrics")
    assert code == 200, body
    return body.decode()


def test_exporter_publishes_the_teams_table(db: Any, su: Any, tmp_path: Path) -> None:
    seed_jobs(su)  # 2 pending email, 1 processing report, completed and failed ones
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'dsn = "{db.dsn_as("pgconsole_readonly")}"\n' + ONE_LINE)
    target = Target.from_settings(load_settings(config_path=str(cfg)))
    samples = [
        s
        for fam in text_string_to_metric_families(_scrape(Responder([target])))
        for s in fam.samples
        if s.labels.get("system") == "app_jobs"
    ]
    jobs = {
        (s.labels["job_type"], s.labels["state"]): s.value
        for s in samples
        if s.name == "pgconsole_queue_jobs"
    }
    assert jobs[("email", "pending")] == 2 and jobs[("report", "processing")] == 1, jobs
    assert any(s.name == "pgconsole_queue_oldest_due_seconds" and s.value > 0 for s in samples), samples
    # Its queue checks are published beside pgconsole's own, named by the system.
    status = {
        s.labels["check"]
        for fam in text_string_to_metric_families(_scrape(Responder([target])))
        for s in fam.samples
        if s.name == "pgconsole_check_status"
    }
    assert {"failure_rate", "app_jobs.failure_rate", "app_jobs.queue_latency"} <= status, sorted(status)

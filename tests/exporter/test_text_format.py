"""The exporter writes its series' text itself; it must be what prometheus_client's
``generate_latest`` writes for the same metric families, byte for byte (escaping included)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest

from pgconsole.config import load_settings
from pgconsole.exporter.metrics import _Families, families, text
from pgconsole.exporter.target import Target
from tests.exporter.helpers import write_config

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from tests.pgcluster import TestDB


class _Fixed:
    def __init__(self, fams: list[Metric]) -> None:
        self.fams = fams

    def collect(self) -> list[Metric]:
        return self.fams


def test_text_is_generate_latest_of_the_families(db: TestDB, tmp_path: Path) -> None:
    with db.admin() as conn:
        conn.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT t, '{}' FROM"
            " unnest(ARRAY['mail', 'report.daily', 'sync-2']) t, generate_series(1, 3)"
        )
    cfg = write_config(tmp_path / "c.toml", {"main": {"dsn": db.dsn}})
    target = Target.from_settings(load_settings({}, config_path=str(cfg), profile="main"))
    try:
        target.scrape()
        scrapes = [target.scrape()]
    finally:
        target.close()
    assert scrapes[0].up
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families(scrapes, {target.name: target})))  # type: ignore[arg-type]
    expected = generate_latest(registry).decode()
    assert 'job_type="report.daily"' in expected
    assert text(scrapes, {target.name: target}) == expected


def test_escaped_label_values_match_generate_latest() -> None:
    out = _Families()
    for weird in ('quo"te', "back\\slash", "new\nline", "ünï", ""):
        out.add("pgconsole_database_blocks_hit", weird, 3, datname=weird)
        out.add("pgconsole_queue_jobs", "t", 1e21, system="s", job_type=weird, state="pending")
        out.add("pgconsole_scrape_duration_seconds", weird, 0.000123)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(out.metrics()))  # type: ignore[arg-type]
    assert out.text() == generate_latest(registry).decode()

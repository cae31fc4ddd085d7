"""The console's banner judges the same checks as ``pgconsole --check``, the other queue systems'
included: a team's own jobs table whose oldest pending job waits 2 hours is CRITICAL in both."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pgconsole.tui.source import PgSource
from tests.systems.test_checks import check
from tests.systems.test_custom_table import ONE_LINE, SEED_DDL

QUEUES = {"app_jobs": {"table": "public.jobs"}}


def test_the_banner_has_the_checks_of_every_queue_system_that_check_has(
    db: Any, su: Any, tmp_path: Path
) -> None:
    su.execute(SEED_DDL)
    su.execute(
        "INSERT INTO jobs (job_type, status, created_at, scheduled_at)"
        " VALUES ('email', 'pending', now() - interval '2 hours', now() - interval '2 hours')"
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(ONE_LINE)
    out = check(db, cfg, "--format", "json")
    cli = {(c["name"], c.get("system")): c["status"] for c in json.loads(out.stdout)["checks"]}
    assert cli[("queue_latency", "app_jobs")] == "CRITICAL", cli

    source = PgSource(db.dsn_as("pgconsole_readonly"), queues=QUEUES)

    async def read() -> tuple[dict[Any, str], dict[Any, str]]:
        overview = await source.overview()
        health = await source.health()
        return (
            {(c.name, c.system): c.status.name for c in overview.checks},
            {(c.name, c.system): c.status.name for c in health},
        )

    try:
        on_overview, on_banner = asyncio.run(read())
    finally:
        source.close()
    for seen in (on_overview, on_banner):
        assert seen[("queue_latency", "app_jobs")] == "CRITICAL", seen
        assert {k for k in cli if k[1] is not None} <= set(seen), (cli, seen)

"""A target whose kept connection goes silent mid-life (a TCP proxy that stops forwarding, as a
load balancer during a failover): the scrape costs that target its timeout, reports it down while
another target stays up, and the next scrapes after the network returns are up again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.exporter.helpers import get, start_exporter, value, write_config
from tests.proxy import TcpProxy

if TYPE_CHECKING:
    from tests.pgcluster import TestDB


def test_blackholed_connection_is_abandoned_and_recovers(db: TestDB, tmp_path: Path) -> None:
    proxy = TcpProxy("127.0.0.1", db.cluster.info.port)
    proxied = db.dsn_as("pgconsole_readonly").replace(f":{db.cluster.info.port}/", f":{proxy.port}/")
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "flaky": {"dsn": proxied, "timeout": 2, "connect_timeout": 2},
            "steady": {"dsn": db.dsn_as("pgconsole_readonly"), "timeout": 5},
        },
    )
    exp = start_exporter(cfg, ["flaky", "steady"])
    url = f"http://127.0.0.1:{exp.port}/metrics"
    try:
        _, text = get(url)
        assert value(text, "pgconsole_up", target="flaky") == 1.0
        proxy.blackhole()  # the kept connection's bytes stop: no error, no close, nothing
        t0 = time.monotonic()
        _, text = get(url)
        took = time.monotonic() - t0
        assert value(text, "pgconsole_up", target="flaky") == 0.0
        assert value(text, "pgconsole_up", target="steady") == 1.0
        assert (
            value(text, "pgconsole_queue_oldest_due_seconds", target="steady", system="pgconsole") is not None
        )
        assert 2.0 <= took < 3.5, took  # the flaky target's timeout, not more
        proxy.restore()
        deadline = time.monotonic() + 30
        up = 0.0
        while time.monotonic() < deadline and up != 1.0:
            _, text = get(url)
            up = value(text, "pgconsole_up", target="flaky") or 0.0
        assert up == 1.0  # a fresh connection once the network is back
    finally:
        exp.stop()
        proxy.close()

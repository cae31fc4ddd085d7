"""The exporter's HTTP side: several scrapes over one kept-alive HTTP/1.1 connection (as
Prometheus scrapes), HEAD, an unknown path, the query string ignored."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import TYPE_CHECKING

from tests.exporter.helpers import start_exporter, value, write_config

if TYPE_CHECKING:
    from tests.pgcluster import TestDB


def test_scrapes_over_one_kept_alive_connection(db: TestDB, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", {"a": {"dsn": db.dsn_as("pgconsole_readonly")}})
    exp = start_exporter(cfg, ["a"])
    try:
        conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=30)
        for _ in range(3):
            conn.request("GET", "/metrics?x=1")
            r = conn.getresponse()
            body = r.read().decode()
            assert r.status == 200 and r.version == 11
            assert r.getheader("Content-Type", "").startswith("text/plain; version=")
            assert int(r.getheader("Content-Length", "0")) == len(body.encode())
            assert value(body, "pgconsole_up", target="a") == 1
            assert value(body, "pgconsole_exporter_process_cpu_seconds_total") is not None
        sock = conn.sock
        conn.request("HEAD", "/health")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b""
        assert int(r.getheader("Content-Length", "0")) > 0
        conn.request("GET", "/nope")
        r = conn.getresponse()
        assert r.status == 404 and b"/metrics" in r.read()
        assert conn.sock is sock  # the same connection throughout
        conn.close()
    finally:
        exp.stop()

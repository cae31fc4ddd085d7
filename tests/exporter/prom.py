"""A real Prometheus (Debian's /usr/bin/prometheus) scraping given targets every second."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

PROMETHEUS = Path("/usr/bin/prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    def __init__(self, scrape_port: int, *, interval: str = "1s", scrape_timeout: str = "1s") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgconsole-prom-"))
        self.port = free_port()
        config = self.dir / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {interval}\n"
            f"  scrape_timeout: {scrape_timeout}\n"
            "scrape_configs:\n"
            "  - job_name: pgconsole\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{scrape_port}']\n"
        )
        self.proc = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "log", "w"),  # noqa: SIM115 - closed with the process
        )

    def api(self, path: str, **params: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector; [] while Prometheus is starting."""
        try:
            result: list[dict[str, Any]] = self.api("query", query=expr)["data"]["result"]
        except OSError:
            return []
        return result

    def wait_for(self, expr: str, ok: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        result = self.query(expr)
        while not ok(result) and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self.dir / 'log').read_text()[-2000:]}")
            time.sleep(0.5)
            result = self.query(expr)
        return result

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

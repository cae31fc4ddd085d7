"""Clients of a pool for the pooler tests: a bystander that records notifications, workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def on_every_server_connection(dsn: str, sql: str, n: int = 3) -> list[tuple[Any, ...]]:
    """``sql``'s first row on each of a transaction pool's ``n`` server connections: ``n`` clients
    in open transactions at once hold all of them."""
    conns = [psycopg.connect(dsn, connect_timeout=10, prepare_threshold=None) for _ in range(n)]
    try:
        rows = [tuple(c.execute(sql).fetchone() or ()) for c in conns]
        for c in conns:
            c.rollback()
        return rows
    finally:
        for c in conns:
            c.close()


# Every channel the server connection LISTENs on, as one array.
LISTENING = "SELECT array(SELECT pg_listening_channels())"


class Bystander(threading.Thread):
    """Another client of the same pool (same database and role): short transactions in a loop,
    recording every notification psycopg hands it (a notify handler: psycopg reads notifications
    with each query's results)."""

    def __init__(self, dsn: str, pause: float = 0.003) -> None:
        super().__init__(daemon=True, name="bystander")
        self.dsn = dsn
        self.pause = pause
        self.received: list[psycopg.Notify] = []
        self.errors: list[BaseException] = []
        self.queries = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(
                self.dsn, autocommit=True, connect_timeout=10, prepare_threshold=None
            ) as conn:
                conn.add_notify_handler(self.received.append)
                while not self._stop_event.is_set():
                    conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ("x",)).fetchone()
                    self.queries += 1
                    time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def start_worker_process(
    dsn: str, worker_id: str, *, listen_dsn: str | None = None, pooler: str | None = None, poll: float = 0.5
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLE_")}
    if listen_dsn:
        env["PGCONSOLE_LISTEN_DSN"] = listen_dsn
    if pooler:
        env["PGCONSOLE_POOLER"] = pooler
    env["PGCONSOLE_CONFIG"] = str(ROOT / "tests" / "checks" / "empty-config.toml")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgconsole.cli",
            "worker",
            "--dsn",
            dsn,
            "--handler",
            "tests.pooler.handlers:quick",
            "--concurrency",
            "4",
            "--batch",
            "5",
            "--poll",
            str(poll),
            "--worker-id",
            worker_id,
            "--log-level",
            "WARNING",
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_worker_process(proc: subprocess.Popen[str]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return proc.returncode, err


def wait_until(fn: Any, timeout: float = 60.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


def run_cli(
    args: list[str], env_extra: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLE_")}
    env["PGCONSOLE_CONFIG"] = str(ROOT / "tests" / "checks" / "empty-config.toml")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "pgconsole.cli", *args],
        cwd=str(ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )

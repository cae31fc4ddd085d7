"""The embedded PostgreSQL: `pgconsole demo --serve` prints a password-free postgresql:// line,
the database is migrated, a second start reuses the running server, SIGTERM stops it cleanly,
--reset starts from scratch, and --pg-bin runs system binaries (docs/embedded.md)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgconsole.embedded import EmbeddedServer
from pgconsole.schema.migrator import load_migrations
from tests.foundation.helpers import cli_popen, wait_until
from tests.pgcluster import make_data_parent, system_pg_bins

PG15 = system_pg_bins().get("pg15")
BINS = [pytest.param(None, id="pg18-wheel")]
if PG15 is not None:
    BINS.append(pytest.param(PG15, id="pg15-system"))


class Served:
    """A running `pgconsole demo --serve` and the connection line it printed."""

    def __init__(self, data_dir: Path, pg_bin: Path | None, *extra: str) -> None:
        args = ["demo", "--serve", "--no-workload", "--data-dir", str(data_dir), *extra]
        if pg_bin is not None:
            args += ["--pg-bin", str(pg_bin)]
        self.proc = cli_popen(*args)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()
        self.dsn = self._dsn_line(timeout=120)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _dsn_line(self, timeout: float) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.stop(signal.SIGKILL)
                raise AssertionError(f"no connection line within {timeout}s: {self.stderr}") from None
            if line is None:
                self.proc.wait(10)
                _, self.stderr = self.proc.communicate()
                raise AssertionError(f"demo exited {self.proc.returncode} before serving: {self.stderr}")
            if line.startswith("postgresql://"):
                return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        return self.proc.returncode


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def data_dir() -> Iterator[Path]:
    parent = make_data_parent()  # traversable by the server's OS user when the tests run as root
    d = parent / "demo"
    yield d
    pid = postmaster_pid(d)
    if pid is not None and alive(pid):  # a failed test must not leave a server behind
        subprocess.run(["kill", "-QUIT", str(pid)], check=False)
    shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.parametrize("pg_bin", BINS)
def test_demo_serve_migrates_reuses_and_stops_cleanly(data_dir: Path, pg_bin: Path | None) -> None:
    first = Served(data_dir, pg_bin)
    try:
        assert "@" in first.dsn and ":" not in first.dsn.split("//", 1)[1].split("@", 1)[0]  # no password
        with psycopg.connect(first.dsn, connect_timeout=10, autocommit=True) as conn:
            versions = [
                r[0] for r in conn.execute("SELECT version FROM pgconsole.schema_migrations ORDER BY 1")
            ]
            assert versions == [m.version for m in load_migrations()]
            major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
            assert major == (15 if pg_bin else 18)
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()
            assert preload is not None and "pg_stat_statements" in preload[0]
            assert conn.execute("SHOW track_io_timing").fetchone() == ("on",)
            conn.execute("CREATE TABLE public.reset_marker ()")
        pid = postmaster_pid(data_dir)
        assert pid is not None and alive(pid)

        # Starting twice reuses the running server (same postmaster, same port) ...
        again = EmbeddedServer(data_dir, pg_bin=pg_bin).start()
        assert first.dsn.startswith(f"postgresql://postgres@127.0.0.1:{again.port}/")
        assert postmaster_pid(data_dir) == pid
        # ... also through a second `demo --serve`, which leaves the server to the one that started it.
        # (The CLI reuse and --reset do not depend on the binaries: checked once, with the wheel's.)
        if pg_bin is None:
            second = Served(data_dir, pg_bin)
            assert second.dsn == first.dsn
            assert second.stop() == 0, second.stderr
            assert postmaster_pid(data_dir) == pid and alive(pid)
            assert "left the server running" in second.stderr
    finally:
        code = first.stop()
    assert code == 0, first.stderr
    assert "server stopped" in first.stderr
    wait_until(lambda: not alive(pid), timeout=10, what="the postmaster to exit")
    assert postmaster_pid(data_dir) is None  # a clean shutdown removes postmaster.pid
    assert "Traceback" not in first.stderr
    if pg_bin is not None:
        return

    # --reset: a fresh cluster, so the marker table is gone, and the schema is migrated again.
    fresh = Served(data_dir, pg_bin, "--reset")
    try:
        with psycopg.connect(fresh.dsn, connect_timeout=10) as conn:
            assert conn.execute("SELECT to_regclass('public.reset_marker')").fetchone() == (None,)
            assert conn.execute("SELECT count(*) FROM pgconsole.schema_migrations").fetchone() == (
                len(load_migrations()),
            )
    finally:
        assert fresh.stop(signal.SIGINT) == 0, fresh.stderr
    assert postmaster_pid(data_dir) is None

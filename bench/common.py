"""Shared plumbing for the benchmarks: the target server, statistics, worker processes.

Nothing here installs anything at run time: PgQueuer (``pip install -e '.[bench]'``) and
check_postgres (``apt-get install check-postgres``) must already be present; a benchmark whose
peer is missing reports it as skipped instead of inventing a number.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

# One spawn context for every worker process: no inherited sockets or event loops.
MP = mp.get_context("spawn")


@dataclass
class Env:
    """Where the benchmarks run: a server reachable as superuser, and the run's sizes."""

    admin_dsn: str  # superuser DSN to the maintenance database (postgres)
    quick: bool = False
    repeat: int = 3
    server_version: str = ""
    notes: list[str] = field(default_factory=list)

    def dsn(self, dbname: str) -> str:
        """The same server and credentials, another database."""
        return psycopg.conninfo.make_conninfo(self.admin_dsn, dbname=dbname)

    def admin(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        dsn = self.dsn(dbname) if dbname else self.admin_dsn
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)

    def fresh_database(self, name: str) -> str:
        """Drop and create a database; return its DSN."""
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def database_exists(self, name: str) -> bool:
        with self.admin() as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            )


class Skipped(Exception):
    """A benchmark (or one side of it) cannot run here; the reason goes into the results."""


# -- statistics -------------------------------------------------------------------------------
def spread(values: Sequence[float]) -> dict[str, float]:
    """min / median / max of repeated measurements (the form every table reports)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": min(values), "median": statistics.median(values), "max": max(values)}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def rotated(items: Sequence[Any], rep: int) -> list[Any]:
    """The order of the systems for repetition ``rep``: rotate so no side always runs first."""
    n = len(items)
    return [items[(i + rep) % n] for i in range(n)]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# -- worker processes -------------------------------------------------------------------------
@dataclass
class ProcessGang:
    """N worker processes that start work together on a shared 'go' and stop on 'stop'.

    Each target is called as ``target(*args, go, stop, counter, ready)``; it must connect, set
    ``ready`` (a shared counter it increments), wait on ``go``, work, add what it handled to
    ``counter`` and return when the queue is empty or ``stop`` is set. Timing starts at ``go``, so
    interpreter start-up and imports are not measured.
    """

    target: Callable[..., None]
    args: tuple[Any, ...]
    processes: int
    go: Any = field(init=False)
    stop: Any = field(init=False)
    counter: Any = field(init=False)
    ready: Any = field(init=False)
    procs: list[Any] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.go = Flag(MP.RawArray("b", 1))
        self.stop = Flag(MP.RawArray("b", 1))
        # One lock-free slot per process (single writer each): a child that exits or dies mid-update
        # can never leave a lock held that the parent then blocks on.
        self.counter = MP.RawArray("q", self.processes)
        self.ready = MP.RawArray("q", self.processes)

    def start(self, timeout: float = 60) -> None:
        for i in range(self.processes):
            p = MP.Process(
                target=self.target,
                args=(*self.args, self.go, self.stop, Slot(self.counter, i), Slot(self.ready, i)),
            )
            p.start()
            self.procs.append(p)
        if not wait_until(lambda: sum(self.ready) >= self.processes or not self.all_alive(), timeout, 0.02):
            self.kill()
            raise RuntimeError("worker processes did not get ready in time")
        if not self.all_alive():
            self.kill()
            raise RuntimeError("a worker process died while starting (see its stderr)")

    def all_alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def any_alive(self) -> bool:
        return any(p.is_alive() for p in self.procs)

    def handled(self) -> int:
        return int(sum(self.counter))

    def join(self, timeout: float = 30) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        for p in self.procs:
            p.join(max(0.1, deadline - time.monotonic()))
        self.kill()

    def kill(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)

    def failed(self) -> bool:
        return any(p.exitcode not in (0, None) for p in self.procs)


@dataclass
class Flag:
    """A lock-free cross-process flag (set once). multiprocessing.Event takes a lock on every call,
    and a worker process that exits while one of its daemon threads is inside Event.wait leaves
    that lock held forever (the parent then hangs in Event.set); a plain shared byte cannot."""

    array: Any

    def set(self) -> None:
        self.array[0] = 1

    def is_set(self) -> bool:
        return bool(self.array[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.array[0] and time.monotonic() < deadline:
            time.sleep(0.001)
        return bool(self.array[0])


@dataclass
class Slot:
    """One process's cell in a shared lock-free array (only that process writes it)."""

    array: Any
    index: int

    def add(self, n: int) -> None:
        self.array[self.index] += n


def add_count(counter: Any, n: int) -> None:
    """Add to a Slot (worker gangs) or to a synchronized multiprocessing Value."""
    if isinstance(counter, Slot):
        counter.add(n)
    else:
        with counter.get_lock():
            counter.value += n


@contextmanager
def embedded_server(settings: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Start a throwaway embedded PostgreSQL 18; yield (superuser DSN, version); remove it after."""
    import shutil

    from pgconsole.embedded import EmbeddedServer

    parent = Path(tempfile.mkdtemp(prefix="pgconsole-bench-"))
    os.chmod(parent, 0o755)  # as root the server runs as another OS user
    server = EmbeddedServer(parent / "data", extra_settings=settings or {})
    try:
        info = server.start()
        server.wait_ready()
        yield info.superuser_dsn("postgres"), info.version
    finally:
        try:
            server.stop(mode="fast")
        finally:
            shutil.rmtree(parent, ignore_errors=True)


@contextmanager
def scratch_database(dsn: str | None, name: str) -> Iterator[tuple[str, str]]:
    """Database ``name`` made afresh on the server of the superuser ``dsn`` (None: a throwaway
    embedded PostgreSQL 18); yield (its DSN, "PostgreSQL <version>")."""

    def fresh(admin: str) -> tuple[str, str]:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            row = c.execute("SHOW server_version").fetchone()
        return psycopg.conninfo.make_conninfo(admin, dbname=name), f"PostgreSQL {row[0] if row else '?'}"

    if dsn:
        yield fresh(dsn)
        return
    with embedded_server() as (admin, _version):
        yield fresh(admin)


def chosen_sides(ap: argparse.ArgumentParser, spec: str, known: Sequence[str]) -> list[str]:
    """The comma-separated sides of ``spec``; an unknown one is the parser's error."""
    sides = [s for s in spec.split(",") if s]
    unknown = set(sides) - set(known)
    if unknown:
        ap.error(f"unknown sides: {', '.join(sorted(unknown))}")
    return sides


def print_cost_table(res: dict[str, list[float]], base: str, title: str) -> None:
    """Per side, microseconds per job as median (min–max) and the median's ratio to ``base``'s."""
    ref = statistics.median(res[base]) if res.get(base) else None
    print(f"{title}, median (min–max) over {len(next(iter(res.values())))} runs")
    print(f"| side | µs per job | / {base} |")
    print("|---|---|---|")
    for side, v in res.items():
        med = statistics.median(v)
        rel = f"{med / ref:.2f}×" if ref else "–"
        print(f"| {side} | {med:.1f} ({min(v):.1f}–{max(v):.1f}) | {rel} |")


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT version()").fetchone()
    return str(row[0]) if row else ""


def machine() -> dict[str, Any]:
    """nproc, memory and load: the doc's 'machine' line and the honesty note about load."""
    info: dict[str, Any] = {"nproc": os.cpu_count()}
    try:
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    info["mem_total_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info

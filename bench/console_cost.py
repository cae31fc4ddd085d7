"""The console's cost on the server it watches, side by side with pg_activity.

    .venv/bin/python -m bench.console_cost                      # embedded PostgreSQL 18, 10M jobs
    .venv/bin/python -m bench.console_cost --dsn URI --finished 1000000 --seconds 30

Each side runs in a real terminal (tmux, 140×45) against the same database, one process per
screen: pgconsole's Overview (key 1), Jobs (2) and Activity (4) at ``--refresh 1``, and pg_activity
(pip ``pg_activity``) at ``--refresh 1``. After the screen shows and ``--warmup`` seconds pass,
for ``--seconds`` seconds:

* the CPU of the side's process tree (``/proc/<pid>/stat`` of the tmux pane's process and its
  descendants, plus what the pane's process reaped from exited children), per second of wall time;
* the CPU of its backends (found by ``application_name`` in pg_stat_activity, polled every 0.25 s so
  a reconnected backend is found too; each read from ``/proc`` at its first and last sighting);
* its statements' server time: pg_stat_statements is reset before the side starts and read every
  ``--poll`` seconds; a statement whose calls grew by n in a poll contributes n calls of the time
  it grew by over n. The p95 over all the side's calls, and the worst statement's p95.

The history is built with set-based INSERT … SELECT (:mod:`bench.dataset`: ``--finished`` finished
jobs over 30 days plus ``--pending`` pending) and reused when the sizes match. The server must be
on this machine (its backends are read from ``/proc``) with pg_stat_statements preloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.common import Env, embedded_server, machine, percentile, server_version
from bench.dashboard import _cpu_seconds, _stat_fields
from bench.dataset import HISTORY_DB, ensure_history

WIDTH, HEIGHT = 140, 45


@dataclass(frozen=True)
class Side:
    name: str  # the row's label
    argv: list[str]  # run with exec in the pane: the pane's process is the program
    keys: str  # sent once the first screen shows ("" for none)
    ready: str  # text on the measured screen once it shows data
    app_names: tuple[str, ...]  # its backends' application_name (a trailing % matches a prefix)
    env: tuple[tuple[str, str], ...] = ()  # extra environment (a baseline's PYTHONPATH)
    cwd: str = "."  # where it starts: ``python -m`` puts this directory first on sys.path


def sides(refresh: float, baseline: str | None = None) -> list[Side]:
    """pgconsole's three screens and pg_activity; with ``baseline`` (a checkout of an earlier
    pgconsole), its three screens too, run by the same interpreter with that checkout first on
    PYTHONPATH: before and after in one run."""
    pgconsole = [sys.executable, "-m", "pgconsole", "--refresh", f"{refresh:g}"]
    pg_activity = shutil.which("pg_activity") or str(Path(sys.executable).with_name("pg_activity"))
    console_apps = ("pgconsole", "pgconsole-%")
    screens = [
        ("Overview", "", "Queue by job type"),
        ("Jobs", "2", "rows  ·  page 1"),
        ("Activity", "4", "sessions shown"),
    ]
    out = [Side(f"pgconsole {name}", pgconsole, key, ready, console_apps) for name, key, ready in screens]
    if baseline:
        # Started in the checkout, with it first on PYTHONPATH: an editable install of this tree
        # (or this directory as the working one) would otherwise win.
        root = str(Path(baseline).resolve())
        env = (("PYTHONPATH", root),)
        out += [
            Side(f"pgconsole {name} (baseline)", pgconsole, key, ready, console_apps, env, root)
            for name, key, ready in screens
        ]
    out.append(Side("pg_activity", [pg_activity, "--refresh", f"{refresh:g}"], "", "PID", ("pg_activity",)))
    return out


# -- a terminal ---------------------------------------------------------------------------------
class Terminal:
    """A detached tmux session of exactly WIDTH × HEIGHT on a private socket."""

    def __init__(self) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            raise RuntimeError("tmux is not installed (apt-get install tmux)")
        self.tmux = tmux
        self.socket = f"pgc-bench-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        ).stdout

    def start(self, argv: list[str], env: dict[str, str], cwd: str = ".") -> int:
        """Start ``argv`` in the pane (the libpq variables in ``env``, never on a command line);
        return the pane's pid."""
        command = "exec " + " ".join(_quote(a) for a in argv)
        extra = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        self.run(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "b",
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            "-c",
            str(Path(cwd).resolve()),
            *extra,
            command,
        )
        self.run("set-option", "-g", "window-size", "manual")
        self.run("resize-window", "-t", "b", "-x", str(WIDTH), "-y", str(HEIGHT))
        return int(self.run("display-message", "-p", "-t", "b", "#{pane_pid}").strip())

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "b")

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen():
                return True
            time.sleep(0.2)
        return False

    def keys(self, keys: str) -> None:
        self.run("send-keys", "-t", "b", keys)

    def stop(self) -> None:
        self.run("kill-server")


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _libpq_env(dsn: str) -> dict[str, str]:
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return {names[k]: str(v) for k, v in params.items() if k in names and v is not None}


# -- CPU from /proc -----------------------------------------------------------------------------
def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            f = _stat_fields(int(d.name))
            if f is not None:
                children.setdefault(int(f[1]), []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds so far of ``root``'s tree: live processes, plus what the root reaped."""
    total = sum(_cpu_seconds(p) for p in _tree(root))
    f = _stat_fields(root)
    reaped = (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK") if f else 0.0
    return total + reaped


@dataclass
class Backends:
    """The side's backends' CPU: each pid's reading at its first and at its latest sighting."""

    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    def sight(self, pids: list[int]) -> None:
        for pid in pids:
            cpu = _cpu_seconds(pid)
            self.first.setdefault(pid, cpu)
            if cpu or pid not in self.last:
                self.last[pid] = cpu  # a pid that is gone reads 0: keep its last reading

    def cpu(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.first)


BACKENDS_SQL = """
SELECT pid FROM pg_stat_activity
 WHERE datname = %s AND pid <> pg_backend_pid() AND (application_name LIKE ANY (%s))
"""
# Polled many times a second: the counters only (no query texts, which pg_stat_statements reads
# from its file); the texts of the statements seen are read once, at the end.
STATEMENTS_SQL = """
SELECT queryid, calls, total_exec_time
  FROM pg_stat_statements(false) WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)
"""
TEXTS_SQL = """
SELECT queryid, left(regexp_replace(query, '\\s+', ' ', 'g'), 120)
  FROM pg_stat_statements(true) WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)
"""


@dataclass
class Statements:
    """Per-call server times rebuilt from pg_stat_statements' growth between polls."""

    seen: dict[int, tuple[int, float]] = field(default_factory=dict)
    calls: dict[int, list[float]] = field(default_factory=dict)
    text: dict[int, str] = field(default_factory=dict)

    def poll(self, rows: list[tuple[Any, ...]]) -> None:
        for queryid, calls, total in rows:
            before = self.seen.get(queryid, (0, 0.0))
            n, ms = calls - before[0], total - before[1]
            if n > 0:
                self.calls.setdefault(queryid, []).extend([ms / n] * n)
            self.seen[queryid] = (calls, total)

    def summary(self, seconds: float) -> dict[str, Any]:
        every = [ms for v in self.calls.values() for ms in v]
        worst = max(self.calls, key=lambda q: percentile(self.calls[q], 95), default=None)
        return {
            "statements": len(self.calls),
            "calls_per_s": round(len(every) / seconds, 2),
            "server_ms_per_s": round(sum(every) / seconds, 2),
            "p95_ms": round(percentile(every, 95), 3) if every else None,
            "worst_statement_p95_ms": round(percentile(self.calls[worst], 95), 3)
            if worst is not None
            else None,
            "worst_statement": self.text.get(worst, "") if worst is not None else "",
            "per_statement": sorted(
                (
                    {
                        "query": self.text.get(q, ""),
                        "calls": len(v),
                        "p95_ms": round(percentile(v, 95), 3),
                        "mean_ms": round(statistics.fmean(v), 3),
                    }
                    for q, v in self.calls.items()
                ),
                key=lambda r: -float(r["p95_ms"]),
            ),
        }


# -- one side -----------------------------------------------------------------------------------
def measure(
    side: Side, admin_dsn: str, dsn: str, seconds: float, warmup: float, poll: float
) -> dict[str, Any]:
    dbname = str(psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or HISTORY_DB)
    patterns = list(side.app_names)
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as watch:
        watch.execute("SET application_name = 'bench-console-cost'")
        watch.execute("SELECT pg_stat_statements_reset()")
        term = Terminal()
        try:
            root = term.start(
                side.argv, {**_libpq_env(dsn), "TERM": "xterm-256color", **dict(side.env)}, side.cwd
            )
            first = "Queue by job type" if side.name.startswith("pgconsole") else side.ready
            if not term.wait_for(first, 60):
                raise RuntimeError(f"{side.name}: never showed {first!r}:\n{term.screen()}")
            if side.keys:
                term.keys(side.keys)
                if not term.wait_for(side.ready, 60):
                    raise RuntimeError(f"{side.name}: never showed {side.ready!r}:\n{term.screen()}")
            time.sleep(warmup)
            backends, stmts = Backends(), Statements()

            def sight() -> None:
                backends.sight([r[0] for r in watch.execute(BACKENDS_SQL, (dbname, patterns)).fetchall()])

            sight()
            stmts.poll(watch.execute(STATEMENTS_SQL, (dbname,)).fetchall())
            cpu0, t0 = tree_cpu(root), time.monotonic()
            next_sight = t0
            while (now := time.monotonic()) - t0 < seconds:
                if now >= next_sight:
                    sight()
                    next_sight = now + 0.25
                stmts.poll(watch.execute(STATEMENTS_SQL, (dbname,)).fetchall())
                time.sleep(poll)
            cpu1, elapsed = tree_cpu(root), time.monotonic() - t0
            sight()
            stmts.poll(watch.execute(STATEMENTS_SQL, (dbname,)).fetchall())
            stmts.text = dict(watch.execute(TEXTS_SQL, (dbname,)).fetchall())
            shown = term.screen()
        finally:
            term.stop()
    client = (cpu1 - cpu0) / elapsed * 1000
    code = ""
    if side.name.startswith("pgconsole"):  # which pgconsole the side ran (a baseline must not be this tree)
        code = subprocess.run(
            [sys.executable, "-c", "import pgconsole; print(pgconsole.__file__)"],
            cwd=side.cwd,
            env={**os.environ, **dict(side.env)},
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    backend = backends.cpu() / elapsed * 1000
    return {
        "side": side.name,
        "pgconsole": code,
        "seconds": round(elapsed, 1),
        "client_cpu_ms_per_s": round(client, 2),
        "backends_cpu_ms_per_s": round(backend, 2),
        "total_cpu_ms_per_s": round(client + backend, 2),
        "backends_seen": len(backends.first),
        "server_time": stmts.summary(elapsed),
        "screen_at_end": shown,
    }


def run(
    env: Env,
    finished: int,
    pending: int,
    seconds: float,
    warmup: float,
    refresh: float,
    poll: float,
    repeat: int,
    baseline: str | None = None,
) -> dict[str, Any]:
    hist = ensure_history(env, finished, pending)
    with env.admin() as conn:
        # The watcher reads pg_stat_statements from the maintenance database: its own statements
        # are then kept apart from the measured side's, which run in the history database.
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with env.admin(HISTORY_DB) as conn:
        conn.execute("ANALYZE pgconsole.jobs")  # realistic statistics (a reused history kept them)
    all_sides = sides(refresh, baseline)
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in all_sides}
    for rep in range(repeat):
        order = all_sides[rep % len(all_sides) :] + all_sides[: rep % len(all_sides)]
        for side in order:
            r = measure(side, env.admin_dsn, hist["dsn"], seconds, warmup, poll)
            runs[side.name].append(r)
            st = r["server_time"]
            print(
                f"  {side.name:20s} rep {rep}: client {r['client_cpu_ms_per_s']:.1f} ms/s, backends "
                f"{r['backends_cpu_ms_per_s']:.1f} ms/s ({r['backends_seen']} seen), statements p95 "
                f"{st['p95_ms']} ms (worst {st['worst_statement_p95_ms']} ms), {st['calls_per_s']} calls/s",
                flush=True,
            )
    med = {
        name: {
            k: statistics.median(r[k] for r in rs)
            for k in ("client_cpu_ms_per_s", "backends_cpu_ms_per_s", "total_cpu_ms_per_s")
        }
        for name, rs in runs.items()
    }
    peer = med["pg_activity"]["total_cpu_ms_per_s"]
    return {
        "history": {k: v for k, v in hist.items() if k != "dsn"},
        "refresh_s": refresh,
        "seconds": seconds,
        "runs": runs,
        "median": med,
        "pg_activity_total_cpu_ms_per_s": peer,
    }


def table(res: dict[str, Any]) -> str:
    peer = res["pg_activity_total_cpu_ms_per_s"]
    lines = [
        "| side | client CPU ms/s | its backends ms/s | total ms/s | total / pg_activity | statements p95 ms | worst statement p95 ms | calls/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, rs in res["runs"].items():
        m = res["median"][name]
        st = [r["server_time"] for r in rs]
        p95 = max((s["p95_ms"] or 0) for s in st)
        worst = max((s["worst_statement_p95_ms"] or 0) for s in st)
        calls = statistics.median(s["calls_per_s"] for s in st)
        ratio = f"{m['total_cpu_ms_per_s'] / peer:.2f}×" if peer else "—"
        lines.append(
            f"| {name} | {m['client_cpu_ms_per_s']:.1f} | {m['backends_cpu_ms_per_s']:.1f} | "
            f"{m['total_cpu_ms_per_s']:.1f} | {ratio} | {p95:.2f} | {worst:.2f} | {calls:g} |"
        )
    return "\n".join(lines)


@contextmanager
def _server(dsn: str | None) -> Iterator[str]:
    """The given server, or an embedded PostgreSQL 18 (pg_stat_statements preloaded) for the run."""
    if dsn:
        yield dsn
        return
    with embedded_server({"max_connections": "200"}) as (admin, _version):
        yield admin


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.console_cost", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dsn", default=None, help="superuser DSN of a local server (default: an embedded PostgreSQL 18)"
    )
    ap.add_argument("--finished", type=int, default=10_000_000)
    ap.add_argument("--pending", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=30.0, help="measured seconds per side")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds after the screen shows, not measured")
    ap.add_argument("--refresh", type=float, default=1.0)
    ap.add_argument("--poll", type=float, default=0.05, help="pg_stat_statements poll interval")
    ap.add_argument("--repeat", type=int, default=1, help="rounds, each side once per round, order rotated")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument(
        "--baseline",
        default=None,
        metavar="DIR",
        help="also run pgconsole's screens from this checkout (e.g. a git worktree of main): before and after",
    )
    a = ap.parse_args(argv)
    with _server(a.dsn) as admin:
        env = Env(admin_dsn=admin)
        res = run(env, a.finished, a.pending, a.seconds, a.warmup, a.refresh, a.poll, a.repeat, a.baseline)
        res["server_version"] = server_version(admin).split(" on ")[0]
    res["machine"] = machine()
    print(
        f"{res['server_version']}: {a.finished:,} finished + {a.pending:,} pending jobs, {WIDTH}×{HEIGHT} tmux, "
        f"refresh {a.refresh:g} s, {a.seconds:g} s per side, median of {a.repeat}"
    )
    print(table(res))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()

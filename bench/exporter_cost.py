"""The cost of one scrape: `pgconsole exporter` against Debian's `prometheus-postgres-exporter`
(its default scrape) on the same server in one run, and twenty targets scraped at once.

    python -m bench.exporter_cost [--rounds 10] [--block 40] [--finished 200000] [--pending 20000,2000]
                                  [--burst 20000] [--targets 20] [--many-scrapes 40] [--json FILE]

Starts a PostgreSQL 18 test cluster (fsync off; the scrapes only read) and, per ``--pending`` size,
a database holding a queue (that many jobs pending over 8 types, ``--finished`` finished ones over
30 days, vacuumed: the visibility map set, as autovacuum leaves a standing backlog) and per
``--burst`` size one whose pending jobs were enqueued after the vacuum (a burst: the capped
count's index-only scans fetch every row from the heap), then
both exporters as processes of their own, both as the superuser (so each sees everything it
reads) and both keeping their connection between scrapes. pgconsole runs twice: with
``--slow-every 0`` (``fresh``: every figure read at every scrape) and with its default
(``carried``: back to back, so the slow-moving figures, read at most once a minute, come from the
previous scrape). After warm-up scrapes, per round and per side (the order rotating between rounds,
so a noisy neighbour hits every side alike) a block of ``--block`` scrapes, one after the other,
each a full GET of /metrics over one kept-alive connection (as Prometheus scrapes); the block's
CPU is read from /proc (10 ms ticks, hence blocks): the exporter process's (client) and the server's (the postmaster and its children, plus what it
reaped). The queue is counted afresh at every scrape on both pgconsole sides. Per scrape = block /
``--block``; the medians over the rounds are printed, with the ratios to the peer (issue 18 asks
≤ 0.5× the peer's CPU), and ``at 15 s``: what a scrape costs on average at Prometheus's usual 15 s
interval with the default 60 s carry, one fresh scrape and three carried ones a minute,
``(fresh + 3 × carried) / 4`` from the two measured sides.

Also, per collector alone (``breakdown``): its backend's server CPU and this process's client CPU
per read, where a scrape's cost goes.

Then ``--targets`` databases on the same server (each with a small queue) as that many profiles of
one `pgconsole exporter`, scraped ``--many-scrapes`` times: wall time p50/p95 (issue 18: p95 < 1 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import machine, percentile, rotated
from bench.dashboard import _cpu_seconds, _server_cpu
from bench.dataset import FINISHED_SQL, PENDING_SQL
from pgconsole.db.capabilities import read_capabilities
from pgconsole.db.connect import Purpose, connect
from pgconsole.exporter.target import EXPORTER_COLLECTORS
from pgconsole.monitor.queue_counters import read_finished, start_watermark
from pgconsole.monitor.snapshot import COLLECTOR_NAMES, take_snapshot
from tests.exporter.prom import free_port
from tests.pgcluster import Cluster, start_cluster

PEER = Path("/usr/bin/prometheus-postgres-exporter")
ROOT = Path(__file__).resolve().parents[1]


def _postmaster(cluster: Cluster) -> int:
    return int((cluster.parent / "data" / "postmaster.pid").read_text().split()[0])


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as r:
        return len(r.read())


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the exporter exited ({proc.returncode})")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url}: no answer within {timeout:g}s")


def _start_pgconsole(
    config: Path, profiles: list[str], extra: tuple[str, ...] = (), root: Path = ROOT
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [sys.executable, "-m", "pgconsole", "exporter", "--listen", f"127.0.0.1:{port}", *extra]
    for p in profiles:
        args += ["--profile", p]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLE_")}
    env["PGCONSOLE_CONFIG"] = str(config)
    # ``-m pgconsole`` imports the package from the working directory: ``root``'s checkout.
    proc = subprocess.Popen(args, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    _wait_http(url, proc)
    return proc, url


def _start_peer(dsn: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "DATA_SOURCE_NAME": f"{dsn}?sslmode=disable"}
    proc = subprocess.Popen(
        [str(PEER), f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    _wait_http(url, proc)
    return proc, url


def _write_config(path: Path, dsns: dict[str, str]) -> Path:
    lines = []
    for name, dsn in dsns.items():
        lines += [f"[profiles.{name}]", f"dsn = {json.dumps(dsn)}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _block(url: str, pid: int, postmaster: int, n: int) -> dict[str, Any]:
    """``n`` scrapes over one kept-alive connection, as Prometheus scrapes (a server that closes
    it after each response is connected to again: http.client reopens it)."""
    walls = []
    size = 0
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    c0, s0 = _cpu_seconds(pid), _server_cpu(postmaster)
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", parts.path)
        r = conn.getresponse()
        size = len(r.read())
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
        walls.append(time.perf_counter() - t0)
    c1, s1 = _cpu_seconds(pid), _server_cpu(postmaster)
    conn.close()
    return {
        "client_s": (c1 - c0) / n,
        "server_s": (s1 - s0) / n,
        "wall_s": statistics.median(walls),
        "bytes": size,
    }


def side_by_side(
    cluster: Cluster, db: str, tmp: Path, rounds: int, block: int, baseline: Path | None = None
) -> dict[str, Any]:
    postmaster = _postmaster(cluster)
    dsn = cluster.dsn(db)
    config = _write_config(tmp / "one.toml", {"bench": dsn})
    fresh, fresh_url = _start_pgconsole(config, ["bench"], ("--slow-every", "0"))
    carried, carried_url = _start_pgconsole(config, ["bench"])
    peer, peer_url = _start_peer(dsn)
    procs = [fresh, carried, peer]
    sides = {
        "pgconsole fresh": (fresh_url, fresh.pid),
        "pgconsole carried": (carried_url, carried.pid),
        "postgres_exporter": (peer_url, peer.pid),
    }
    if baseline is not None:  # another checkout's exporter, in the same run (before/after a change)
        for side, extra in (("baseline fresh", ("--slow-every", "0")), ("baseline carried", ())):
            proc, url = _start_pgconsole(config, ["bench"], extra, baseline)
            procs.append(proc)
            sides[side] = (url, proc.pid)
    try:
        for url, _pid in sides.values():
            for _ in range(3):
                _get(url)  # connections made, slow-moving collectors read once
        per: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
        for r in range(rounds):
            for side in rotated(list(sides), r):
                url, pid = sides[side]
                per[side].append(_block(url, pid, postmaster, block))
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    out: dict[str, Any] = {}
    for side, blocks in per.items():
        out[side] = {
            k: statistics.median(b[k] for b in blocks) for k in ("client_s", "server_s", "wall_s", "bytes")
        }
        out[side]["cpu_s"] = statistics.median(b["client_s"] + b["server_s"] for b in blocks)
        cpus = [b["client_s"] + b["server_s"] for b in blocks]
        out[side]["cpu_range_s"] = [min(cpus), max(cpus)]
    f, c = out["pgconsole fresh"], out["pgconsole carried"]
    out["pgconsole at 15 s"] = {
        k: (f[k] + 3 * c[k]) / 4 for k in ("client_s", "server_s", "cpu_s", "wall_s", "bytes")
    }
    out["pgconsole at 15 s"]["cpu_range_s"] = [
        (f["cpu_range_s"][i] + 3 * c["cpu_range_s"][i]) / 4 for i in (0, 1)
    ]
    b = out["postgres_exporter"]
    out["ratio"] = {
        side: {
            k: (out[side][k] / b[k] if b[k] else None) for k in ("client_s", "server_s", "cpu_s", "wall_s")
        }
        for side in PGCONSOLE_SIDES
    }
    if baseline is not None:
        out["vs baseline"] = {
            side: {
                k: out[f"pgconsole {side}"][k] / out[f"baseline {side}"][k]
                for k in ("client_s", "server_s", "cpu_s", "wall_s")
                if out[f"baseline {side}"][k]
            }
            for side in ("fresh", "carried")
        }
    return out


PGCONSOLE_SIDES = ("pgconsole fresh", "pgconsole carried", "pgconsole at 15 s")


def breakdown(cluster: Cluster, db: str, n: int = 300) -> dict[str, dict[str, float]]:
    """Per collector (each alone, no previous snapshot, as a scrape reads it): server CPU of its
    backend and client CPU of this process, per read; where a scrape's cost goes."""
    conn = connect(cluster.dsn(db), Purpose.CHECK)
    try:
        caps = read_capabilities(conn)
        pid = conn.info.backend_pid
        out: dict[str, dict[str, float]] = {}
        for name in [c for c in COLLECTOR_NAMES if c in EXPORTER_COLLECTORS]:
            for _ in range(10):
                take_snapshot(conn, caps, None, only={name})
            s0, c0 = _cpu_seconds(pid), time.process_time()
            for _ in range(n):
                take_snapshot(conn, caps, None, only={name})
            out[name] = {"server_s": (_cpu_seconds(pid) - s0) / n, "client_s": (time.process_time() - c0) / n}
        since = start_watermark(conn)
        s0, c0 = _cpu_seconds(pid), time.process_time()
        for _ in range(n):
            read_finished(conn, since)
        out["finished counters"] = {
            "server_s": (_cpu_seconds(pid) - s0) / n,
            "client_s": (time.process_time() - c0) / n,
        }
        return out
    finally:
        conn.close()


def many_targets(cluster: Cluster, tmp: Path, n: int, scrapes: int) -> dict[str, Any]:
    dbs = []
    for _ in range(n):
        name = cluster.new_database("m")
        with cluster.admin(name) as conn:
            conn.execute(PENDING_SQL, {"n": 500})
        dbs.append(name)
    postmaster = _postmaster(cluster)
    config = _write_config(tmp / "many.toml", {f"t{i:02d}": cluster.dsn(d) for i, d in enumerate(dbs)})
    proc, url = _start_pgconsole(config, [f"t{i:02d}" for i in range(n)])
    try:
        for _ in range(3):
            _get(url)
        walls = []
        c0, s0 = _cpu_seconds(proc.pid), _server_cpu(postmaster)
        for _ in range(scrapes):
            t0 = time.perf_counter()
            _get(url)
            walls.append(time.perf_counter() - t0)
        c1, s1 = _cpu_seconds(proc.pid), _server_cpu(postmaster)
    finally:
        proc.terminate()
        proc.wait(10)
        for d in dbs:
            cluster.drop_database(d)
    return {
        "targets": n,
        "scrapes": scrapes,
        "wall_p50_s": percentile(walls, 50),
        "wall_p95_s": percentile(walls, 95),
        "wall_max_s": max(walls),
        "client_cpu_per_scrape_s": (c1 - c0) / scrapes,
        "server_cpu_per_scrape_s": (s1 - s0) / scrapes,
    }


def load(conn: Any, finished: int, pending: int, burst: bool) -> None:
    """The queue: ``finished`` jobs, then ``pending`` ones vacuumed with them or (``burst``)
    enqueued after the vacuum. The load commits synchronously: the test cluster's
    synchronous_commit = off would leave its rows without hint bits at the vacuum, which then
    marks no page all-visible, and every backlog would read as a burst."""
    conn.execute("SET synchronous_commit = on")
    conn.execute(FINISHED_SQL, {"n": finished})
    if not burst:
        conn.execute(PENDING_SQL, {"n": pending})
    conn.execute("VACUUM ANALYZE pgconsole.jobs")
    if burst:
        conn.execute(PENDING_SQL, {"n": pending})
        conn.execute("ANALYZE pgconsole.jobs")


def visible_pages(cluster: Cluster, db: str) -> str:
    """The jobs table's pages marked all-visible, "k of n pages all-visible"."""
    with cluster.admin(db) as conn:
        row = conn.execute(
            "SELECT relallvisible, relpages FROM pg_class WHERE oid = 'pgconsole.jobs'::regclass"
        ).fetchone()
    return f"{row[0]} of {row[1]} pages all-visible" if row else "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.exporter_cost", description=__doc__)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--block", type=int, default=40)
    p.add_argument("--finished", type=int, default=200_000)
    p.add_argument(
        "--pending",
        default="20000,2000",
        help="pending backlogs to run the side-by-side with, comma-separated (default 20000,2000: "
        "over the count caps of 8 types, and under them), each vacuumed after it was enqueued",
    )
    p.add_argument(
        "--burst",
        default="20000",
        help="pending backlogs enqueued after the vacuum, comma-separated ('' for none; default "
        "20000): a burst no vacuum has seen, whose count reads every row from the heap",
    )
    p.add_argument("--targets", type=int, default=20)
    p.add_argument("--many-scrapes", type=int, default=40)
    p.add_argument("--json", metavar="FILE")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run the exporter of another checkout (e.g. a git worktree of main) in the same "
        "run, and print this checkout's ratios to it",
    )
    args = p.parse_args(argv)
    if not PEER.exists():
        print(f"skipped: {PEER} is missing (apt-get install prometheus-postgres-exporter)")
        return 0
    cluster = start_cluster("pg18")
    ones: dict[str, dict[str, Any]] = {}
    backlogs = [(int(x), False) for x in str(args.pending).split(",") if x] + [
        (int(x), True) for x in str(args.burst).split(",") if x
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="pgconsole-bench-exporter-") as tmp:
            for pending, burst in backlogs:
                db = cluster.new_database("bench")
                with cluster.admin(db) as conn:
                    load(conn, args.finished, pending, burst)
                one = side_by_side(cluster, db, Path(tmp), args.rounds, args.block, args.baseline)
                one["breakdown"] = breakdown(cluster, db)
                one["visible_pages"] = visible_pages(cluster, db)
                one["pending"], one["burst"] = pending, burst
                ones[f"{pending} burst" if burst else str(pending)] = one
                cluster.drop_database(db)
            many = many_targets(cluster, Path(tmp), args.targets, args.many_scrapes)
    finally:
        cluster.stop()
    result = {"machine": machine(), "args": vars(args), "one_target": ones, "many_targets": many}
    for one in ones.values():
        print(
            f"one scrape, {args.finished:,} finished + {one['pending']:,} pending jobs"
            f"{' enqueued after the vacuum' if one['burst'] else ', vacuumed'} ({one['visible_pages']}), "
            f"median of {args.rounds} blocks of {args.block} (ms):"
        )
        print(f"{'side':<20}{'server CPU':>12}{'client CPU':>12}{'CPU total':>12}{'wall':>10}{'bytes':>10}")
        for side in (*PGCONSOLE_SIDES, "postgres_exporter", *[s for s in one if s.startswith("baseline ")]):
            r = one[side]
            print(
                f"{side:<20}{r['server_s'] * 1e3:>12.2f}{r['client_s'] * 1e3:>12.2f}"
                f"{r['cpu_s'] * 1e3:>12.2f}{r['wall_s'] * 1e3:>10.1f}{r['bytes']:>10.0f}"
            )
        print(
            "CPU total range over the blocks: "
            + ", ".join(
                f"{side} {one[side]['cpu_range_s'][0] * 1e3:.2f}-{one[side]['cpu_range_s'][1] * 1e3:.2f}"
                for side in (*PGCONSOLE_SIDES, "postgres_exporter")
            )
        )
        for side, ratio in (one.get("vs baseline") or {}).items():
            print(
                f"ratio pgconsole {side} / baseline {side}: "
                + ", ".join(f"{k.removesuffix('_s')} {v:.2f}x" for k, v in ratio.items())
            )
        for side, ratio in one["ratio"].items():
            print(
                f"ratio {side} / peer: "
                + ", ".join(f"{k.removesuffix('_s')} {v:.2f}x" for k, v in ratio.items() if v is not None)
            )
        print(
            "  per collector, server / client CPU ms: "
            + ", ".join(
                f"{name} {b['server_s'] * 1e3:.2f}/{b['client_s'] * 1e3:.2f}"
                for name, b in one["breakdown"].items()
            )
        )
    print(
        f"{many['targets']} targets, {many['scrapes']} scrapes: p50 {many['wall_p50_s'] * 1e3:.0f} ms, "
        f"p95 {many['wall_p95_s'] * 1e3:.0f} ms, max {many['wall_max_s'] * 1e3:.0f} ms; per scrape "
        f"client CPU {many['client_cpu_per_scrape_s'] * 1e3:.1f} ms, server CPU {many['server_cpu_per_scrape_s'] * 1e3:.1f} ms"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

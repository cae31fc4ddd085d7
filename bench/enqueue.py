"""Q-enqueue: bulk enqueue of N jobs through each Python API in one call, and the single-row enqueue
rate (one job per call, autocommit) for a fixed time, pgconsole vs PgQueuer's batch and single
enqueue, alternating, on the same server.

The bulk call is also run through enqueue_many's previous implementation (one ``enqueue_jobs``
call with the jobs as arrays, unnested in SQL; what enqueue_many sent for every size before
migration 0009 and still sends below ``client.COPY_MIN_JOBS``), rotated with the others: the COPY
path's rate over that one is issue 19's bulk goal (>= 2x at 1M jobs).

And the single-row goal: ``client.enqueue(conn, job_type, payload)`` against a plain psycopg
``INSERT INTO pgconsole.jobs (job_type, payload) VALUES (%s, %s)`` of the same row on the same
autocommit connection, call for call (the two alternate, each first in every other pair), as the
superuser and as pgconsole_app (``SET ROLE``: the producers' role, whose INSERT fires the
jobs_guard_insert trigger). One ratio per round: the INSERTs' time / the enqueues' time.

And issue 19's concurrency goal: PRODUCERS producer processes calling ``client.enqueue`` for a
fixed time against pgbench (``-M prepared``) running the plain one-row INSERT at as many clients,
alternating, both as the superuser on the same database (>= 0.8x: the goal)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from bench import peers, pgc
from bench.common import Env, ProcessGang, Skipped, add_count, ratio, rotated, spread

PGC_DB = "bench_enqueue_pgconsole"
PGQ_DB = "bench_enqueue_pgqueuer"


def pgc_bulk(dsn: str, n: int) -> float:
    from pgconsole.queue import client

    jobs = [("noop", {"i": i}) for i in range(n)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        ids = client.enqueue_many(conn, jobs)
        t = time.perf_counter() - t0
    assert len(ids) == n
    return t


def pgc_single(dsn: str, seconds: float) -> tuple[int, float]:
    from pgconsole.queue import client

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute("CHECKPOINT")
        n = 0
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            client.enqueue(conn, "noop", {"i": n})
            n += 1
        return n, time.perf_counter() - t0


def pgc_bulk_unnest(dsn: str, n: int) -> float:
    """enqueue_many as it was before 0009, for every size: each job checked and encoded, then one
    enqueue_jobs call with three arrays."""
    from pgconsole.queue import client

    jobs = [("noop", {"i": i}) for i in range(n)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        types, payloads = [], []
        for i, (job_type, payload) in enumerate(jobs):
            fields = client._checked_job(job_type, payload)
            types.append(fields.job_type)
            payloads.append(client.jsonb_param(f"payload[{i}]", fields.payload))
        rows = conn.execute(client._ENQUEUE_MANY, (types, payloads, [0] * n, 3, None)).fetchall()
        ids = [r[0] for r in rows]
        t = time.perf_counter() - t0
    assert len(ids) == n
    return t


PLAIN_INSERT = "INSERT INTO pgconsole.jobs (job_type, payload) VALUES (%s, %s)"


def enqueue_vs_insert(dsn: str, pairs: int, rounds: int, role: str | None) -> list[dict[str, float]]:
    """Per round: seconds per call of each side and the ratio insert / enqueue (>= 0.9: the goal)."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from pgconsole.queue import client

    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        if role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

        def api(i: int) -> None:
            client.enqueue(conn, "noop", {"i": i})

        def plain(i: int) -> None:
            conn.execute(PLAIN_INSERT, ("noop", Jsonb({"i": i})))

        for i in range(20):  # past psycopg's prepare threshold, for both statements
            api(i)
            plain(i)
        clock = time.perf_counter
        for _ in range(rounds):
            t_api = t_plain = 0.0
            for i in range(pairs):
                if i % 2:
                    t0 = clock()
                    api(i)
                    t1 = clock()
                    plain(i)
                    t2 = clock()
                    t_api, t_plain = t_api + t1 - t0, t_plain + t2 - t1
                else:
                    t0 = clock()
                    plain(i)
                    t1 = clock()
                    api(i)
                    t2 = clock()
                    t_plain, t_api = t_plain + t1 - t0, t_api + t2 - t1
            out.append({"enqueue_s": t_api / pairs, "insert_s": t_plain / pairs, "ratio": t_plain / t_api})
        conn.execute("RESET ROLE")
    return out


# Issue 19's concurrency goal: this many producers against pgbench at as many clients.
PRODUCERS = 16


def producer(dsn: str, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any) -> None:
    """One producer process: client.enqueue, one job per call (autocommit), until ``stop``."""
    from pgconsole.queue import client

    with psycopg.connect(dsn, autocommit=True, application_name="bench-producer") as conn:
        client.enqueue(conn, "noop", {"i": -1})  # connected and prepared before the clock starts
        add_count(ready, 1)
        go.wait(120)
        deadline = time.monotonic() + max_seconds
        n = 0
        while not stop.is_set() and time.monotonic() < deadline:
            client.enqueue(conn, "noop", {"i": n})
            n += 1
            add_count(counter, 1)


def producers_rate(dsn: str, clients: int, seconds: float) -> float:
    """Jobs/s of ``clients`` concurrent producer processes over ``seconds``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute("CHECKPOINT")
    gang = ProcessGang(producer, (dsn, seconds + 30), clients)
    gang.start()
    try:
        gang.go.set()
        t0 = time.perf_counter()
        time.sleep(seconds)
        n = gang.handled()
        t = time.perf_counter() - t0
    finally:
        gang.join()
    return n / t


PGBENCH_SCRIPT = """INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('noop', '{"i": 1}');\n"""


def pgbench_path(dsn: str) -> str:
    """pgbench of the server's major version: the embedded wheel's, else Debian's, else PATH's."""
    import shutil

    from pgconsole.embedded import EmbeddedError, wheel_bin_dir

    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()
    major = str(row[0]) if row else ""
    try:
        wheel = [wheel_bin_dir() / "pgbench"]
    except EmbeddedError:  # no embedded wheel: Debian's or PATH's
        wheel = []
    for cand in (*wheel, Path(f"/usr/lib/postgresql/{major}/bin/pgbench")):
        if (
            cand.exists()
            and f") {major}." in subprocess.run([cand, "--version"], capture_output=True, text=True).stdout
        ):
            return str(cand)
    found = shutil.which("pgbench")
    if not found:
        raise Skipped("pgbench is not installed")
    return found


def pgbench_rate(dsn: str, clients: int, seconds: float, pgbench: str) -> float:
    """pgbench's rate of the plain one-row INSERT into pgconsole.jobs at ``clients`` clients
    (prepared statements, 2 threads), the same row the producers make."""
    import re
    import tempfile

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute("CHECKPOINT")
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write(PGBENCH_SCRIPT)
        f.flush()
        out = subprocess.run(
            [
                pgbench,
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(max(1, round(seconds))),
                "-f",
                f.name,
                dsn,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    m = re.search(
        r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)",
        out.stdout,
    )
    if out.returncode != 0 or not m:
        raise RuntimeError(f"pgbench failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    return float(m.group(1))


def pgq_bulk(dsn: str, n: int) -> float:
    payloads = [json.dumps({"i": i}).encode() for i in range(n)]
    peers.pgq_truncate(dsn)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CHECKPOINT")

    async def main() -> float:
        conn, q = await peers._pgq_queries(dsn)
        try:
            t0 = time.perf_counter()
            ids = await q.enqueue([peers.PGQ_ENTRYPOINT] * n, payloads, [0] * n)
            t = time.perf_counter() - t0
            assert len(ids) == n
            return t
        finally:
            await conn.close()

    return asyncio.run(main())


def pgq_single(dsn: str, seconds: float) -> tuple[int, float]:
    peers.pgq_truncate(dsn)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CHECKPOINT")

    async def main() -> tuple[int, float]:
        conn, q = await peers._pgq_queries(dsn)
        try:
            n = 0
            t0 = time.perf_counter()
            end = t0 + seconds
            while time.perf_counter() < end:
                await q.enqueue(peers.PGQ_ENTRYPOINT, json.dumps({"i": n}).encode(), 0)
                n += 1
            return n, time.perf_counter() - t0
        finally:
            await conn.close()

    return asyncio.run(main())


def run(
    env: Env, bulk: int | None = None, seconds: float | None = None, pairs: int | None = None
) -> dict[str, Any]:
    bulk = bulk or (20_000 if env.quick else 1_000_000)
    seconds = seconds or (2.0 if env.quick else 10.0)
    pairs = pairs or (100 if env.quick else 1000)
    if peers.pgqueuer_available() is None:
        raise Skipped("PgQueuer is not installed (pip install -e '.[bench]')")
    pgc.setup(env.fresh_database(PGC_DB))
    pgc_dsn = env.dsn(PGC_DB)
    pgq_dsn = env.fresh_database(PGQ_DB)
    peers.pgq_setup(pgq_dsn)
    bulk_rates: dict[str, list[float]] = {"pgconsole": [], "unnest": [], "pgqueuer": []}
    bulk_fn = {"pgconsole": pgc_bulk, "unnest": pgc_bulk_unnest}
    single_rates: dict[str, list[float]] = {"pgconsole": [], "pgqueuer": []}
    for rep in range(env.repeat):
        for side in rotated(["pgconsole", "unnest", "pgqueuer"], rep):
            t = bulk_fn[side](pgc_dsn, bulk) if side in bulk_fn else pgq_bulk(pgq_dsn, bulk)
            bulk_rates[side].append(bulk / t)
            print(f"  enqueue bulk {side:9s} rep {rep}: {bulk / t:,.0f} jobs/s ({t:.2f} s)", flush=True)
        for side in rotated(["pgconsole", "pgqueuer"], rep):
            n, t = pgc_single(pgc_dsn, seconds) if side == "pgconsole" else pgq_single(pgq_dsn, seconds)
            single_rates[side].append(n / t)
            print(f"  enqueue single {side:9s} rep {rep}: {n / t:,.0f} jobs/s", flush=True)
    bs = {k: spread(v) for k, v in bulk_rates.items()}
    ss = {k: spread(v) for k, v in single_rates.items()}
    vs_insert: dict[str, list[dict[str, float]]] = {}
    for role in ("superuser", "pgconsole_app"):
        vs_insert[role] = enqueue_vs_insert(
            pgc_dsn, pairs, 3 * env.repeat, None if role == "superuser" else role
        )
        print(f"  enqueue vs INSERT as {role}: {[round(r['ratio'], 3) for r in vs_insert[role]]}", flush=True)
    pgbench = pgbench_path(pgc_dsn)
    conc_rates: dict[str, list[float]] = {"producers": [], "pgbench": []}
    for rep in range(env.repeat):
        for side in rotated(["producers", "pgbench"], rep):
            if side == "producers":
                rate = producers_rate(pgc_dsn, PRODUCERS, seconds)
            else:
                rate = pgbench_rate(pgc_dsn, PRODUCERS, seconds, pgbench)
            conc_rates[side].append(rate)
            print(f"  enqueue {PRODUCERS} concurrent, {side:9s} rep {rep}: {rate:,.0f} jobs/s", flush=True)
    cs = {k: spread(v) for k, v in conc_rates.items()}
    from bench.report import fmt, fratio, fspread

    insert_rows = []
    for role, runs in vs_insert.items():
        rs = spread([r["ratio"] for r in runs])
        insert_rows.append(
            [
                role,
                f"{len(runs)} × {pairs:,}",
                fspread(spread([1 / r["enqueue_s"] for r in runs])),
                fspread(spread([1 / r["insert_s"] for r in runs])),
                f"{fmt(rs['median'], 3)} ({fmt(rs['min'], 3)}–{fmt(rs['max'], 3)})",
            ]
        )

    rows = [
        [
            f"bulk, {bulk:,} jobs in one call",
            "client.enqueue_many (COPY, 0009)",
            fspread(bs["pgconsole"]),
            "Queries.enqueue(lists)",
            fspread(bs["pgqueuer"]),
            fratio(ratio(bs["pgconsole"]["median"], bs["pgqueuer"]["median"])),
        ],
        [
            f"bulk, {bulk:,} jobs: COPY vs the previous path",
            "client.enqueue_many (COPY, 0009)",
            fspread(bs["pgconsole"]),
            "enqueue_many before 0009 (enqueue_jobs, unnest)",
            fspread(bs["unnest"]),
            fratio(ratio(bs["pgconsole"]["median"], bs["unnest"]["median"])),
        ],
        [
            f"single row, one call per job, {seconds:.0f} s",
            "client.enqueue",
            fspread(ss["pgconsole"]),
            "Queries.enqueue(scalar)",
            fspread(ss["pgqueuer"]),
            fratio(ratio(ss["pgconsole"]["median"], ss["pgqueuer"]["median"])),
        ],
        [
            f"{PRODUCERS} concurrent producers, one row per call, {seconds:.0f} s",
            f"client.enqueue in {PRODUCERS} processes",
            fspread(cs["producers"]),
            f"pgbench -M prepared -c {PRODUCERS} -j 2, the plain INSERT",
            fspread(cs["pgbench"]),
            fratio(ratio(cs["producers"]["median"], cs["pgbench"]["median"])),
        ],
        [
            "single row vs PgQueuer's batch enqueue",
            "client.enqueue",
            fspread(ss["pgconsole"]),
            "Queries.enqueue(lists)",
            fspread(bs["pgqueuer"]),
            fratio(ratio(ss["pgconsole"]["median"], bs["pgqueuer"]["median"])),
        ],
    ]
    return {
        "bulk_jobs": bulk,
        "single_seconds": seconds,
        "bulk_rates": bulk_rates,
        "single_rates": single_rates,
        "bulk_spread": bs,
        "bulk_copy_vs_unnest": ratio(bs["pgconsole"]["median"], bs["unnest"]["median"]),
        "single_spread": ss,
        "concurrent_clients": PRODUCERS,
        "concurrent_rates": conc_rates,
        "concurrent_spread": cs,
        "concurrent_producers_vs_pgbench": ratio(cs["producers"]["median"], cs["pgbench"]["median"]),
        "table_header": [
            "case",
            "pgconsole call",
            "pgconsole jobs/s",
            "peer or baseline call",
            "its jobs/s",
            "pgconsole / it",
        ],
        "table": rows,
        "pairs": pairs,
        "vs_insert": vs_insert,
        "vs_insert_ratio": {role: spread([r["ratio"] for r in runs]) for role, runs in vs_insert.items()},
        "retention_header": [
            "connection",
            "rounds × pairs",
            "client.enqueue jobs/s",
            "plain INSERT jobs/s",
            "INSERT time / enqueue time, median (min–max)",
        ],
        "retention_table": insert_rows,
    }


def crossover(dsn: str, sizes: list[int], rounds: int = 6) -> list[tuple[int, float, float]]:
    """Per batch size: seconds per enqueue_many call on the COPY path and on the unnest path (both
    of today's client, the threshold forced each way), alternating, median over ``rounds``; what
    ``client.COPY_MIN_JOBS`` is chosen from. As pgconsole_app when the DSN's user is it."""
    import statistics

    from pgconsole.queue import client

    saved = client.COPY_MIN_JOBS
    out = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for n in sizes:
                jobs = [("noop", {"i": i}) for i in range(n)]
                calls = max(20, 3000 // n)
                times: dict[str, list[float]] = {"copy": [], "unnest": []}
                for r in range(rounds):
                    for side in rotated(["copy", "unnest"], r):
                        client.COPY_MIN_JOBS = 0 if side == "copy" else 1 << 62
                        t0 = time.perf_counter()
                        for _ in range(calls):
                            client.enqueue_many(conn, jobs)
                        times[side].append((time.perf_counter() - t0) / calls)
                out.append((n, statistics.median(times["copy"]), statistics.median(times["unnest"])))
                print(
                    f"  {n:>6,} jobs: COPY {out[-1][1] * 1e3:.2f} ms, unnest {out[-1][2] * 1e3:.2f} ms",
                    flush=True,
                )
    finally:
        client.COPY_MIN_JOBS = saved
    return out


if __name__ == "__main__":
    import argparse

    from bench.common import embedded_server

    ap = argparse.ArgumentParser(description="enqueue_many: COPY vs unnest per batch size")
    ap.add_argument("--sizes", default="10,30,100,300,1000,3000")
    args = ap.parse_args()
    with embedded_server() as (admin_dsn, version):
        print(version)
        with psycopg.connect(admin_dsn, autocommit=True) as c:
            c.execute("CREATE DATABASE bench_enqueue_crossover")
        dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname="bench_enqueue_crossover")
        pgc.setup(dsn)
        crossover(dsn, [int(s) for s in args.sizes.split(",")])

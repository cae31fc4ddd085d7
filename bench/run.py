"""One entry point: ``python -m bench [--quick] [--only NAME,...] [--dsn DSN] [--repeat 3] [--json F]``.

Starts its own embedded PostgreSQL 18 (unless ``--dsn``), runs the selected benchmarks side by
side with their peers, prints one table per benchmark and writes everything to JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench import report
from bench.common import Env, Skipped, embedded_server, machine, server_version

# Embedded server settings for the benchmark cluster: the defaults of a fresh cluster (fsync and
# synchronous_commit on, as in production), plus room for the worker connections.
BENCH_SETTINGS = {"max_connections": "200"}
# Full 200k burn-downs at batch 1 take minutes per run for the slower sides on 2 cores; the
# recorded run scales the job count per batch size (docs/BENCHMARKS.md shows a 200k calibration).
FULL_THROUGHPUT_JOBS = "1:2000,10:10000,100:20000"


def parse_jobs(spec: str) -> dict[int, int]:
    if ":" not in spec:
        n = int(spec.replace("_", ""))
        return {b: n for b in (1, 10, 100, 1000)}
    out = {}
    for part in spec.split(","):
        batch, jobs = part.split(":")
        out[int(batch)] = int(jobs.replace("_", ""))
    return out


def _benchmarks() -> dict[str, Callable[[Env], dict[str, Any]]]:
    from bench import check_latency, dashboard, enqueue, latency, notify_cost, size, throughput

    return {
        "throughput": throughput.run,
        "latency": latency.run,
        "notify_cost": notify_cost.run,
        "enqueue": enqueue.run,
        "check_latency": check_latency.run,
        "dashboard": dashboard.run,
        "size": size.run,  # last: its retention part deletes the shared 10M history
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="small sizes for development (numbers are not the recorded ones)"
    )
    p.add_argument(
        "--only",
        default="",
        help="comma list of benchmarks: "
        + ",".join(["throughput", "latency", "notify_cost", "enqueue", "check_latency", "dashboard", "size"]),
    )
    p.add_argument(
        "--dsn", default=None, help="use this server (superuser) instead of starting an embedded one"
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="repetitions per measurement (>= 3 for recorded runs)"
    )
    p.add_argument(
        "--throughput-jobs",
        default=None,
        metavar="SPEC",
        help="jobs per burn-down: N for every batch size, or per batch like 1:2000,10:10000,100:20000 "
        f"(default {FULL_THROUGHPUT_JOBS} for a full run)",
    )
    p.add_argument("--workers", default="1,2,4", help="throughput: worker process counts (default 1,2,4)")
    p.add_argument("--batches", default="1,10,100", help="throughput: claim batch sizes (default 1,10,100)")
    p.add_argument(
        "--systems",
        default="pgconsole,pgqueuer,pgconsole-sql,bare",
        help="throughput: systems to compare (also: pgconsole-table, a diagnostic)",
    )
    p.add_argument(
        "--drain-jobs",
        type=int,
        default=None,
        help="dashboard: jobs per drain when measuring the console's effect (default 20000)",
    )
    p.add_argument(
        "--enqueue-jobs",
        type=int,
        default=None,
        help="enqueue: jobs in each bulk call (default 1,000,000; --quick 20,000)",
    )
    p.add_argument(
        "--json", default=None, help="write the results here (default bench/results/<timestamp>.json)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the embedded server is stopped and removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    benches = _benchmarks()
    only = [x.strip() for x in args.only.split(",") if x.strip()] or list(benches)
    unknown = [x for x in only if x not in benches]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.UTC)
    out_path = (
        Path(args.json)
        if args.json
        else Path(__file__).parent
        / "results"
        / (started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "") + ".json")
    )
    results: dict[str, Any] = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": started.isoformat(),
        "quick": args.quick,
        "repeat": args.repeat,
        "machine_before": machine(),
        "benchmarks": {},
    }
    ctx = nullcontext((args.dsn, server_version(args.dsn))) if args.dsn else embedded_server(BENCH_SETTINGS)
    with ctx as (dsn, version):
        results["server_version"] = version or server_version(dsn)
        results["server"] = "given --dsn" if args.dsn else "embedded PostgreSQL started by the bench"
        env = Env(
            admin_dsn=dsn, quick=args.quick, repeat=args.repeat, server_version=results["server_version"]
        )
        print(f"server: {results['server_version']}  machine: {results['machine_before']}", flush=True)
        for name in only:
            print(f"== {name}", flush=True)
            t0 = time.perf_counter()
            try:
                if name == "throughput":
                    spec = args.throughput_jobs or (None if args.quick else FULL_THROUGHPUT_JOBS)
                    res = benches[name](  # type: ignore[call-arg]
                        env,
                        job_scale=parse_jobs(spec) if spec else None,
                        workers=tuple(int(x) for x in args.workers.split(",")),
                        batches=tuple(int(x) for x in args.batches.split(",")),
                        names=tuple(x.strip() for x in args.systems.split(",") if x.strip()),
                    )
                elif name == "dashboard" and args.drain_jobs:
                    res = benches[name](env, drain_jobs=args.drain_jobs)  # type: ignore[call-arg]
                elif name == "enqueue" and args.enqueue_jobs:
                    res = benches[name](env, bulk=args.enqueue_jobs)  # type: ignore[call-arg]
                else:
                    res = benches[name](env)
                res["status"] = "ok"
            except Skipped as e:
                res = {"status": "skipped", "reason": str(e)}
            except Exception as e:  # one benchmark failing must not lose the others' numbers
                res = {
                    "status": "error",
                    "reason": f"{type(e).__name__}: {e}",
                    "traceback": traceback.format_exc(),
                }
            res["wall_seconds"] = round(time.perf_counter() - t0, 1)
            results["benchmarks"][name] = res
            print(report.render(name, res), flush=True)
            _write(out_path, results)
    results["machine_after"] = machine()
    results["finished"] = dt.datetime.now(dt.UTC).isoformat()
    _write(out_path, results)
    print(f"results: {out_path}")
    return 0


def _write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str))
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())

"""Q6 dashboard cost, two parts.

1. Server time of one full collector snapshot vs a naive peer query set at 10M finished / 100k
   pending: delegated to :mod:`bench.collector_cost` (owned by the collectors issue).
2. The console's effect on the queue: pgconsole workers drain jobs in the same big database with
   the TUI-equivalent refresh loop (the Overview's own read every second on a dashboard
   connection: ``take_snapshot`` plus its per-type query) running vs not running; alternating;
   jobs/s ratio (goal >= 0.98).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench import pgc
from bench.common import MP, Env, Flag, ratio, rotated, spread, wait_until
from bench.dataset import ensure_history


def refresh_loop(
    dsn: str,
    interval: float,
    stop: Any,
    max_seconds: float,
    out: Any,
    only: tuple[str, ...] | None = None,
    enabled: Any = None,
) -> None:
    """A headless stand-in for the TUI's refresh: what the Overview reads, once per interval.

    ``only=None`` is the Overview's own read and build (:func:`pgconsole.tui.overview_data.read`:
    the full snapshot plus its per-type query; then ``build``: every check and the screen's data;
    not the Textual rendering); a tuple of collector names runs just those (ablation).
    ``out`` gets [snapshots, total wall ms, max wall ms(, its backend's pid)]. With ``enabled`` (a shared byte array),
    the loop refreshes only while ``enabled[0]`` is 1 and idles (connected) otherwise.
    """
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import take_snapshot
    from pgconsole.tui import overview_data as overview

    conn = connect(dsn, Purpose.DASHBOARD)
    caps = read_capabilities(conn)
    if len(out) > 3:
        out[3] = conn.info.backend_pid  # for the CPU accounting of :func:`alternating`
    prev = None
    n, total_ms, max_ms = 0, 0.0, 0.0
    deadline = time.monotonic() + max_seconds
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            if enabled is not None and not enabled[0]:
                time.sleep(0.01)
                continue
            if only is None:
                prev, extra = overview.read(conn, caps, prev)
                overview.build(prev, None, extra)  # the checks and the screen's data, as the TUI
            else:
                prev = take_snapshot(conn, caps, previous=prev, only=set(only))
            ms = (time.monotonic() - t0) * 1000
            n, total_ms, max_ms = n + 1, total_ms + ms, max(max_ms, ms)
            out[0], out[1], out[2] = n, int(total_ms), int(max_ms)
            rest = interval - (time.monotonic() - t0)
            while rest > 0 and not stop.is_set():
                time.sleep(min(rest, 0.05))
                rest = interval - (time.monotonic() - t0)
    finally:
        conn.close()


WITHOUT = "without console"
WITH = "with 1 s refresh"


def _typed_pgconsole() -> Any:
    """pgconsole workers claiming only 'noop' jobs (a big history's pending rows stay untouched)."""
    from bench.throughput import System

    return System("pgconsole", "", lambda d: None, pgc.fill_typed, pgc.remaining_typed, pgc.worker_typed)


def _stop_loop(stop: Any, loop: Any) -> None:
    stop.set()
    loop.join(10)
    if loop.is_alive():
        loop.terminate()


def _refresh_stats(counts: Any) -> dict[str, Any]:
    """What a refresh loop reported in ``counts``: refreshes, mean and max wall ms."""
    n = int(counts[0])
    return {
        "refreshes": n,
        "refresh_ms_mean": round(counts[1] / n, 1) if n else None,
        "refresh_ms_max": int(counts[2]) if n else None,
    }


def effect(
    env: Env,
    dsn: str,
    jobs: int,
    workers: int,
    batch: int,
    variants: dict[str, tuple[str, ...] | None] | None = None,
) -> dict[str, Any]:
    """Drains with and without a refresh loop, rotated. ``variants`` maps a name to the loop's
    ``only`` (None: the Overview's full read); "without console" is always run."""
    from bench.throughput import drain_once

    sys_ = _typed_pgconsole()
    loops = variants if variants is not None else {WITH: None}
    runs: dict[str, list[dict[str, Any]]] = {WITHOUT: [], **{v: [] for v in loops}}
    for rep in range(env.repeat):
        for v in rotated(list(runs), rep):
            extra = None
            counts = MP.RawArray("q", 3)
            if v != WITHOUT:

                def extra(counts: Any = counts, only: tuple[str, ...] | None = loops[v]) -> Any:
                    stop = Flag(MP.RawArray("b", 1))
                    p = MP.Process(target=refresh_loop, args=(dsn, 1.0, stop, 900, counts, only))
                    p.start()
                    time.sleep(1.0)  # connected and first snapshot taken before the drain starts

                    return lambda: _stop_loop(stop, p)

            r = drain_once(sys_, dsn, jobs, workers, batch, 600, extra=extra)
            stats = _refresh_stats(counts)
            r.update(stats, snapshots=stats["refreshes"])
            runs[v].append(r)
            print(
                f"  dashboard effect {v:17s} rep {rep}: steady {(r['steady_jobs_per_s'] or 0):,.0f} jobs/s "
                f"({r['seconds']:.1f} s, {r['snapshots']} refreshes, mean {r['refresh_ms_mean']} ms, "
                f"max {r['refresh_ms_max']} ms)",
                flush=True,
            )
    sp = {v: spread([r["steady_jobs_per_s"] for r in rs if r["steady_jobs_per_s"]]) for v, rs in runs.items()}
    out: dict[str, Any] = {
        "jobs": jobs,
        "workers": workers,
        "batch": batch,
        "runs": runs,
        "spread": sp,
        "goal": ">= 0.98",
    }
    for v in loops:
        key = "ratio_with_to_without" if v == WITH else f"ratio[{v}]"
        out[key] = ratio(sp[v].get("median"), sp[WITHOUT].get("median"))
    return out


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (field 3 on), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone), from /proc (Linux)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else 0.0


def _postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (postmaster, backends, autovacuum, WAL writer)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.joinpath("comm").read_text().strip().startswith("postgres"):
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def _reaped_cpu(postmaster: int) -> float | None:
    """The postmaster's own CPU plus what it has reaped from exited children (cutime + cstime)."""
    f = _stat_fields(postmaster)
    return None if f is None else sum(int(x) for x in f[11:15]) / _TICKS


def _server_cpu(postmaster: int) -> float:
    """All the CPU of the server under test so far: its postmaster and live children, plus what the
    postmaster has reaped from exited ones: backends exit when their client disconnects and
    autovacuum workers when they finish, and their CPU must not vanish with them. Only this
    postmaster's processes: other servers on a shared machine start and stop at will. A child
    reaped while the children are read would be counted in neither figure (or both), so the
    reading is repeated until the postmaster's reaped total is the same before and after it."""
    children = 0.0
    for _ in range(10):
        before = _reaped_cpu(postmaster)
        if before is None:
            return 0.0
        children = 0.0
        for pid in _postgres_pids():
            f = _stat_fields(pid)
            if f is not None and pid != postmaster and int(f[1]) == postmaster:
                children += (int(f[11]) + int(f[12])) / _TICKS
        after = _reaped_cpu(postmaster)
        if after is not None and after == before:
            return after + children
    return (after or 0.0) + children


def _parent(pid: int) -> int:
    f = _stat_fields(pid)
    return int(f[1]) if f else 0


def _cpu_sample(
    console_client: int, console_backend: int, worker_clients: list[int], postmaster: int
) -> dict[str, float]:
    """CPU so far of the console's process and backend, the workers, and the rest of the server."""
    backend = _cpu_seconds(console_backend) if console_backend else 0.0
    return {
        "console_client": _cpu_seconds(console_client),
        "console_backend": backend,
        "server_other": _server_cpu(postmaster) - backend,
        "worker_clients": sum(_cpu_seconds(p) for p in worker_clients),
    }


def alternating(
    env: Env, dsn: str, jobs: int, workers: int, batch: int, phase_s: float = 2.0
) -> dict[str, Any]:
    """The console's effect measured inside each drain: the refresh loop (the Overview's full read
    every second) is switched on and off every ``phase_s`` seconds while the workers drain, and
    each "on" phase is compared with the "off" phase next to it.

    Separate drains with and without the console (:func:`effect`) differ by far more than the
    console costs (on a shared two-core machine, drains with no console at all vary by tens of
    percent between runs). Adjacent phases of one drain share the
    queue's length, the table's state and the neighbours' load, so their ratio isolates the
    console. Only phases wholly between 10 % and 90 % of the jobs count; the first phase of each
    drain alternates between on and off. The result is the median, over all drains, of each "on"
    phase's rate against the mean of its two "off" neighbours (non-overlapping on/off pairs are
    kept in the JSON too).
    """
    from bench.common import ProcessGang

    sys_ = _typed_pgconsole()
    drains: list[dict[str, Any]] = []
    for rep in range(env.repeat):
        sys_.fill(dsn, jobs)
        enabled, stop, counts = MP.RawArray("b", 1), Flag(MP.RawArray("b", 1)), MP.RawArray("q", 4)
        loop = MP.Process(target=refresh_loop, args=(dsn, 1.0, stop, 900, counts, None, enabled))
        loop.start()
        gang = ProcessGang(sys_.worker, (dsn, batch, 600.0), workers)
        gang.start()
        # The loop is connected and has reported its backend's pid before the first CPU sample: a
        # sleep was not always enough on a loaded box, and a sample without the pid counted the
        # backend's CPU as the server's, then moved it to the console's (a phase went backwards).
        if not wait_until(lambda counts=counts: counts[3] != 0, 60):  # type: ignore[misc]
            raise RuntimeError("the refresh loop did not connect within 60 s")
        worker_pids = [p.pid for p in gang.procs]
        postmaster = _parent(int(counts[3]))  # the console's backend is a child of the server's postmaster

        def cpu(
            loop: Any = loop,
            counts: Any = counts,
            worker_pids: list[int] = worker_pids,
            postmaster: int = postmaster,
        ) -> dict[str, float]:
            return _cpu_sample(loop.pid or 0, int(counts[3]), worker_pids, postmaster)

        start_cpu = cpu()
        phases: list[dict[str, Any]] = []
        state = rep % 2 == 1
        enabled[0] = int(state)
        t0 = start_t = time.perf_counter()
        start_h = 0
        gang.go.set()
        try:
            while True:
                time.sleep(0.005)
                h, now = gang.handled(), time.perf_counter()
                done = h >= jobs or not gang.any_alive() or now - t0 > 600
                if now - start_t >= phase_s or done:
                    c = cpu()
                    phases.append(
                        {
                            "console": state,
                            "seconds": now - start_t,
                            "from": start_h,
                            "to": h,
                            "jobs_per_s": (h - start_h) / (now - start_t),
                            "cpu_s": {k: c[k] - start_cpu[k] for k in c},
                        }
                    )
                    state = not state
                    enabled[0] = int(state)
                    start_t, start_h, start_cpu = now, h, c
                if done:
                    break
        finally:
            enabled[0] = 0
            _stop_loop(stop, loop)
            gang.join()
        steady = [
            p for p in phases if p["from"] >= 0.1 * jobs and p["to"] <= 0.9 * jobs and p["seconds"] >= phase_s
        ]
        # Non-overlapping adjacent pairs: (0, 1), (2, 3), ...; each holds one phase with and one without.
        pairs = []
        for i in range(0, len(steady) - 1, 2):
            a, b = steady[i], steady[i + 1]
            if a["console"] != b["console"]:
                on, off = (a, b) if a["console"] else (b, a)
                pairs.append(on["jobs_per_s"] / off["jobs_per_s"])
        # Each "on" phase against the mean of the "off" phases on both sides of it: a rate that
        # drifts steadily through the drain (the queue and the table change) cancels out.
        neighbours = [
            steady[i]["jobs_per_s"] / ((steady[i - 1]["jobs_per_s"] + steady[i + 1]["jobs_per_s"]) / 2)
            for i in range(1, len(steady) - 1)
            if steady[i]["console"]
            and not steady[i - 1]["console"]
            and not steady[i + 1]["console"]
            and steady[i - 1]["to"] == steady[i]["from"]
            and steady[i]["to"] == steady[i + 1]["from"]
        ]
        on_cpu = {k: sum(p["cpu_s"][k] for p in steady if p["console"]) for k in start_cpu}
        total = sum(on_cpu.values())
        d = {
            "phases": phases,
            "pair_ratios": pairs,
            "neighbour_ratios": neighbours,
            **_refresh_stats(counts),
            "on_phase_cpu_s": on_cpu,
            "console_cpu_share": (on_cpu["console_client"] + on_cpu["console_backend"]) / total
            if total
            else None,
            "median_pair_ratio": statistics.median(pairs) if pairs else None,
            "median_neighbour_ratio": statistics.median(neighbours) if neighbours else None,
            "with_jobs_per_s": spread([p["jobs_per_s"] for p in steady if p["console"]]),
            "without_jobs_per_s": spread([p["jobs_per_s"] for p in steady if not p["console"]]),
        }
        drains.append(d)
        med = d["median_neighbour_ratio"]
        print(
            f"  dashboard effect (alternating {phase_s:g} s) rep {rep}: {len(neighbours)} on phases between two "
            f"off phases, median ratio {med if med is None else round(med, 3)}, "
            f"{d['refreshes']} refreshes (mean {d['refresh_ms_mean']} ms, max {d['refresh_ms_max']} ms), "
            f"console CPU share {d['console_cpu_share']}",
            flush=True,
        )
    all_pairs = [r for d in drains for r in d["pair_ratios"]]
    all_neighbours = [r for d in drains for r in d["neighbour_ratios"]]
    return {
        "jobs": jobs,
        "workers": workers,
        "batch": batch,
        "phase_s": phase_s,
        "drains": drains,
        "pairs": len(all_pairs),
        "pair_ratio_spread": spread(all_pairs),
        "median_pair_ratio": statistics.median(all_pairs) if all_pairs else None,
        "neighbours": len(all_neighbours),
        "neighbour_ratio_spread": spread(all_neighbours),
        "drain_ratio_spread": spread(
            [d["median_neighbour_ratio"] for d in drains if d["median_neighbour_ratio"]]
        ),
        "console_cpu_share_spread": spread(
            [d["console_cpu_share"] for d in drains if d["console_cpu_share"]]
        ),
        "ratio_with_to_without": statistics.median(all_neighbours) if all_neighbours else None,
        "goal": ">= 0.98",
    }


def _ratio3(r: float | None) -> str:
    """Three decimals: the goal (0.98) is within the rounding of two."""
    return "—" if r is None else f"{r:.3f}×"


def run(
    env: Env, finished: int | None = None, pending: int | None = None, drain_jobs: int | None = None
) -> dict[str, Any]:
    finished = finished if finished is not None else (100_000 if env.quick else 10_000_000)
    pending = pending if pending is not None else (1_000 if env.quick else 100_000)
    result: dict[str, Any] = {}
    try:
        from bench import collector_cost

        result["collector_cost"] = collector_cost.run(env, finished, pending, samples=10 if env.quick else 30)
    except Exception as e:  # the collectors side is another issue's code: report, keep going
        result["collector_cost"] = {"status": "error", "reason": f"{type(e).__name__}: {e}"}
    hist = ensure_history(env, finished, pending)
    jobs = drain_jobs or (5_000 if env.quick else 20_000)
    result["effect"] = effect(env, hist["dsn"], jobs, workers=2, batch=10)
    result["effect_alternating"] = alternating(env, hist["dsn"], jobs, workers=2, batch=10)
    from bench.report import fspread

    cc = result["collector_cost"]
    rows = []
    if "pgconsole_snapshot" in cc:
        s, n = cc["pgconsole_snapshot"], cc["naive_peer_set"]
        rows.append(
            [
                f"one refresh, server time ({finished:,} finished / {pending:,} pending)",
                f"p50 {s.get('server_ms_p50', 0):.2f} ms, p95 {s.get('server_ms_p95', 0):.2f} ms",
                f"p50 {n.get('server_ms_p50', 0):.1f} ms, p95 {n.get('server_ms_p95', 0):.1f} ms",
                f"{cc.get('server_time_ratio_p50')}× cheaper (p50)",
            ]
        )
    else:
        rows.append(["one refresh, server time", "not measured: " + str(cc.get("reason", ""))[:200], "", ""])
    eff = result["effect"]
    rows.append(
        [
            f"queue drain (steady state), 2 workers × batch 10, {jobs:,} jobs, same database",
            "with 1 s refresh: " + fspread(eff["spread"][WITH]) + " jobs/s",
            "without: " + fspread(eff["spread"][WITHOUT]) + " jobs/s",
            _ratio3(eff["ratio_with_to_without"]) + " (goal ≥ 0.98)",
        ]
    )
    a = result["effect_alternating"]
    rows.append(
        [
            f"the same, console on/off every {a['phase_s']:g} s inside each drain "
            f"({a['neighbours']} on phases between two off phases)",
            "each on phase / mean of its two off neighbours: " + fspread(a["neighbour_ratio_spread"], 3),
            "per drain (median): "
            + fspread(a["drain_ratio_spread"], 3)
            + f"; console CPU share {fspread(a['console_cpu_share_spread'], 4)}",
            _ratio3(a["ratio_with_to_without"]) + " (goal ≥ 0.98)",
        ]
    )
    result["table_header"] = ["what", "pgconsole", "reference", "ratio"]
    result["table"] = rows
    return result

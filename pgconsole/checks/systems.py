"""The queue checks (queue_latency, stuck_jobs, failure_rate, queue_table_bloat) for every other
queue system in the database, judged from its :class:`~pgconsole.queue.systems.base.SystemSummary`
with the same thresholds as pgconsole's own queue. Each result names its system (``system``), so
the JSON carries ``"system": NAME`` and Nagios labels read ``NAME.queue_latency``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pgconsole.checks.registry import get_check, judge, perf
from pgconsole.checks.result import CheckResult, Status
from pgconsole.checks.thresholds import Thresholds
from pgconsole.format import duration
from pgconsole.monitor.vacuum import QueueTableHealth
from pgconsole.queue.systems.base import SystemSummary
from pgconsole.queue.systems.registry import SystemRead

if TYPE_CHECKING:
    import psycopg

QUEUE_CHECKS = ("queue_latency", "stuck_jobs", "failure_rate", "queue_table_bloat")


def _limit(t: Thresholds, st: Status, fmt: object = None) -> str:
    value = t.crit if st is Status.CRITICAL else t.warn
    if value is None or st is Status.OK:
        return ""
    return f" (>= {fmt(value) if callable(fmt) else f'{value:g}'})"


def latency(s: SystemSummary, t: Thresholds) -> CheckResult:
    age = s.oldest_due_age_s or 0.0
    st = judge(age, t)
    pending = s.state("pending")
    label = "?" if pending is None else f"{pending.count:,}{'+' if pending.method == 'capped' else ''}"
    msg = (
        f"oldest due pending job waits {duration(age)}{_limit(t, st, duration)}; {label} pending"
        if age > 0
        else f"no due job waiting; {label} pending"
    )
    return CheckResult(
        name="queue_latency",
        status=st,
        message=msg,
        perfdata={
            "queue_latency": perf(age, "s", t),
            "pending": perf(pending.count if pending else 0, "", Thresholds(None, None)),
        },
        details=[f"{x.name}: " + ", ".join(f"{v} {k}" for k, v in x.counts.items()) for x in s.types[:20]],
    )


def stuck(s: SystemSummary, t: Thresholds) -> CheckResult:
    n = len(s.stuck)
    st = judge(n, t)
    reasons: dict[str, int] = {}
    for j in s.stuck:
        reasons[j.reason] = reasons.get(j.reason, 0) + 1
    why = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
    return CheckResult(
        name="stuck_jobs",
        status=st,
        message=f"{n} stuck or long-running job(s) ({why}){_limit(t, st)}" if n else "no stuck job",
        perfdata={"stuck_jobs": perf(n, "", t)},
        details=[f"{j.id} {j.job_type} {j.reason}" for j in s.stuck[:5]],
    )


def failure_rate(s: SystemSummary, t: Thresholds) -> CheckResult:
    tp = s.throughput
    if tp is None:
        # The system keeps no finished jobs (graphile-worker deletes them): there is no rate to
        # judge, by design, and an UNKNOWN for ever would hide every real verdict of --check.
        why = "; ".join(s.notes) or "this system keeps no finish times"
        failed = sum(c.count for c in s.states if c.state == "failed")
        return CheckResult(
            name="failure_rate",
            status=Status.OK,
            message=f"not measurable ({why}); {failed} failed jobs kept",
            hint=why,
        )
    failed, done = tp.failed, tp.failed + tp.completed
    rate = 100.0 * failed / done if done else 0.0
    min_jobs = t.params.get("min_jobs", 10)
    perfdata = {
        "failure_rate": perf(rate, "%", t, 0, 100),
        "failed_15m": perf(failed, "", Thresholds(None, None)),
    }
    window = f"{tp.window_s / 60:g} min"
    if done < min_jobs:
        return CheckResult(
            name="failure_rate",
            status=Status.OK,
            message=f"{failed} of {done} jobs failed in {window} (too few to judge, < {min_jobs:g})",
            perfdata=perfdata,
        )
    st = judge(rate, t)
    scope = f"the newest {done} finished" if tp.method == "capped" else window
    msg = f"{rate:.1f}% of jobs failed in {scope} ({failed} of {done}){_limit(t, st, lambda v: f'{v:g}%')}"
    if s.failures and st is not Status.OK:
        top = s.failures[0]
        msg += f"; top error: {top.count}x {top.job_type or ''}: {top.error[:80]}"
    return CheckResult(
        name="failure_rate",
        status=st,
        message=msg,
        perfdata=perfdata,
        details=[f"{g.count}x {g.job_type or ''} {g.error[:100]}" for g in s.failures[:5]],
    )


def bloat(tables: list[QueueTableHealth], t: Thresholds) -> CheckResult:
    if not tables:
        return CheckResult(name="queue_table_bloat", status=Status.OK, message="no table statistics yet")
    min_dead = t.params.get("min_dead", 10000)
    worst = max(tables, key=lambda x: x.dead_ratio_percent if x.n_dead_tup >= min_dead else -1)
    pct = worst.dead_ratio_percent
    st = judge(pct, t) if worst.n_dead_tup >= min_dead else Status.OK
    vac = (
        f"last autovacuum {duration(worst.since_vacuum_s)} ago"
        if worst.since_vacuum_s is not None
        else "never vacuumed"
    )
    return CheckResult(
        name="queue_table_bloat",
        status=st,
        message=f"{worst.relname}: {worst.n_dead_tup:,} dead tuples ({pct:.1f}%), {vac}",
        perfdata={"queue_dead_tuples": perf(pct, "%", t, 0, 100)},
    )


def judge_systems(
    reads: list[SystemRead],
    health: Mapping[str, list[QueueTableHealth]],
    thresholds: Mapping[str, Thresholds],
    only: Collection[str] | None = None,
) -> list[CheckResult]:
    """The queue checks for each system read (pgconsole's own is judged by the built-in checks)."""
    wanted = [n for n in QUEUE_CHECKS if only is None or n in only]
    out: list[CheckResult] = []
    for r in reads:
        if r.info.kind == "pgconsole":
            continue
        for name in wanted:
            t = thresholds.get(name) or get_check(name).defaults()
            if r.summary is None:
                res = CheckResult(
                    name=name, status=Status.UNKNOWN, message=f"cannot read {r.info.name}: {r.error}"
                )
            elif name == "queue_latency":
                res = latency(r.summary, t)
            elif name == "stuck_jobs":
                res = stuck(r.summary, t)
            elif name == "failure_rate":
                res = failure_rate(r.summary, t)
            else:
                res = bloat(list(health.get(r.info.name, [])), t)
            res.system = r.info.name
            res.message = f"{r.info.name}: {res.message}"
            out.append(res)
    return out


@dataclass
class SystemsRead:
    """Every other queue system found in the database, each read once (its summary or why not),
    with its tables' health: what the checks judge and the exporter publishes."""

    reads: list[SystemRead]
    health: dict[str, list[QueueTableHealth]]


def read_systems(conn: psycopg.Connection[Any], queues: Mapping[str, Mapping[str, Any]]) -> SystemsRead:
    """Raises InvalidInput for a bad ``[queues.NAME]``."""
    from pgconsole.monitor.system_tables import tables_health
    from pgconsole.queue.systems import registry

    # pgconsole's own queue is the snapshot's queue collector: not detected (its statements) again.
    systems = [s for s in registry.detect(conn, queues, skip_own=True) if s.kind != "pgconsole"]
    if not systems:
        return SystemsRead(reads=[], health={})
    return SystemsRead(
        reads=registry.read_all(conn, systems),
        health={s.name: tables_health(conn, s.tables()) for s in systems},
    )


def name_own_system(results: list[CheckResult]) -> None:
    """Mark pgconsole's own queue checks among ``results`` with ``system = "pgconsole"``."""
    for r in results:
        if r.name in QUEUE_CHECKS:
            r.system = "pgconsole"


def check_systems(
    conn: psycopg.Connection[Any],
    queues: Mapping[str, Mapping[str, Any]],
    thresholds: Mapping[str, Thresholds],
    only: Collection[str] | None,
    results: list[CheckResult],
    read: SystemsRead | None = None,
) -> list[CheckResult]:
    """The queue checks for every other queue system found here (issue 17 item 6; ``queues``: the
    config's ``[queues.NAME]``), from ``read`` when the caller has read them already; pgconsole's
    own queue's results (in ``results``) are marked ``system = "pgconsole"``."""
    from pgconsole.queue.models import InvalidInput

    if only is not None and not any(n in QUEUE_CHECKS for n in only):
        return []
    name_own_system(results)
    if read is None:
        try:
            read = read_systems(conn, queues)
        except InvalidInput as exc:
            return [CheckResult(name="queue_latency", status=Status.UNKNOWN, message=f"config: {exc}")]
    if not read.reads:
        return []
    return judge_systems(read.reads, read.health, thresholds, only)

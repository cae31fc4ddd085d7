"""The built-in checks. Each default threshold names its source (docs/checks.md lists them all)."""

from __future__ import annotations

from pgconsole.checks.registry import check, judge, perf
from pgconsole.checks.result import CheckResult, Status
from pgconsole.checks.thresholds import Kind, Thresholds
from pgconsole.format import duration, size
from pgconsole.monitor.snapshot import Snapshot

# --- formatting ---------------------------------------------------------------------------------


def _limit(t: Thresholds, status: Status, fmt: object = None) -> str:
    value = t.crit if status is Status.CRITICAL else t.warn
    if value is None:
        return ""
    text = fmt(value) if callable(fmt) else f"{value:g}"
    return f" (>= {text})" if status is not Status.OK else ""


def _result(name: str, status: Status, message: str, **kw: object) -> CheckResult:
    return CheckResult(name=name, status=status, message=message, **kw)  # type: ignore[arg-type]


# --- connection ---------------------------------------------------------------------------------


@check(
    "connection",
    "the server answers and the role can log in",
    kind=Kind.DURATION,
    warn=None,
    crit=None,
    source="DESIGN.md §2: cannot connect or authenticate is CRITICAL",
    collectors=("server",),
)
def connection(snap: Snapshot, t: Thresholds) -> CheckResult:
    s = snap.server
    assert s is not None
    role = "standby" if s.in_recovery else "primary"
    return _result(
        "connection",
        Status.OK,
        f"PostgreSQL {s.version} ({role}) as {s.role} on {s.database}, up {duration(s.uptime_s)}",
        perfdata={"uptime": perf(s.uptime_s, "s", Thresholds(None, None))},
    )


# --- sessions -----------------------------------------------------------------------------------


@check(
    "connections_used",
    "client connections as a share of max_connections minus reserved slots",
    kind=Kind.PERCENT,
    warn="80%",
    crit="90%",
    source="seed: 'connections over 90% of max'; 80% early warning (issue #4)",
    collectors=("connections",),
)
def connections_used(snap: Snapshot, t: Thresholds) -> CheckResult:
    c = snap.connections
    assert c is not None
    pct = c.used_percent
    st = judge(pct, t)
    msg = (
        f"{c.used_total} of {c.usable} usable connections ({pct:.0f}%){_limit(t, st, lambda v: f'{v:g}%')}: "
        f"{c.active} active, {c.idle} idle, {c.idle_in_transaction + c.idle_in_transaction_aborted} idle in transaction"
    )
    return _result(
        "connections_used",
        st,
        msg,
        perfdata={
            "connections_used": perf(pct, "%", t, 0, 100),
            "connections": perf(c.used_total, "", Thresholds(None, None), 0, c.usable),
        },
    )


@check(
    "long_running_query",
    "the longest-running active query",
    kind=Kind.DURATION,
    warn="60s",
    crit="5min",
    source="PgHero long_running_query_sec = 60; 5 min critical (issue #4)",
    collectors=("activity",),
    needs_all_stats=True,
)
def long_running_query(snap: Snapshot, t: Thresholds) -> CheckResult:
    a = snap.activity
    assert a is not None
    active = sorted((s for s in a.active if s.query_age_s is not None), key=lambda s: -(s.query_age_s or 0))
    worst = active[0].query_age_s or 0.0 if active else 0.0
    st = judge(worst, t)
    over = [s for s in active if t.warn is not None and (s.query_age_s or 0) >= t.warn]
    details = [
        f"pid {s.pid} {s.usename or '?'} {duration(s.query_age_s or 0)}: {(s.query or '')[:120]}"
        for s in over[:5]
    ]
    if active:
        msg = f"longest active query {duration(worst)} (pid {active[0].pid}){_limit(t, st, duration)}"
        if len(over) > 1:
            msg += f"; {len(over)} queries over {duration(t.warn or 0)}"
    else:
        msg = "no active query"
    return _result(
        "long_running_query", st, msg, details=details, perfdata={"longest_query": perf(worst, "s", t)}
    )


@check(
    "idle_in_transaction",
    "the longest time a session has sat idle inside an open transaction",
    kind=Kind.DURATION,
    warn="5min",
    crit="30min",
    source="issue #4 (check_postgres txn_idle judges the same state_change age)",
    collectors=("activity",),
    needs_all_stats=True,
)
def idle_in_transaction(snap: Snapshot, t: Thresholds) -> CheckResult:
    a = snap.activity
    assert a is not None
    idle = sorted(a.idle_in_transaction, key=lambda s: -(s.state_age_s or 0))
    worst = idle[0].state_age_s or 0.0 if idle else 0.0
    st = judge(worst, t)
    details = [
        f"pid {s.pid} {s.usename or '?'} {s.application_name or ''} idle {duration(s.state_age_s or 0)}"
        f", transaction open {duration(s.xact_age_s or 0)}"
        for s in idle[:5]
    ]
    msg = (
        (
            f"{len(idle)} session(s) idle in transaction, longest {duration(worst)} (pid {idle[0].pid})"
            f"{_limit(t, st, duration)}"
        )
        if idle
        else "no session idle in transaction"
    )
    return _result(
        "idle_in_transaction",
        st,
        msg,
        details=details,
        perfdata={
            "idle_in_transaction_longest": perf(worst, "s", t),
            "idle_in_transaction_sessions": perf(len(idle), "", Thresholds(None, None)),
        },
    )


@check(
    "blocked_sessions",
    "sessions waiting on a lock held by another session",
    kind=Kind.COUNT,
    warn="1",
    crit="5",
    source="pgconsole: any lock wait caught by a snapshot is worth a look; 5 is a pile-up",
    collectors=("activity",),
    needs_all_stats=True,
)
def blocked_sessions(snap: Snapshot, t: Thresholds) -> CheckResult:
    a = snap.activity
    assert a is not None
    waiting = a.waiting
    st = judge(len(waiting), t)
    trees = a.blocking_trees()
    details = []
    for root in trees[:5]:
        blocker = next((s for s in a.sessions if s.pid == root.pid), None)
        what = f"{blocker.state} {duration(blocker.xact_age_s or 0)}" if blocker else "not visible"
        details.append(f"pid {root.pid} ({what}) blocks {root.size()} session(s)")
    if waiting:
        longest = max(s.query_age_s or 0 for s in waiting)
        msg = (
            f"{len(waiting)} session(s) waiting on locks{_limit(t, st)}, longest {duration(longest)}; "
            f"root blocker(s): {', '.join(str(r.pid) for r in trees[:5])}"
        )
    else:
        msg = "no session waits on a lock"
    return _result(
        "blocked_sessions", st, msg, details=details, perfdata={"blocked_sessions": perf(len(waiting), "", t)}
    )


# --- database -----------------------------------------------------------------------------------


@check(
    "cache_hit",
    "shared-buffer hit ratio of the whole cluster over the interval (cumulative on a single run)",
    kind=Kind.PERCENT,
    direction="below",
    warn="95%",
    crit="90%",
    source="seed: 'cache hit under 95%'; 90% critical (issue #4)",
    collectors=("database",),
    params={"min_blocks": (Kind.COUNT, "1000")},
)
def cache_hit(snap: Snapshot, t: Thresholds) -> CheckResult:
    db = snap.database
    assert db is not None
    min_blocks = t.params.get("min_blocks", 1000)
    d = snap.delta.cluster if snap.delta is not None else None
    ratio: float | None
    if d is not None and d.blks_hit + d.blks_read >= min_blocks and d.cache_hit_percent is not None:
        ratio, basis, blocks = (
            d.cache_hit_percent,
            f"over the last {duration(d.interval_s)}",
            d.blks_hit + d.blks_read,
        )
    else:
        total = db.total()
        ratio, basis, blocks = (
            total.cache_hit_percent,
            "since the statistics reset",
            total.blks_hit + total.blks_read,
        )
    if ratio is None or blocks < min_blocks:
        return _result("cache_hit", Status.OK, f"too few block accesses to judge ({blocks} < {min_blocks:g})")
    st = judge(ratio, t, "below")
    msg = f"cache hit {ratio:.2f}% {basis}" + (
        f" (<= {t.crit if st is Status.CRITICAL else t.warn:g}%)" if st else ""
    )
    return _result("cache_hit", st, msg, perfdata={"cache_hit": perf(ratio, "%", t, 0, 100)})


@check(
    "wraparound",
    "oldest transaction-ID (or multixact) age as a share of its autovacuum_freeze_max_age",
    kind=Kind.PERCENT,
    warn="110%",
    crit="125%",
    source="Crunchy pgMonitor 'percent towards emergency autovacuum' alert (recalled, unverified); "
    "100% is where forced anti-wraparound vacuum starts",
    collectors=("vacuum",),
)
def wraparound(snap: Snapshot, t: Thresholds) -> CheckResult:
    v = snap.vacuum
    assert v is not None
    pct = v.wraparound_percent
    st = judge(pct, t)
    msg = (
        f"oldest XID age {v.max_xid_age:,} in {v.oldest_database} = {pct:.1f}% of autovacuum_freeze_max_age "
        f"({v.freeze_max_age:,})"
    )
    details = [
        f"{x.kind} {x.name} ({x.detail}) holds xmin age {x.xid_age}" for x in v.xmin_holders if x.xid_age
    ]
    return _result(
        "wraparound",
        st,
        msg,
        details=details[:5],
        perfdata={
            "wraparound": perf(pct, "%", t, 0, None),
            "xid_age": perf(v.max_xid_age, "c", Thresholds(None, None)),
        },
    )


@check(
    "archiver",
    "WAL archiving is not failing",
    kind=Kind.DURATION,
    warn="0s",
    crit="1h",
    source="check_pgactivity archiver: last failure newer than last success; critical after 1 h without a success",
    collectors=("archiver",),
)
def archiver(snap: Snapshot, t: Thresholds) -> CheckResult:
    a = snap.archiver
    assert a is not None
    if not a.enabled:
        return _result("archiver", Status.OK, f"archive_mode is {a.archive_mode}")
    if not a.failing:
        return _result(
            "archiver",
            Status.OK,
            f"archiving works: {a.archived_count} archived, last {a.last_archived_wal}",
            perfdata={"archive_failed": perf(a.failed_count, "c", Thresholds(None, None))},
        )
    since = a.since_last_archived_s if a.since_last_archived_s is not None else float("inf")
    st = Status.CRITICAL if t.crit is not None and since >= t.crit else Status.WARNING
    msg = f"archiving fails: last failure {a.last_failed_wal} at {a.last_failed_time}, {a.failed_count} failures"
    if a.last_archived_time is not None:
        msg += f"; last success {duration(since)} ago"
    return _result(
        "archiver", st, msg, perfdata={"archive_failed": perf(a.failed_count, "c", Thresholds(None, None))}
    )


@check(
    "notify_queue_usage",
    "fill of the LISTEN/NOTIFY queue (NOTIFY fails when full)",
    kind=Kind.PERCENT,
    warn="50%",
    crit="80%",
    source="PostgreSQL warns in its log from 50% full (async.c); 80% critical (pgconsole)",
    collectors=("notify",),
)
def notify_queue_usage(snap: Snapshot, t: Thresholds) -> CheckResult:
    n = snap.notify
    assert n is not None
    st = judge(n.usage_percent, t)
    return _result(
        "notify_queue_usage",
        st,
        f"notification queue {n.usage_percent:.1f}% full",
        perfdata={"notify_queue_usage": perf(n.usage_percent, "%", t, 0, 100)},
    )


@check(
    "pg_stat_statements",
    "pg_stat_statements is loaded and created, so slow queries can be seen",
    kind=Kind.COUNT,
    warn=None,
    crit=None,
    source="PgHero/pganalyze need it for query stats",
    collectors=(),
)
def pg_stat_statements(snap: Snapshot, t: Thresholds) -> CheckResult:
    caps = snap.caps
    if not caps.pgss_preloaded:
        return _result(
            "pg_stat_statements",
            Status.WARNING,
            "pg_stat_statements is not in shared_preload_libraries",
            hint="ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; -- then restart",
        )
    if not caps.pgss_usable:
        return _result(
            "pg_stat_statements",
            Status.WARNING,
            "pg_stat_statements is loaded but the extension is not created in this database",
            hint="CREATE EXTENSION pg_stat_statements;",
        )
    msg = f"pg_stat_statements {caps.pgss_version} in schema {caps.pgss_schema}"
    st = snap.state("statements")
    if st.status in ("disabled", "error"):
        return _result(
            "pg_stat_statements", Status.UNKNOWN, f"{msg}, but reading it failed: {st.message}", hint=st.hint
        )
    return _result("pg_stat_statements", Status.OK, msg)


# --- replication --------------------------------------------------------------------------------


@check(
    "replication_lag",
    "replay delay on a standby, or the worst standby lag seen from the primary",
    kind=Kind.DURATION,
    warn="10s",
    crit="60s",
    source="seed: 'replication lag over 10 s'; PgHero healthy under 5 s; 60 s critical (issue #4)",
    collectors=("replication",),
)
def replication_lag(snap: Snapshot, t: Thresholds) -> CheckResult:
    r = snap.replication
    assert r is not None
    if r.recovery is not None:
        rec = r.recovery
        delay = rec.replay_delay_s or 0.0
        st = judge(delay, t)
        msg = f"standby replay delay {duration(delay)}{_limit(t, st, duration)}"
        if rec.pause_state and rec.pause_state != "not paused":
            msg += f"; replay is {rec.pause_state}"
        if rec.replay_lag_bytes:
            msg += f"; {size(rec.replay_lag_bytes)} received but not replayed"
        return _result(
            "replication_lag",
            st,
            msg,
            perfdata={
                "replay_delay": perf(delay, "s", t),
                "replay_lag_bytes": perf(rec.replay_lag_bytes or 0, "B", Thresholds(None, None)),
            },
        )
    if not r.standbys:
        return _result(
            "replication_lag",
            Status.OK,
            "primary with no connected standby",
            perfdata={"standbys": perf(0, "", Thresholds(None, None))},
        )
    if r.hidden:
        from pgconsole.monitor.base import grant_read_all_stats

        grant = grant_read_all_stats(snap.caps.current_user)
        return _result(
            "replication_lag",
            Status.UNKNOWN,
            f"standby positions are hidden from this role; needs {grant}",
            hint=grant,
        )
    worst_s = max(max(s.write_lag_s or 0, s.flush_lag_s or 0, s.replay_lag_s or 0) for s in r.standbys)
    worst_b = max(s.replay_lag_bytes or 0 for s in r.standbys)
    st = judge(worst_s, t)
    details = [
        f"{s.application_name} {s.state} replay lag {duration(s.replay_lag_s or 0)}, "
        f"{size(s.replay_lag_bytes or 0)}"
        for s in r.standbys
    ]
    not_streaming = [s for s in r.standbys if s.state != "streaming"]
    if not_streaming and st is Status.OK:
        st = Status.WARNING
    msg = f"{len(r.standbys)} standby(s), worst lag {duration(worst_s)} / {size(worst_b)}{_limit(t, st, duration)}"
    if not_streaming:
        msg += f"; not streaming: {', '.join(str(s.application_name) for s in not_streaming)}"
    return _result(
        "replication_lag",
        st,
        msg,
        details=details,
        perfdata={
            "replication_lag": perf(worst_s, "s", t),
            "replication_lag_bytes": perf(worst_b, "B", Thresholds(None, None)),
            "standbys": perf(len(r.standbys), "", Thresholds(None, None)),
        },
    )


@check(
    "replication_slots",
    "inactive replication slots and the WAL that slots retain",
    kind=Kind.BYTES,
    warn="1GB",
    crit="10GB",
    source="PgHero: any inactive slot warns; retained-WAL sizes are pgconsole's (a lost slot is critical)",
    collectors=("replication",),
)
def replication_slots(snap: Snapshot, t: Thresholds) -> CheckResult:
    r = snap.replication
    assert r is not None
    if not r.slots:
        return _result(
            "replication_slots",
            Status.OK,
            "no replication slot",
            perfdata={"slot_retained_wal": perf(0, "B", t)},
        )
    worst = max(r.slots, key=lambda s: s.retained_bytes or 0)
    retained = worst.retained_bytes or 0
    st = judge(retained, t)
    inactive = [s for s in r.slots if not s.active]
    lost = [s for s in r.slots if s.wal_status in ("lost", "unreserved")]
    if inactive and st is Status.OK:
        st = Status.WARNING
    if lost:
        st = Status.CRITICAL
    parts = [f"{len(r.slots)} slot(s), most retained WAL {size(retained)} by {worst.slot_name}"]
    if inactive:
        parts.append(f"inactive: {', '.join(s.slot_name for s in inactive)}")
    if lost:
        parts.append(f"WAL lost or unreserved: {', '.join(s.slot_name for s in lost)}")
    details = [
        f"{s.slot_name} {s.slot_type} {'active' if s.active else 'INACTIVE'} retains "
        f"{size(s.retained_bytes or 0)} wal_status={s.wal_status}"
        for s in r.slots
    ]
    return _result(
        "replication_slots",
        st,
        "; ".join(parts),
        details=details,
        perfdata={
            "slot_retained_wal": perf(retained, "B", t),
            "inactive_slots": perf(len(inactive), "", Thresholds(None, None)),
        },
    )


# --- queue --------------------------------------------------------------------------------------


@check(
    "queue_latency",
    "age of the oldest pending job that is due",
    kind=Kind.DURATION,
    warn="5min",
    crit="30min",
    source="issue #4",
    collectors=("queue",),
)
def queue_latency(snap: Snapshot, t: Thresholds) -> CheckResult:
    q = snap.queue
    assert q is not None
    age = q.oldest_due_age_s
    st = judge(age, t)
    pending = q.state("pending")
    label = pending.label if pending else "?"
    # Every type with pending jobs, with its own count ("+": counting stopped at the type's cap).
    types = [f"{x.job_type} {x.pending_label}" for x in q.by_type if x.pending]
    if types:
        more = f", … {len(types)} types in the details" if len(types) > 8 else ""
        label += f" ({', '.join(types[:8])}{more})"
    msg = (
        f"oldest due pending job waits {duration(age)}{_limit(t, st, duration)}; {label} pending"
        if age > 0
        else f"no due job waiting; {label} pending"
    )
    return _result(
        "queue_latency",
        st,
        msg,
        details=[f"{x.job_type}: {x.pending_label} pending, {x.processing} processing" for x in q.by_type],
        perfdata={
            "queue_latency": perf(age, "s", t),
            "pending": perf(pending.count if pending else 0, "", Thresholds(None, None)),
        },
    )


@check(
    "stuck_jobs",
    "processing jobs whose lease expired, whose worker is gone, or over their time budget",
    kind=Kind.COUNT,
    warn="1",
    crit="10",
    source="issue #4",
    collectors=("queue",),
)
def stuck_jobs(snap: Snapshot, t: Thresholds) -> CheckResult:
    q = snap.queue
    assert q is not None
    if q.stuck is None:
        return _result(
            "stuck_jobs", Status.UNKNOWN, f"cannot detect stuck jobs: {q.stuck_note}", hint=q.stuck_note
        )
    n = len(q.stuck)
    st = judge(n, t)
    reasons: dict[str, int] = {}
    for j in q.stuck:
        reasons[j.reason] = reasons.get(j.reason, 0) + 1
    why = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
    msg = f"{n} stuck job(s) ({why}){_limit(t, st)}" if n else "no stuck job"
    details = [f"{j.id} {j.job_type} locked_by={j.locked_by} reason={j.reason}" for j in q.stuck[:5]]
    return _result("stuck_jobs", st, msg, details=details, perfdata={"stuck_jobs": perf(n, "", t)})


@check(
    "failure_rate",
    "failed / (completed + failed) among jobs finished in the last 15 minutes",
    kind=Kind.PERCENT,
    warn="5%",
    crit="20%",
    source="issue #4",
    collectors=("queue",),
    params={"min_jobs": (Kind.COUNT, "10")},
)
def failure_rate(snap: Snapshot, t: Thresholds) -> CheckResult:
    q = snap.queue
    assert q is not None
    failed = q.finished("15m", "failed")
    done = failed + q.finished("15m", "completed")
    rate = q.failure_rate_percent("15m") or 0.0
    min_jobs = t.params.get("min_jobs", 10)
    perfdata = {
        "failure_rate": perf(rate, "%", t, 0, 100),
        "failed_15m": perf(failed, "", Thresholds(None, None)),
    }
    if done < min_jobs:
        return _result(
            "failure_rate",
            Status.OK,
            f"{failed} of {done} jobs failed in 15 min (too few to judge, < {min_jobs:g})",
            perfdata=perfdata,
        )
    st = judge(rate, t)
    # A busy queue: the counts are those of the newest jobs finished (the collector's sample).
    scope = (
        f"the newest {done + q.finished('15m', 'cancelled') + q.finished('15m', 'expired')} finished"
        if q.window_capped
        else "15 min"
    )
    msg = f"{rate:.1f}% of jobs failed in {scope} ({failed} of {done}){_limit(t, st, lambda v: f'{v:g}%')}"
    details = [f"{g.n}x {g.job_type} {g.error_code or ''} {(g.error or '')[:100]}" for g in q.failures[:5]]
    if q.failures and st is not Status.OK:
        top = q.failures[0]
        msg += f"; top error: {top.n}x {top.job_type}: {(top.error or top.error_code or '')[:80]}"
    return _result("failure_rate", st, msg, details=details, perfdata=perfdata)


@check(
    "queue_table_bloat",
    "dead tuples as a share of pgconsole.jobs (autovacuum falling behind)",
    kind=Kind.PERCENT,
    warn="20%",
    crit="50%",
    source="autovacuum_vacuum_scale_factor default 0.2: beyond 20% dead autovacuum is late (PgHero shows dead-row %)",
    collectors=("vacuum", "queue"),
    params={"min_dead": (Kind.COUNT, "10000")},
)
def queue_table_bloat(snap: Snapshot, t: Thresholds) -> CheckResult:
    v = snap.vacuum
    assert v is not None
    tables = [x for x in v.queue_tables if x.relname.startswith("jobs")]
    if not tables:
        return _result("queue_table_bloat", Status.OK, "no queue table statistics yet")
    worst = max(
        tables, key=lambda x: x.dead_ratio_percent if x.n_dead_tup >= t.params.get("min_dead", 0) else -1
    )
    pct = worst.dead_ratio_percent
    min_dead = t.params.get("min_dead", 10000)
    st = judge(pct, t) if worst.n_dead_tup >= min_dead else Status.OK
    msg = f"pgconsole.{worst.relname}: {worst.n_dead_tup:,} dead tuples ({pct:.1f}%)"
    msg += (
        f", last autovacuum {duration(worst.since_vacuum_s)} ago"
        if worst.since_vacuum_s is not None
        else ", never vacuumed"
    )
    if st is not Status.OK:
        holders = [f"{x.kind} {x.name}" for x in v.xmin_holders[:3]]
        if holders:
            msg += f"; oldest xmin holders: {', '.join(holders)}"
    return _result("queue_table_bloat", st, msg, perfdata={"queue_dead_tuples": perf(pct, "%", t, 0, 100)})


@check(
    "pending_migrations",
    "pgconsole schema migrations this version knows and the database lacks",
    kind=Kind.COUNT,
    warn="1",
    crit=None,
    source="monitoring.md §6.7: assert the schema is at the expected version",
    collectors=("migrations",),
)
def pending_migrations(snap: Snapshot, t: Thresholds) -> CheckResult:
    m = snap.migrations
    assert m is not None
    if m.problems:
        return _result("pending_migrations", Status.CRITICAL, m.problems[0], details=m.problems)
    n = len(m.pending)
    st = judge(n, t)
    msg = (
        f"{n} pending migration(s): {', '.join(m.pending[:3])}; run pgconsole migrate"
        if n
        else f"schema up to date ({m.applied} applied, latest {m.latest_applied})"
    )
    return _result("pending_migrations", st, msg, perfdata={"pending_migrations": perf(n, "", t)})


# --- PgBouncer (only with pgbouncer_dsn / --pgbouncer: otherwise not run) -----------------------


def _pool_name(p: object) -> str:
    return f"{getattr(p, 'database', '?')}/{getattr(p, 'user', '?')}"


@check(
    "pgbouncer_clients_waiting",
    "PgBouncer clients waiting for a server connection, over all pools (SHOW POOLS cl_waiting)",
    kind=Kind.COUNT,
    warn="1",
    crit="10",
    source="PgBouncer docs: cl_waiting counts clients that sent a query and have no server connection yet; "
    "any is a pool at its limit right now (pgconsole), 10 a queue (pgconsole)",
    collectors=("pgbouncer",),
    optional=True,
)
def pgbouncer_clients_waiting(snap: Snapshot, t: Thresholds) -> CheckResult:
    b = snap.pgbouncer
    assert b is not None
    n = b.clients_waiting
    st = judge(n, t)
    waiting = [p for p in b.pools if p.cl_waiting]
    if waiting:
        worst = max(waiting, key=lambda p: p.cl_waiting)
        msg = (
            f"{n} client(s) waiting for a server connection{_limit(t, st)}; most in {_pool_name(worst)}: "
            f"{worst.cl_waiting} waiting, {worst.sv_active} of its server connections active, {worst.sv_idle} idle"
        )
    else:
        msg = (
            f"no client waiting ({len(b.pools)} pool(s), {sum(p.cl_active for p in b.pools)} clients active)"
        )
    details = [
        f"{_pool_name(p)}: {p.cl_active} active, {p.cl_waiting} waiting; servers {p.sv_active} active, {p.sv_idle} idle"
        for p in waiting[:10]
    ]
    return _result(
        "pgbouncer_clients_waiting",
        st,
        msg,
        details=details,
        perfdata={"pgbouncer_clients_waiting": perf(n, "", t)},
    )


@check(
    "pgbouncer_maxwait",
    "how long the oldest PgBouncer client waiting for a server connection has waited (SHOW POOLS maxwait)",
    kind=Kind.DURATION,
    warn="1s",
    crit="10s",
    source="PgBouncer docs: a growing maxwait means the servers do not handle requests quickly enough; "
    "1 s is a wait a user notices, 10 s a timeout for most clients (pgconsole)",
    collectors=("pgbouncer",),
    optional=True,
)
def pgbouncer_maxwait(snap: Snapshot, t: Thresholds) -> CheckResult:
    b = snap.pgbouncer
    assert b is not None
    worst = b.worst_pool()
    wait = b.max_wait_s
    st = judge(wait, t)
    if worst is not None and wait > 0:
        msg = (
            f"oldest waiting client in {_pool_name(worst)} has waited {duration(wait)}{_limit(t, st, duration)} "
            f"({worst.cl_waiting} waiting, {worst.sv_active} server connections active)"
        )
    else:
        msg = f"no client waiting ({len(b.pools)} pool(s))"
    return _result("pgbouncer_maxwait", st, msg, perfdata={"pgbouncer_maxwait": perf(wait, "s", t)})

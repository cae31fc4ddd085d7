"""A scrape's models as Prometheus text-format lines (the list, with meanings: docs/metrics.md).

Named as Prometheus asks: the ``pgconsole_`` prefix, base units (seconds, bytes), ``_total`` on
counters, ratios and rates left to PromQL (cache hit is
``rate(pgconsole_database_blocks_hit_total[5m]) / (… + rate(…blocks_read_total[5m]))``). Every
series has a ``target`` label: the profile's name (or the password-free target when no profile).

The lines are written here, not by prometheus_client's metric families and ``generate_latest``:
those checked every sample's metric and label names and cost more than a tenth of a scrape's CPU
(docs/BENCHMARKS.md §9); the names here are checked once, at import. The output is what ``generate_latest`` writes
for the same families, byte for byte (labels sorted by name, values by prometheus_client's
``floatToGoString``): tests/exporter/test_text_format.py holds the two side by side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client.utils import floatToGoString
from prometheus_client.validation import METRIC_LABEL_NAME_RE, METRIC_NAME_RE

from pgconsole.exporter.target import ScrapeResult, Target
from pgconsole.monitor.snapshot import Snapshot

# name -> (type, help, label names after "target"); the one list docs/metrics.md follows.
SERIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pgconsole_up": ("gauge", "1 when the target answered this scrape in time, else 0", ()),
    "pgconsole_scrape_duration_seconds": ("gauge", "how long this target's scrape took", ()),
    "pgconsole_check_status": (
        "gauge",
        "each check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the --check verdicts)",
        ("check",),
    ),
    "pgconsole_custom_check_value": (
        "gauge",
        "the number a custom SQL check's statement returned",
        ("check",),
    ),
    "pgconsole_collector_up": (
        "gauge",
        "1 when a collector produced data this scrape (ok or limited), else 0",
        ("collector",),
    ),
    "pgconsole_server_info": ("gauge", "always 1: the server's version and role", ("version", "role")),
    "pgconsole_server_uptime_seconds": ("gauge", "seconds since the postmaster started", ()),
    "pgconsole_server_in_recovery": ("gauge", "1 on a standby, 0 on a primary", ()),
    "pgconsole_connections": (
        "gauge",
        "client sessions by state (pg_stat_activity; other roles' only with pg_read_all_stats)",
        ("state",),
    ),
    "pgconsole_connections_max": ("gauge", "max_connections minus the reserved slots", ()),
    "pgconsole_connections_waiting_on_lock": ("gauge", "sessions waiting for a lock", ()),
    "pgconsole_connections_oldest_idle_in_transaction_seconds": (
        "gauge",
        "the longest a session has been idle inside a transaction",
        (),
    ),
    "pgconsole_database_backends": ("gauge", "sessions connected to each database", ("datname",)),
    "pgconsole_database_size_bytes": ("gauge", "the size of the target's own database", ("datname",)),
    "pgconsole_database_transactions_committed": ("counter", "transactions committed", ("datname",)),
    "pgconsole_database_transactions_rolled_back": ("counter", "transactions rolled back", ("datname",)),
    "pgconsole_database_blocks_hit": ("counter", "shared-buffer hits", ("datname",)),
    "pgconsole_database_blocks_read": ("counter", "blocks read from outside shared buffers", ("datname",)),
    "pgconsole_database_deadlocks": ("counter", "deadlocks detected", ("datname",)),
    "pgconsole_database_temp_bytes": ("counter", "bytes written to temporary files", ("datname",)),
    "pgconsole_replication_standby_replay_lag_bytes": (
        "gauge",
        "WAL bytes a standby has yet to replay (on the primary)",
        ("application_name", "client_addr"),
    ),
    "pgconsole_replication_standby_replay_lag_seconds": (
        "gauge",
        "a standby's replay lag as the primary measures it",
        ("application_name", "client_addr"),
    ),
    "pgconsole_replication_replay_delay_seconds": (
        "gauge",
        "on a standby: how far replay is behind the primary's last transaction",
        (),
    ),
    "pgconsole_replication_slot_retained_bytes": (
        "gauge",
        "WAL a replication slot keeps",
        ("slot", "slot_type"),
    ),
    "pgconsole_replication_slot_active": (
        "gauge",
        "1 when a consumer is connected to the slot",
        ("slot", "slot_type"),
    ),
    "pgconsole_vacuum_xid_age": ("gauge", "age of the oldest unfrozen transaction ID in the cluster", ()),
    "pgconsole_vacuum_mxid_age": ("gauge", "age of the oldest multixact ID in the cluster", ()),
    "pgconsole_vacuum_freeze_max_age": ("gauge", "autovacuum_freeze_max_age", ()),
    "pgconsole_vacuum_dead_tuples": ("gauge", "dead tuples in each queue table", ("relation",)),
    "pgconsole_vacuum_live_tuples": ("gauge", "live tuples in each queue table", ("relation",)),
    "pgconsole_vacuum_since_seconds": (
        "gauge",
        "seconds since each queue table was last vacuumed",
        ("relation",),
    ),
    "pgconsole_queue_jobs": (
        "gauge",
        "active jobs by system, type and state, counted exactly up to a cap per type",
        ("system", "job_type", "state"),
    ),
    "pgconsole_queue_jobs_capped": (
        "gauge",
        "1 when some type's pgconsole_queue_jobs stopped at its cap in this state (at least that many)",
        ("system", "state"),
    ),
    "pgconsole_queue_jobs_estimated": (
        "gauge",
        "finished jobs kept (within retention) by state, the planner's estimate",
        ("system", "state"),
    ),
    "pgconsole_queue_oldest_due_seconds": ("gauge", "age of the oldest pending job that is due", ("system",)),
    "pgconsole_queue_stuck_jobs": (
        "gauge",
        "jobs stuck in processing (lease expired, worker gone, over budget)",
        ("system",),
    ),
    "pgconsole_queue_jobs_completed": (
        "counter",
        "jobs seen completing since the exporter started",
        ("system", "job_type"),
    ),
    "pgconsole_queue_jobs_failed": (
        "counter",
        "jobs seen failing for good (retries used up) since the exporter started",
        ("system", "job_type"),
    ),
    "pgconsole_pgbouncer_up": ("gauge", "1 when PgBouncer's admin console answered (pgbouncer_dsn set)", ()),
    "pgconsole_pgbouncer_clients_active": (
        "gauge",
        "clients linked to a server or idle",
        ("database", "user"),
    ),
    "pgconsole_pgbouncer_clients_waiting": (
        "gauge",
        "clients waiting for a server connection",
        ("database", "user"),
    ),
    "pgconsole_pgbouncer_servers_active": ("gauge", "server connections in use", ("database", "user")),
    "pgconsole_pgbouncer_servers_idle": ("gauge", "server connections idle", ("database", "user")),
    "pgconsole_pgbouncer_maxwait_seconds": (
        "gauge",
        "how long the oldest waiting client has waited",
        ("database", "user"),
    ),
    "pgconsole_pgbouncer_avg_query_seconds": (
        "gauge",
        "average query time over PgBouncer's stats_period",
        ("database", "user"),
    ),
    "pgconsole_pgbouncer_avg_transaction_seconds": (
        "gauge",
        "average transaction time over PgBouncer's stats_period",
        ("database", "user"),
    ),
}


class _Series:
    """One series' header lines and sample line template, worked out once per process."""

    __slots__ = ("header", "labels", "order", "template")

    def __init__(self, name: str) -> None:
        kind, doc, labels = SERIES[name]
        exposed = f"{name}_total" if kind == "counter" else name
        assert METRIC_NAME_RE.match(exposed) and all(METRIC_LABEL_NAME_RE.match(n) for n in labels), name
        doc = doc.replace("\\", r"\\").replace("\n", r"\n")
        self.header = f"# HELP {exposed} {doc}\n# TYPE {exposed} {kind}\n"
        self.labels = labels
        # The labels in name order, as generate_latest sorts them: their positions among the
        # values given (the target first), and the line with a %s for each value and the number
        # (%-formatting: cheaper than str.format here, docs/BENCHMARKS.md §9; names hold no %).
        by_name = sorted((n, i) for i, n in enumerate(("target", *labels)))
        self.order = tuple(i for _, i in by_name)
        self.template = exposed + "{" + ",".join(f'{n}="%s"' for n, _ in by_name) + "} %s\n"


_SERIES = {name: _Series(name) for name in SERIES}


def _label_value(v: str) -> str:
    if "\\" in v or "\n" in v or '"' in v:
        return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return v


def _number(value: float | int) -> str:
    # floatToGoString's own result for the small integers most samples are ("5.0"); Go's exponent
    # form starts at 1e6 and Python's repr at 1e16
    if type(value) is int and -(10**15) < value < 10**6:
        return f"{value}.0"
    return floatToGoString(float(value))


class _Families:
    """One block of lines per name, every target's samples in it (the text format allows a name once)."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}

    def add(self, name: str, target: str, value: float | int | None, **labels: str | None) -> None:
        if value is None:
            return
        series = _SERIES[name]
        block = self.lines.get(name)
        if block is None:
            block = self.lines[name] = [series.header]
        values = (target, *[labels.get(n) or "" for n in series.labels])
        block.append(series.template % (*[_label_value(values[i]) for i in series.order], _number(value)))

    def text(self) -> str:
        return "".join(line for block in self.lines.values() for line in block)


def metrics_text(scrapes: Iterable[ScrapeResult], targets: Mapping[str, Target]) -> str:
    """The scrapes in the Prometheus text format."""
    out = _Families()
    for r in scrapes:
        t = r.target
        out.add("pgconsole_up", t, 1 if r.up else 0)
        out.add("pgconsole_scrape_duration_seconds", t, r.duration_s)
        for c in r.results:
            # Another queue system's checks carry its name, as in --check's Nagios labels.
            name = c.name if c.system in (None, "pgconsole") else f"{c.system}.{c.name}"
            out.add("pgconsole_check_status", t, int(c.status), check=name)
        target = targets.get(t)
        if target is not None:
            for (system, job_type, state), n in sorted(target.counters.items()):
                if state in ("completed", "failed"):
                    out.add(f"pgconsole_queue_jobs_{state}", t, n, system=system, job_type=job_type)
        if r.snapshot is not None:
            _snapshot(out, t, r.snapshot)
        for q in r.queues:
            for j in q.jobs:
                out.add(
                    "pgconsole_queue_jobs", t, j.count, system=q.system, job_type=j.job_type, state=j.state
                )
            for state in sorted({j.state for j in q.jobs}):
                capped = any(j.capped for j in q.jobs if j.state == state)
                out.add("pgconsole_queue_jobs_capped", t, int(capped), system=q.system, state=state)
            for e in q.estimates:
                out.add("pgconsole_queue_jobs_estimated", t, e.count, system=q.system, state=e.state)
            out.add("pgconsole_queue_oldest_due_seconds", t, q.oldest_due_s, system=q.system)
            out.add("pgconsole_queue_stuck_jobs", t, q.stuck, system=q.system)
    return out.text()


def _snapshot(out: _Families, t: str, snap: Snapshot) -> None:
    for name, st in sorted(snap.collectors.items()):
        out.add("pgconsole_collector_up", t, int(st.status in ("ok", "limited")), collector=name)
    for name, cv in sorted((snap.custom or {}).items()):
        out.add("pgconsole_custom_check_value", t, cv.value, check=f"custom.{name}")
    s = snap.server
    if s is not None:
        out.add(
            "pgconsole_server_info", t, 1, version=s.version, role="standby" if s.in_recovery else "primary"
        )
        out.add("pgconsole_server_uptime_seconds", t, s.uptime_s)
        out.add("pgconsole_server_in_recovery", t, int(s.in_recovery))
    c = snap.connections
    if c is not None:
        for state in ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "other"):
            out.add("pgconsole_connections", t, getattr(c, state), state=state)
        out.add("pgconsole_connections_max", t, c.usable)
        out.add("pgconsole_connections_waiting_on_lock", t, c.waiting_on_lock)
        out.add("pgconsole_connections_oldest_idle_in_transaction_seconds", t, c.oldest_idle_in_transaction_s)
    if snap.database is not None:
        for d in snap.database.databases:
            out.add("pgconsole_database_backends", t, d.numbackends, datname=d.datname)
            out.add("pgconsole_database_size_bytes", t, d.size_bytes, datname=d.datname)
            out.add("pgconsole_database_transactions_committed", t, d.xact_commit, datname=d.datname)
            out.add("pgconsole_database_transactions_rolled_back", t, d.xact_rollback, datname=d.datname)
            out.add("pgconsole_database_blocks_hit", t, d.blks_hit, datname=d.datname)
            out.add("pgconsole_database_blocks_read", t, d.blks_read, datname=d.datname)
            out.add("pgconsole_database_deadlocks", t, d.deadlocks, datname=d.datname)
            out.add("pgconsole_database_temp_bytes", t, d.temp_bytes, datname=d.datname)
    rep = snap.replication
    if rep is not None:
        for sb in rep.standbys:
            labels = {"application_name": sb.application_name, "client_addr": sb.client_addr}
            out.add("pgconsole_replication_standby_replay_lag_bytes", t, sb.replay_lag_bytes, **labels)
            out.add("pgconsole_replication_standby_replay_lag_seconds", t, sb.replay_lag_s, **labels)
        if rep.recovery is not None:
            out.add("pgconsole_replication_replay_delay_seconds", t, rep.recovery.replay_delay_s)
        for sl in rep.slots:
            out.add(
                "pgconsole_replication_slot_retained_bytes",
                t,
                sl.retained_bytes,
                slot=sl.slot_name,
                slot_type=sl.slot_type,
            )
            out.add(
                "pgconsole_replication_slot_active",
                t,
                int(sl.active),
                slot=sl.slot_name,
                slot_type=sl.slot_type,
            )
    v = snap.vacuum
    if v is not None:
        out.add("pgconsole_vacuum_xid_age", t, v.max_xid_age)
        out.add("pgconsole_vacuum_mxid_age", t, v.max_mxid_age)
        out.add("pgconsole_vacuum_freeze_max_age", t, v.freeze_max_age)
        for qt in v.queue_tables:
            out.add("pgconsole_vacuum_dead_tuples", t, qt.n_dead_tup, relation=qt.relname)
            out.add("pgconsole_vacuum_live_tuples", t, qt.n_live_tup, relation=qt.relname)
            out.add("pgconsole_vacuum_since_seconds", t, qt.since_vacuum_s, relation=qt.relname)
    if "pgbouncer" in snap.collectors:
        out.add("pgconsole_pgbouncer_up", t, int(snap.pgbouncer is not None))
    if snap.pgbouncer is not None:
        for p in snap.pgbouncer.pools:
            lb = {"database": p.database, "user": p.user}
            out.add("pgconsole_pgbouncer_clients_active", t, p.cl_active, **lb)
            out.add("pgconsole_pgbouncer_clients_waiting", t, p.cl_waiting, **lb)
            out.add("pgconsole_pgbouncer_servers_active", t, p.sv_active, **lb)
            out.add("pgconsole_pgbouncer_servers_idle", t, p.sv_idle, **lb)
            out.add("pgconsole_pgbouncer_maxwait_seconds", t, p.maxwait_s, **lb)
            ms = {"avg_query": p.avg_query_ms, "avg_transaction": p.avg_xact_ms}
            for key, value in ms.items():
                out.add(
                    f"pgconsole_pgbouncer_{key}_seconds", t, None if value is None else value / 1000.0, **lb
                )

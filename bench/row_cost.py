"""Server CPU per job of a claim and a completion: the bare loop's row vs pgconsole's, piece by piece.

    .venv/bin/python -m bench.row_cost                 # embedded PostgreSQL 18 in a temp dir
    .venv/bin/python -m bench.row_cost --dsn URI       # a superuser DSN of a scratch server on this machine

Why: on two cores the worker and the server share the CPU, so what the server spends per job
bounds the worker's rate at every batch size; a throughput run cannot say which part of
pgconsole's row costs what. This reads the backend's own CPU (user + system from
/proc/<pid>/stat, so the server must run on this machine) over a drain of ``--jobs`` pending
jobs at ``--batch``, one connection, prepared statements, sides alternating, ``--repeat`` times:

* ``bare``: the bare loop's claim and finish (bench/peers.py) on its 9-column table;
* ``call``: ``pgconsole.complete_and_claim_jobs``, the worker's one call per batch;
* ``copy``: claim_jobs_lean's UPDATE and complete_jobs' UPDATE as plain SQL on a copy of
  ``pgconsole.jobs`` (same columns, CHECK constraints and indexes, no triggers);
* ``no-checks``, ``claim-indexes`` (primary key, pending-claim and processing indexes only),
  ``bigint-id``: the copy without one of its costs; ``lean``: without all three;
* ``split``, ``split-bigint``: issue 19's structural option sketched, a narrow table of pending
  and processing jobs (the claim's columns, its two partial indexes, one CHECK) and a table of
  finished ones; the claim is the same UPDATE, the completion moves the row (DELETE … RETURNING
  into an INSERT). Uuid keys, or bigint identities.
* ``split-full``: the same split with ``pgconsole.jobs``'s whole row: both tables have all its
  columns and CHECK constraints, the live one the indexes over active jobs (LIVE_INDEXES), the
  finished one those over the history (DONE_INDEXES); what the structural option would cost
  as built, not as sketched.

Reported: backend CPU in microseconds per job, median (min–max), and its ratio to ``bare``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import psycopg
from psycopg import sql

from bench import peers, pgc
from bench.common import chosen_sides, print_cost_table, scratch_database

TICKS = os.sysconf("SC_CLK_TCK")

# side -> (drop the CHECK constraints, keep only the claim's indexes, bigint id)
COPIES: dict[str, tuple[bool, bool, bool]] = {
    "copy": (False, False, False),
    "no-checks": (True, False, False),
    "claim-indexes": (False, True, False),
    "bigint-id": (False, False, True),
    "lean": (True, True, True),
}
SPLITS = {"split": "uuid", "split-bigint": "bigint"}
SIDES = ["bare", "call", *COPIES, *SPLITS, "split-full"]
CLAIM_INDEXES = {"jobs_pkey", "jobs_pending_claim_idx", "jobs_processing_idx"}
# split-full: pgconsole.jobs's indexes by the rows they serve (a user's listing serves both).
LIVE_INDEXES = CLAIM_INDEXES | {
    "jobs_dedupe_active_idx",
    "jobs_user_active_idx",
    "jobs_pending_expiry_idx",
    "jobs_user_created_idx",
}
DONE_INDEXES = {
    "jobs_pkey",
    "jobs_finished_idx",
    "jobs_failed_idx",
    "jobs_dedupe_recent_idx",
    "jobs_user_created_idx",
    "jobs_user_result_idx",
}
FULL_LIVE = 'row_cost."split-full"'
FULL_DONE = 'row_cost."split-full-done"'

CLAIM = """UPDATE {t} j SET status = 'processing', attempt = j.attempt + 1, locked_by = 'w',
         started_at = now(), heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => 300),
         updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
   WHERE j.id = ANY (ARRAY(SELECT c.id FROM {t} c WHERE c.status = 'pending' AND c.scheduled_at <= now()
           AND (c.expires_at IS NULL OR c.expires_at > now())
         ORDER BY c.priority DESC, c.scheduled_at LIMIT %s FOR UPDATE SKIP LOCKED)) AND j.status = 'pending'
  RETURNING j.id, j.attempt, j.job_type, j.payload, j.priority, j.retry_count, j.max_retries, j.user_id,
            j.tenant_id, j.lease_expires_at"""
COMPLETE = """UPDATE {t} j SET status = 'completed', completed_at = now(), updated_at = now(), result = NULL,
       progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
  FROM unnest(%s::{idt}[], %s::int[]) AS u(i, a)
 WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = 'w'"""
CALL = "SELECT id, attempt FROM pgconsole.complete_and_claim_jobs('w', %s::uuid[], %s::int[], NULL, %s, 300)"
BARE_CLAIM = peers.BARE_CLAIM
BARE_FINISH = peers.BARE_FINISH

# The split sides' two tables (schema row_cost_<key type>): live jobs narrow, finished ones apart.
SPLIT_DDL = """
DROP SCHEMA IF EXISTS {s} CASCADE;
CREATE SCHEMA {s};
CREATE TABLE {s}.live (
  id {key} PRIMARY KEY,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing')),
  job_type text NOT NULL, payload jsonb NOT NULL DEFAULT '{{}}', priority smallint NOT NULL DEFAULT 0,
  scheduled_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz, tenant_id text, user_id text,
  attempt int NOT NULL DEFAULT 0, retry_count int NOT NULL DEFAULT 0, max_retries int NOT NULL DEFAULT 3,
  locked_by text, started_at timestamptz, heartbeat_at timestamptz, lease_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON {s}.live (priority DESC, scheduled_at, job_type) WHERE status = 'pending';
CREATE INDEX ON {s}.live (job_type, locked_by) WHERE status = 'processing';
CREATE TABLE {s}.done (
  id {idt} PRIMARY KEY, status text NOT NULL, job_type text NOT NULL, payload jsonb NOT NULL,
  priority smallint NOT NULL, attempt int NOT NULL, retry_count int NOT NULL, max_retries int NOT NULL,
  user_id text, tenant_id text, locked_by text, result jsonb, scheduled_at timestamptz NOT NULL,
  started_at timestamptz, created_at timestamptz NOT NULL, completed_at timestamptz NOT NULL);
CREATE INDEX ON {s}.done (completed_at);
"""
SPLIT_KEYS = {
    "uuid": "uuid DEFAULT pgconsole.uuid_generate_v7()",
    "bigint": "bigint GENERATED ALWAYS AS IDENTITY",
}
SPLIT_CLAIM = """UPDATE {s}.live j SET status = 'processing', attempt = j.attempt + 1, locked_by = 'w',
         started_at = now(), heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => 300)
   WHERE j.id = ANY (ARRAY(SELECT c.id FROM {s}.live c WHERE c.status = 'pending' AND c.scheduled_at <= now()
           AND (c.expires_at IS NULL OR c.expires_at > now())
         ORDER BY c.priority DESC, c.scheduled_at LIMIT %s FOR UPDATE SKIP LOCKED)) AND j.status = 'pending'
  RETURNING j.id, j.attempt, j.job_type, j.payload, j.priority, j.retry_count, j.max_retries, j.user_id,
            j.tenant_id, j.lease_expires_at"""
SPLIT_COMPLETE = """WITH d AS (
  DELETE FROM {s}.live j USING unnest(%s::{idt}[], %s::int[]) AS u(i, a)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = 'w' RETURNING j.*)
INSERT INTO {s}.done (id, status, job_type, payload, priority, attempt, retry_count, max_retries, user_id,
                      tenant_id, locked_by, result, scheduled_at, started_at, created_at, completed_at)
SELECT id, 'completed', job_type, payload, priority, attempt, retry_count, max_retries, user_id, tenant_id,
       locked_by, NULL, scheduled_at, started_at, created_at, now() FROM d"""


def split_sql(template: str, side: str) -> sql.Composed:
    """``template`` for a split side: {s} its schema, {key} its key column, {idt} its key type."""
    idt = SPLITS[side]
    return sql.SQL(template).format(
        s=sql.Identifier(f"row_cost_{idt}"), key=sql.SQL(SPLIT_KEYS[idt]), idt=sql.SQL(idt)
    )


def make_split(conn: psycopg.Connection[Any], side: str) -> None:
    conn.execute(split_sql(SPLIT_DDL, side))


# The completion moves the row: every column of pgconsole.jobs, in its order, as complete_jobs sets it.
FULL_COMPLETE = """WITH d AS (
  DELETE FROM {live} j USING unnest(%s::uuid[], %s::int[]) AS u(i, a)
   WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = 'w' RETURNING j.*)
INSERT INTO {done}
SELECT id, job_type, 'completed', priority, payload, NULL, error_message, error_code, retry_count, max_retries,
       attempt, 100, progress_message, user_id, tenant_id, scheduled_at, started_at, now(), created_at, now(),
       locked_by, heartbeat_at, NULL, dedupe_key, expires_at, NULL FROM d"""


def make_split_full(conn: psycopg.Connection[Any]) -> None:
    """The two tables of split-full, made from pgconsole.jobs's catalog."""
    for name, keep in ((FULL_LIVE, LIVE_INDEXES), (FULL_DONE, DONE_INDEXES)):
        t = sql.SQL(name)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE pgconsole.jobs INCLUDING DEFAULTS INCLUDING STORAGE)").format(t)
        )
        _copy_checks_and_indexes(conn, t, keep)


def _copy_checks_and_indexes(
    conn: psycopg.Connection[Any], t: sql.Composable, keep: set[str] | None, *, checks: bool = True
) -> None:
    """pgconsole.jobs's reloptions, CHECK constraints (unless not ``checks``) and the indexes in
    ``keep`` (None: all) onto ``t``."""
    row = conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'pgconsole.jobs'::regclass").fetchone()
    for opt in (row[0] if row else None) or []:
        key, _, value = opt.partition("=")
        conn.execute(sql.SQL("ALTER TABLE {} SET ({} = {})").format(t, sql.SQL(key), sql.Literal(value)))
    for (definition,) in conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'pgconsole.jobs'::regclass AND contype = 'c' AND %s",
        (checks,),
    ).fetchall():
        conn.execute(sql.SQL("ALTER TABLE {} ADD {}").format(t, sql.SQL(definition)))
    for name, definition in conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'pgconsole.jobs'::regclass"
    ).fetchall():
        if keep is not None and name not in keep:
            continue
        _, _, rest = definition.partition(" ON pgconsole.jobs ")
        unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
        conn.execute(sql.SQL(f"CREATE {unique}INDEX ON {{}} {rest}").format(t))  # noqa: S608 - catalog text


def backend_cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - one read
    return (int(fields[11]) + int(fields[12])) / TICKS


def make_copy(conn: psycopg.Connection[Any], side: str) -> None:
    """A copy of pgconsole.jobs in schema row_cost, without what COPIES says to leave out."""
    no_checks, claim_only, bigint = COPIES[side]
    t = sql.Identifier("row_cost", side)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t))
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE pgconsole.jobs INCLUDING DEFAULTS INCLUDING STORAGE)").format(t)
    )
    if bigint:
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ALTER COLUMN id DROP DEFAULT, ALTER COLUMN id TYPE bigint USING 0,"
                " ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY"
            ).format(t)
        )
    _copy_checks_and_indexes(conn, t, CLAIM_INDEXES if claim_only else None, checks=not no_checks)


def fill(conn: psycopg.Connection[Any], side: str, jobs: int) -> None:
    """``jobs`` pending no-op jobs shaped as client.enqueue writes them (expiry set)."""
    if side == "bare":
        conn.execute("TRUNCATE bare.jobs RESTART IDENTITY")
        conn.execute(
            "INSERT INTO bare.jobs (payload) SELECT jsonb_build_object('i', g) FROM generate_series(1, %s) g",
            (jobs,),
        )
        conn.execute("VACUUM ANALYZE bare.jobs")
    elif side in SPLITS:
        conn.execute(split_sql("TRUNCATE {s}.live, {s}.done", side))
        conn.execute(
            split_sql(
                "INSERT INTO {s}.live (job_type, payload, expires_at) SELECT 'noop',"
                " jsonb_build_object('i', g), now() + interval '1 day' FROM generate_series(1, %s) g",
                side,
            ),
            (jobs,),
        )
        conn.execute(split_sql("VACUUM ANALYZE {s}.live", side))
    else:
        t = sql.Identifier("pgconsole", "jobs") if side == "call" else sql.Identifier("row_cost", side)
        conn.execute(sql.SQL("TRUNCATE {}").format(t))
        if side == "split-full":
            conn.execute(f"TRUNCATE {FULL_DONE}")
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (job_type, payload, expires_at) SELECT 'noop', jsonb_build_object('i', g),"
                " now() + interval '1 day' FROM generate_series(1, %s) g"
            ).format(t),
            (jobs,),
        )
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(t))
    conn.execute("CHECKPOINT")


def drain(conn: psycopg.Connection[Any], side: str, batch: int) -> int:
    """Claim and complete until the side's queue is empty; the jobs handled."""
    n = 0
    if side == "bare":
        while rows := conn.execute(BARE_CLAIM, ("w", batch)).fetchall():
            conn.execute(BARE_FINISH, ([r[0] for r in rows],))
            n += len(rows)
        return n
    if side == "call":
        ids: list[Any] = []
        attempts: list[int] = []
        while True:
            rows = [r for r in conn.execute(CALL, (ids, attempts, batch)).fetchall() if r[0] is not None]
            if not rows and not ids:
                return n
            ids, attempts = [r[0] for r in rows], [r[1] for r in rows]
            n += len(rows)
    if side in SPLITS:
        split_claim, split_complete = split_sql(SPLIT_CLAIM, side), split_sql(SPLIT_COMPLETE, side)
        while rows := conn.execute(split_claim, (batch,)).fetchall():
            conn.execute(split_complete, ([r[0] for r in rows], [r[1] for r in rows]))
            n += len(rows)
        return n
    t = f'row_cost."{side}"'  # a name from COPIES, or split-full's live table
    claim = CLAIM.format(t=t)
    if side == "split-full":
        complete = FULL_COMPLETE.format(live=FULL_LIVE, done=FULL_DONE)
    else:
        complete = COMPLETE.format(t=t, idt="bigint" if COPIES[side][2] else "uuid")
    while rows := conn.execute(claim, (batch,)).fetchall():  # type: ignore[call-overload]
        conn.execute(complete, ([r[0] for r in rows], [r[1] for r in rows]))  # type: ignore[call-overload]
        n += len(rows)
    return n


def measure_side(dsn: str, side: str, jobs: int, batch: int) -> float:
    """Backend CPU microseconds per job of one drain."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        fill(admin, side, jobs)
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
        pid = conn.info.backend_pid
        before = backend_cpu_s(pid)
        n = drain(conn, side, batch)
        after = backend_cpu_s(pid)
    if n != jobs:
        raise RuntimeError(f"{side}: drained {n} of {jobs} jobs")
    return (after - before) / n * 1e6


def measure(dsn: str, sides: list[str], jobs: int, batch: int, repeat: int) -> dict[str, list[float]]:
    pgc.install_schema(dsn)
    peers.bare_setup(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS row_cost")
        for side in sides:
            if side in COPIES:
                make_copy(conn, side)
            elif side in SPLITS:
                make_split(conn, side)
            elif side == "split-full":
                make_split_full(conn)
    res: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(repeat):
        for side in sides if r % 2 == 0 else sides[::-1]:
            res[side].append(measure_side(dsn, side, jobs, batch))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dsn", help="superuser DSN of a scratch server on this machine (default: embedded 18)")
    ap.add_argument("--jobs", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sides", default=",".join(SIDES), help=f"comma-separated, from {','.join(SIDES)}")
    args = ap.parse_args()
    sides = chosen_sides(ap, args.sides, SIDES)
    with scratch_database(args.dsn, "bench_row_cost") as (dsn, server):
        res = measure(dsn, sides, args.jobs, args.batch, args.repeat)
    print_cost_table(res, "bare", f"{server}, batch {args.batch}: backend CPU per job")


if __name__ == "__main__":
    main()

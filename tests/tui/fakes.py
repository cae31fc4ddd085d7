"""Fixed view models for rendering tests and snapshots (no server, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pgconsole.checks.result import Status
from pgconsole.monitor.pgbouncer import PgBouncerPool, PgBouncerStats
from pgconsole.queue.models import ActionRow, Job, LogEntry
from pgconsole.tui.models import (
    ActionPreview,
    ActionReport,
    ActionTarget,
    ActivityData,
    BackendRow,
    CheckResult,
    FailureGroup,
    Finding,
    HeaderInfo,
    JobDetail,
    JobPage,
    JobQuery,
    JobRow,
    MigrationRow,
    OverviewData,
    PoolsData,
    QueueTypeRow,
    SchemaData,
    StatementRow,
    StatementsData,
    StuckJob,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HOSTILE = "[bold red]x[/] [/] \x1b[31mred\x1b[0m bell\x07 end"


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


JOBS = [
    JobRow(
        id=f"0195f000-0000-7000-8000-00000000000{i}",
        job_type=t,
        status=s,
        priority=p,
        retry_count=rc,
        max_retries=3,
        created_at=ago(60 * (i + 1)),
        scheduled_at=ago(30 * (i + 1)),
        updated_at=ago(10 * i),
        error_message=e,
    )
    for i, (t, s, p, rc, e) in enumerate(
        [
            ("email.send", "failed", 0, 3, "SMTP 451 temporary failure: mailbox busy"),
            ("report.build", "processing", 5, 0, None),
            ("image.resize", "pending", 0, 0, None),
            ("webhook.deliver", "failed", 10, 3, HOSTILE),
            ("email.send", "completed", 0, 1, None),
            ("billing.charge", "cancelled", 0, 0, None),
        ]
    )
]


class FakeSource:
    def __init__(self, *, read_only: bool = False, pgbouncer: bool = False) -> None:
        self.read_only = read_only
        self.with_pgbouncer = pgbouncer
        self.actions: list[tuple[str, ActionTarget]] = []

    async def header(self) -> HeaderInfo:
        return HeaderInfo(
            target="pgconsole_operator@db.example:5432/app",
            server_version="18.1",
            role="pgconsole_operator",
            read_only=self.read_only,
            read_only_reason="read-only mode (--read-only)" if self.read_only else "",
            can_signal_backend=not self.read_only,
            signal_reason="read-only mode (--read-only)" if self.read_only else "",
        )

    async def overview(self) -> OverviewData:
        return OverviewData(
            queue=[
                QueueTypeRow(
                    job_type="email.send",
                    pending=10_000,
                    pending_capped=True,
                    processing=8,
                    failed_1h=3,
                    oldest_due_age_s=95,
                    completed_per_min=420,
                ),
                QueueTypeRow(
                    job_type="report.build",
                    pending=12,
                    processing=2,
                    failed_1h=0,
                    oldest_due_age_s=4,
                    completed_per_min=6,
                ),
                QueueTypeRow(
                    job_type="webhook.deliver", pending=0, processing=1, failed_1h=7, completed_per_min=55
                ),
            ],
            count_method="pending, processing, failed 1h: exact via partial indexes (capped: pending 10k+)",
            completed_interval=14,
            failed_interval=1,
            connections_by_state={"active": 6, "idle": 12, "idle in transaction": 1},
            max_connections=100,
            cache_hit_interval=99.2,
            cache_hit_cumulative=98.7,
            tps=231.5,
            db_size_bytes=734_003_200,
            replication=[],
            oldest_xact_age_s=42,
            xmin_age=1200,
            checks=[
                CheckResult(name="connections", status=Status.OK, message="19 of 100 used"),
                CheckResult(
                    name="stuck_jobs", status=Status.WARNING, message="1 job stuck: worker session gone"
                ),
                CheckResult(
                    name="failed_jobs", status=Status.CRITICAL, message="7 webhook.deliver failures in 1h"
                ),
            ],
        )

    async def jobs_page(self, q: JobQuery, after: tuple[Any, str] | None) -> JobPage:
        rows = [r for r in JOBS if not q.statuses or r.status in q.statuses]
        return JobPage(rows=rows, has_more=False)

    async def job_detail(self, job_id: str) -> JobDetail | None:
        row = next((r for r in JOBS if r.id == job_id), JOBS[3])
        job = Job(
            **{
                **{k: v for k, v in row.model_dump().items() if k in Job.model_fields and v is not None},
                "payload": {"url": "https://example.test/hook", "note": HOSTILE},
                "result": None,
                "error_code": "E_HOOK",
                "attempt": 4,
                "started_at": ago(50),
                "completed_at": ago(20),
            }
        )

        def line(i: int, level: str, message: str) -> LogEntry:
            return LogEntry(
                id=i,
                job_id=job.id,
                level=level,
                message=message,
                metadata=None,
                actor="pgconsole_app",
                created_at=ago(50 if i == 1 else 20),
            )

        return JobDetail(job=job, logs=[line(1, "info", "attempt 4 started"), line(2, "error", HOSTILE)])

    async def health(self) -> list[CheckResult]:
        return (await self.overview()).checks

    async def workers(self) -> list[Any]:
        from pgconsole.queue.models import WorkerInfo

        return [
            WorkerInfo(
                worker_id="web-1-4242-ab12",
                host="web-1",
                pid=4242,
                role="pgconsole_worker",
                concurrency=4,
                batch=10,
                job_types=None,
                started_at=ago(3600),
                heartbeat_at=ago(5),
                held=1,
                completed=1200,
                failed=3,
                backend_pids=[9001, 9002],
                held_job_ids=[JOBS[1].id],
            )
        ]

    async def stuck_jobs(self) -> list[StuckJob]:
        return [
            StuckJob(
                id=JOBS[1].id,
                job_type="report.build",
                locked_by="w-7f3a",
                started_at=ago(900),
                heartbeat_at=ago(600),
                reason="worker_gone",
                attempt=1,
                lease_expires_at=ago(570),
            )
        ]

    async def failure_groups(self) -> list[FailureGroup]:
        return [
            FailureGroup(
                error="SMTP 451 temporary failure: mailbox busy",
                error_code=None,
                job_type="email.send",
                n=12,
                last_at=ago(40),
            ),
            FailureGroup(error=HOSTILE, error_code=None, job_type="webhook.deliver", n=7, last_at=ago(20)),
        ]

    async def statements(self, order: str, delta: bool) -> StatementsData:
        return StatementsData(
            delta=delta,
            order=order,
            rows=[  # type: ignore[arg-type]
                StatementRow(
                    queryid=1,
                    query="SELECT * FROM pgconsole.claim_jobs($1, $2, $3)",
                    calls=5400,
                    total_ms=812.4,
                    mean_ms=0.15,
                    rows=5400,
                    hit_percent=99.9,
                ),
                StatementRow(
                    queryid=2,
                    query="SELECT pg_sleep($1)",
                    calls=2,
                    total_ms=4003.0,
                    mean_ms=2001.5,
                    rows=2,
                    hit_percent=None,
                ),
                StatementRow(
                    queryid=3,
                    query="UPDATE accounts SET balance = balance - $1 WHERE id = $2",
                    calls=120,
                    total_ms=95.0,
                    mean_ms=0.79,
                    rows=120,
                    hit_percent=97.5,
                ),
            ],
        )

    async def explain(self, query: str, analyze: bool) -> str:
        return "Result  (cost=0.00..0.01 rows=1 width=4)"

    async def activity(self) -> ActivityData:
        return ActivityData(
            hidden_own=1,
            sessions=[
                BackendRow(
                    pid=4101,
                    application_name="pgconsole-worker:w-1",
                    usename="pgconsole_app",
                    state="active",
                    query_start=ago(2),
                    xact_start=ago(2),
                    query="SELECT * FROM pgconsole.claim_jobs($1, $2, $3)",
                    can_signal=True,
                ),
                BackendRow(
                    pid=4102,
                    application_name="billing",
                    usename="app",
                    state="idle in transaction",
                    xact_start=ago(75),
                    query_start=ago(70),
                    query="UPDATE accounts SET balance = 0 WHERE id = 1",
                    can_signal=False,
                    signal_reason="role pgconsole_operator may only signal sessions of roles whose "
                    "privileges it has (its own); to signal others: GRANT pg_signal_backend TO pgconsole_operator",
                ),
                BackendRow(
                    pid=4103,
                    application_name="billing",
                    usename="app",
                    state="active",
                    wait_event="Lock:tuple",
                    query_start=ago(30),
                    xact_start=ago(30),
                    blocked_by=[4102],
                    query="UPDATE accounts SET balance = 1 WHERE id = 1",
                ),
            ],
        )

    async def pgbouncer(self) -> PoolsData:
        if not self.with_pgbouncer:
            return PoolsData()
        return PoolsData(
            configured=True,
            stats=PgBouncerStats(
                version="PgBouncer 1.18.0",
                pools=[
                    PgBouncerPool(
                        database="app",
                        user="pgconsole_app",
                        pool_mode="transaction",
                        cl_active=9,
                        cl_waiting=5,
                        sv_active=3,
                        sv_idle=0,
                        sv_used=0,
                        maxwait_s=2.4,
                        avg_query_ms=1.8,
                        avg_xact_ms=4.2,
                    ),
                    PgBouncerPool(
                        database="app",
                        user="pgconsole_worker",
                        pool_mode="transaction",
                        cl_active=6,
                        sv_active=1,
                        sv_idle=2,
                        avg_query_ms=0.9,
                        avg_xact_ms=0.9,
                    ),
                    PgBouncerPool(
                        database="analytics_reporting_warehouse",
                        user="reporting_readonly_service",
                        pool_mode="session",
                        cl_active=2,
                        sv_active=2,
                        sv_idle=1,
                        avg_query_ms=1250.0,
                        avg_xact_ms=2600.0,
                    ),
                ],
            ),
        )

    async def schema(self) -> SchemaData:
        return SchemaData(
            migrations=[
                MigrationRow(version="1", name="meta", applied_at=ago(86400)),
                MigrationRow(version="2", name="job_queue", applied_at=ago(86400)),
                MigrationRow(version="3", name="operator_functions", pending=True),
            ],
            setup_ok=True,
            setup_message="2 applied, 1 pending",
            findings=[
                Finding(name="server_version", status="ok", message="PostgreSQL 18.1"),
                Finding(
                    name="pg_read_all_stats",
                    status="missing",
                    message="other roles' query text, waits and statements are hidden",
                    fix='GRANT pg_read_all_stats TO "pgconsole_operator";',
                ),
            ],
        )

    async def preview(self, kind: Any, target: ActionTarget) -> ActionPreview:
        n = len(target.ids or [])
        return ActionPreview(
            action=kind,
            target=target,
            matched=n,
            eligible=n,
            statement="SELECT * FROM pgconsole.retry_jobs(ARRAY[<ids>], 'pgconsole console')",
        )

    async def run_action(self, kind: Any, target: ActionTarget, progress: Any) -> ActionReport:
        self.actions.append((kind, target))
        n = len(target.ids or [])
        progress(n, n)
        rows = [
            ActionRow(id=i, job_type="x", old_status="failed", new_status="pending") for i in target.ids or []
        ]
        return ActionReport(action=kind, requested=n, rows=rows)

    async def signal_backend(self, pid: int, terminate: bool) -> str:
        return "signalled"

    async def apply_migrations(self) -> str:
        return "applied 3"

    async def maintenance(self, task: str) -> str:
        return f"{task}: 0 jobs"

    def close(self) -> None:
        pass

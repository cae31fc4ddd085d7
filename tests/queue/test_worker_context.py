"""The worker runtime in process: what a handler sees on JobContext and what each outcome stores.

JobContext is built once per claim row and makes ``id``, ``payload`` and ``job`` when first read;
these tests check every public field against the database's row, and every outcome kind."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import psycopg
import pytest

from pgconsole.queue import admin, client
from pgconsole.queue.models import ClaimedJob
from pgconsole.queue.worker import JobCancelled, JobContext, PermanentError, Worker, WorkerConfig


def _run(dsn: str, handler: Any, **kw: Any) -> Worker:
    w = Worker(WorkerConfig(dsn=dsn, handler=handler, burst=True, rescue_interval=0, poll_interval=0.1, **kw))
    w.run()
    return w


@pytest.mark.timeout(120)
@pytest.mark.parametrize("batch", [1, 3, 50])
def test_handler_sees_the_claimed_row(
    db: Any, app: psycopg.Connection[Any], su: psycopg.Connection[Any], batch: int
) -> None:
    payloads = [{"i": i, "s": "é\u2603", "nested": [1, {"x": None}]} for i in range(7)] + [
        [],
        "text",
        3,
        True,
        0.5,
    ]
    ids = [
        client.enqueue(
            app, "ctx", p, priority=i % 3, max_retries=5, user_id=f"u{i}", tenant_id="t" if i else None
        )
        for i, p in enumerate(payloads)
    ]
    seen: dict[UUID, dict[str, Any]] = {}

    def handler(ctx: JobContext) -> None:
        if ctx.attempt % 2:  # read the fields in either order: lazy fields must not depend on it
            job = ctx.job
            fields = {"id": ctx.id, "payload": ctx.payload}
        else:
            fields = {"id": ctx.id, "payload": ctx.payload}
            job = ctx.job
        assert isinstance(ctx.id, UUID) and ctx.id is job.id and ctx.payload is job.payload
        assert isinstance(job, ClaimedJob)
        fields.update(
            job_type=ctx.job_type,
            attempt=ctx.attempt,
            priority=ctx.priority,
            user_id=ctx.user_id,
            tenant_id=ctx.tenant_id,
            retry_count=ctx.retry_count,
            max_retries=ctx.max_retries,
            lease=job.lease_expires_at,
            cancel=ctx.cancel_requested,
            lost=ctx.lost,
            job=job,
        )
        seen[ctx.id] = fields

    w = _run(db.dsn_as("pgconsole_app"), handler, batch=batch)
    assert w.stats.completed == len(ids) and w.stats.claimed == len(ids)
    assert set(seen) == set(ids)
    for jid, payload in zip(ids, payloads, strict=True):
        row = su.execute(
            "SELECT job_type, priority, user_id, tenant_id, retry_count, max_retries, status"
            " FROM pgconsole.jobs WHERE id = %s",
            (jid,),
        ).fetchone()
        assert row is not None and row[6] == "completed"
        f = seen[jid]
        assert f["payload"] == payload
        assert (
            f["job_type"],
            f["priority"],
            f["user_id"],
            f["tenant_id"],
            f["retry_count"],
            f["max_retries"],
        ) == tuple(row[:6])
        assert f["attempt"] == 1 and f["cancel"] is False and f["lost"] is False
        assert f["lease"] is not None and f["lease"].tzinfo is not None
        job = f["job"]
        assert (
            job.id,
            job.job_type,
            job.payload,
            job.attempt,
            job.priority,
            job.retry_count,
            job.max_retries,
            job.user_id,
            job.tenant_id,
        ) == (jid, row[0], payload, 1, row[1], row[4], row[5], row[2], row[3])


@pytest.mark.timeout(120)
def test_outcomes_store_results_errors_and_codes(db: Any, app: psycopg.Connection[Any]) -> None:
    kinds = ["none", "dict", "list", "permanent", "bad_result", "stray_cancel", "value_error", "none", "dict"]
    ids = {client.enqueue(app, "out", {"k": k}, max_retries=0): k for k in kinds}

    def handler(ctx: JobContext) -> Any:
        k = ctx.payload["k"]
        if k == "dict":
            return {"id": str(ctx.id)}
        if k == "list":
            return [1, "two", None]
        if k == "permanent":
            raise PermanentError("no")
        if k == "bad_result":
            return {1, 2}
        if k == "stray_cancel":
            raise JobCancelled("by itself")
        if k == "value_error":
            raise ValueError("bad value")
        return None

    w = _run(db.dsn_as("pgconsole_app"), handler, batch=4, concurrency=2)
    assert (w.stats.completed, w.stats.failed, w.stats.fenced) == (5, 4, 0)
    for jid, k in ids.items():
        job = client.get_job(app, jid)
        if k == "none":
            assert (job.status, job.result) == ("completed", None)
        elif k == "dict":
            assert (job.status, job.result) == ("completed", {"id": str(jid)})
        elif k == "list":
            assert (job.status, job.result) == ("completed", [1, "two", None])
        elif k == "permanent":
            assert (job.status, job.error_code, job.error_message) == (
                "failed",
                "permanent",
                "PermanentError: no",
            )
        elif k == "bad_result":
            assert (job.status, job.error_code) == ("failed", "result_not_json")
            assert job.error_message is not None and job.error_message.startswith(
                "result: not JSON-serialisable"
            )
        elif k == "stray_cancel":
            assert (job.status, job.error_code) == ("failed", "cancelled")
        else:
            assert (job.status, job.error_code, job.error_message) == (
                "failed",
                "ValueError",
                "ValueError: bad value",
            )


@pytest.mark.timeout(120)
def test_cancel_request_reaches_a_running_handler(
    db: Any, app: psycopg.Connection[Any], operator: psycopg.Connection[Any]
) -> None:
    jid = client.enqueue(app, "c", {})
    seen: list[bool] = []

    def handler(ctx: JobContext) -> None:
        admin.cancel_jobs(operator, [ctx.id], reason="test")
        while not ctx.cancel_requested:  # the heartbeat (every 0.2 s here) delivers the request
            time.sleep(0.01)
        seen.append(ctx.cancel_requested)
        ctx.raise_if_cancelled()

    w = _run(db.dsn_as("pgconsole_app"), handler, heartbeat_interval=0.2)
    assert seen == [True] and w.stats.cancelled == 1
    assert client.get_job(app, jid).status == "cancelled"
    assert w.held_ids() == []

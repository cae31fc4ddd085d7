"""The synthetic workload behind `pgconsole demo`: every screen has something real within 30 s.

* producers: several job types at varying rates, a burst now and then, a priority mix, and some
  jobs scheduled into the future;
* workers (sessions named ``pgconsole-worker:demo-N``): realistic durations, about 10% failures with
  varied errors, webhooks with one retry so that retries exhaust into ``failed``;
* one stuck job: a worker subprocess claims a job and is SIGKILLed, leaving it ``processing`` with
  its session gone from pg_stat_activity;
* a slow query (pg_sleep) and a lock wait every so often, for the Queries and Activity screens.

Everything runs in daemon threads (plus the one doomed subprocess); :meth:`Workload.stop` ends it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pgconsole.db.connect import Purpose, connect

# job type -> (weight, min seconds, max seconds, failure rate, max_retries)
JOB_TYPES = {
    "email.send": (5, 0.05, 0.3, 0.08, 3),
    "image.resize": (3, 0.2, 0.8, 0.05, 3),
    "report.build": (1, 1.5, 4.0, 0.10, 2),
    "webhook.deliver": (3, 0.05, 0.5, 0.25, 1),
    "billing.sync": (1, 0.3, 1.2, 0.10, 3),
}
ERRORS = [
    ("SMTP 451 4.7.1 temporary failure: mailbox busy", "SMTP_TEMP"),
    ("ConnectionResetError: [Errno 104] Connection reset by peer", "NET_RESET"),
    ("HTTP 503 from https://hooks.example.test/v1/events", "HTTP_503"),
    ("TimeoutError: upstream did not answer within 5.0 s", "TIMEOUT"),
    ("KeyError: 'customer_id'", "BAD_PAYLOAD"),
    ("PIL.UnidentifiedImageError: cannot identify image file '/tmp/upload.bin'", "BAD_IMAGE"),
]

_DOOMED = r"""
import sys, time
from pgconsole.db.connect import Purpose, connect
from pgconsole.queue import client
conn = connect(sys.argv[1], Purpose.WORKER, app_suffix="demo-doomed")
jobs = client.claim(conn, "demo-doomed", 1, job_types=["video.transcode"], lease_seconds=20)
print("claimed" if jobs else "none", flush=True)
time.sleep(3600)
"""


class Workload:
    def __init__(self, dsn: str, *, workers: int = 3, seed: int | None = None) -> None:
        self.dsn = dsn
        self.workers = workers
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.doomed: subprocess.Popen[str] | None = None
        self.rng = random.Random(seed)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._prepare()
        targets: list[tuple[Any, tuple[Any, ...]]] = [
            (self._producer, ()),
            (self._chores, ()),
            (self._stuck_job, ()),
        ]
        targets += [(self._worker, (n,)) for n in range(self.workers)]
        for target, args in targets:
            t = threading.Thread(target=self._guard, args=(target, *args), daemon=True, name="pgconsole-demo")
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stop_event.set()
        if self.doomed is not None and self.doomed.poll() is None:
            self.doomed.kill()
        for t in self.threads:
            t.join(timeout=5)

    def _guard(self, target: Any, *args: Any) -> None:
        """Keep a demo thread alive across database hiccups (e.g. the server restarting)."""
        while not self.stop_event.is_set():
            try:
                target(*args)
                return
            except psycopg.Error:
                self.stop_event.wait(1.0)

    def _conn(self, purpose: Purpose = Purpose.APP, suffix: str | None = None) -> psycopg.Connection[Any]:
        return connect(self.dsn, purpose, app_suffix=suffix)

    def _prepare(self) -> None:
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS public.demo_accounts (id int PRIMARY KEY, balance int NOT NULL)"
            )
            conn.execute("INSERT INTO public.demo_accounts VALUES (1, 100), (2, 100) ON CONFLICT DO NOTHING")

    # -- producers ------------------------------------------------------------------------
    def _producer(self) -> None:
        from pgconsole.queue import client

        types = list(JOB_TYPES)
        weights = [JOB_TYPES[t][0] for t in types]
        tick = 0
        with self._conn() as conn:
            while not self.stop_event.is_set():
                tick += 1
                burst = tick % 60 == 0  # every ~30 s a burst of 60
                for _ in range(60 if burst else self.rng.randint(1, 4)):
                    jt = self.rng.choices(types, weights)[0]
                    scheduled = None
                    if self.rng.random() < 0.1:
                        scheduled = datetime.now(UTC) + timedelta(seconds=self.rng.randint(10, 120))
                    client.enqueue(
                        conn,
                        jt,
                        self._payload(jt),
                        priority=self.rng.choice([0, 0, 0, 5, 10, -5]),
                        max_retries=JOB_TYPES[jt][4],
                        scheduled_at=scheduled,
                    )
                self.stop_event.wait(self.rng.uniform(0.2, 0.8))

    def _payload(self, jt: str) -> dict[str, Any]:
        n = self.rng.randint(1, 99999)
        payloads: dict[str, dict[str, Any]] = {
            "email.send": {
                "to": f"user{n}@example.test",
                "template": self.rng.choice(["welcome", "invoice", "reset"]),
            },
            "image.resize": {"path": f"uploads/{n}.jpg", "sizes": [64, 256, 1024]},
            "report.build": {"report": "monthly", "tenant": f"t{n % 7}", "month": "2026-02"},
            "webhook.deliver": {
                "url": f"https://hooks.example.test/{n}",
                "event": "order.paid",
                "order_id": n,
            },
            "billing.sync": {"customer_id": n, "provider": "stripe"},
        }
        return payloads.get(jt, {"n": n})

    # -- workers --------------------------------------------------------------------------
    def _worker(self, n: int) -> None:
        from pgconsole.queue import client

        worker_id = f"demo-{n}"
        completed = failures = 0
        with self._conn(Purpose.WORKER, worker_id) as conn:
            # listed in the worker registry (the console's Workers mode), as a pgconsole worker is
            client.register_worker(
                conn,
                worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=1,
                batch=4,
                job_types=list(JOB_TYPES),
                heartbeat_seconds=5.0,
            )
            while not self.stop_event.is_set():
                jobs = client.claim(conn, worker_id, 4, job_types=list(JOB_TYPES), lease_seconds=60)
                client.worker_heartbeat(conn, worker_id, held=len(jobs), completed=completed, failed=failures)
                if not jobs:
                    self.stop_event.wait(0.3)
                    continue
                done, failed = [], []
                for job in jobs:
                    _, lo, hi, fail_rate, _ = JOB_TYPES.get(job.job_type, (1, 0.1, 0.3, 0.1, 3))
                    self.stop_event.wait(self.rng.uniform(lo, hi))
                    if self.rng.random() < fail_rate:
                        msg, code = self.rng.choice(ERRORS)
                        failed.append((job.id, job.attempt, msg, code, True))
                    else:
                        done.append((job.id, job.attempt, {"ok": True, "ms": self.rng.randint(5, 900)}))
                completed += len(client.complete(conn, worker_id, done))
                failures += len(client.fail(conn, worker_id, failed))
            client.unregister_worker(conn, worker_id)

    # -- the stuck job --------------------------------------------------------------------
    def _stuck_job(self) -> None:
        from pgconsole.queue import client

        with self._conn() as conn:
            client.enqueue(
                conn,
                "video.transcode",
                {"video": "uploads/intro.mp4", "note": "its worker will die"},
                priority=100,
            )
        self.doomed = subprocess.Popen(
            [sys.executable, "-c", _DOOMED, self.dsn],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.doomed.stdout is not None
        self.doomed.stdout.readline()  # "claimed": the job is processing under demo-doomed
        self.doomed.send_signal(signal.SIGKILL)  # no release, no fail: the lease is all that is left
        self.doomed.wait(timeout=10)

    # -- slow queries and lock waits -------------------------------------------------------
    def _chores(self) -> None:
        tick = 0
        with self._conn(Purpose.APP, None) as a, self._conn(Purpose.APP, None) as b:
            a.execute("SELECT set_config('application_name', 'billing-api', false)")
            b.execute("SELECT set_config('application_name', 'billing-batch', false)")
            while not self.stop_event.wait(1.0):
                tick += 1
                if tick % 8 == 0:
                    a.execute("SELECT pg_sleep(2.5), count(*) FROM pgconsole.jobs")  # a slow query
                if tick % 15 == 0:
                    self._lock_wait(a, b)

    def _lock_wait(self, a: psycopg.Connection[Any], b: psycopg.Connection[Any]) -> None:
        """``a`` holds a row lock for 4 s; ``b`` waits on it (and gives up after 3 s)."""
        a.autocommit = False
        a.execute("UPDATE public.demo_accounts SET balance = balance + 1 WHERE id = 1")

        def waiter() -> None:
            with contextlib.suppress(psycopg.Error):
                b.execute("SELECT set_config('lock_timeout', '3s', false)")
                b.execute("UPDATE public.demo_accounts SET balance = balance - 1 WHERE id = 1")

        t = threading.Thread(target=waiter, daemon=True)
        t.start()
        self.stop_event.wait(4.0)
        a.commit()
        a.autocommit = True
        t.join(timeout=5)

"""A real Procrastinate app for the systems tests: its own schema, its own worker (run as a
subprocess: ``python -m tests.systems.procrastinate_app DSN [worker|defer N ...]``).

The task ``flaky`` records every run in ``proc_runs`` and fails for odd numbers until
``proc_fixed`` holds a row: the operator's "fix", after which a retry succeeds."""

from __future__ import annotations

import os
import sys

import psycopg
from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.exceptions import JobAborted

DSN = os.environ.get("PROC_DSN", "")
app = App(connector=PsycopgConnector(conninfo=DSN))


@app.task(name="flaky", queue="default")
def flaky(n: int) -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("INSERT INTO proc_runs (n) VALUES (%s)", (n,))
        fixed = conn.execute("SELECT count(*) FROM proc_fixed").fetchone()[0]  # type: ignore[index]
    if n % 2 and not fixed:
        raise RuntimeError(f"flaky job {n} failed")


@app.task(name="slow", queue="default", pass_context=True)
def slow(context: JobContext, n: int) -> None:
    """Runs for up to a minute, watching Procrastinate's abort request; records -n when it saw it."""
    import time

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("INSERT INTO proc_runs (n) VALUES (%s)", (n,))
        for _ in range(600):
            if context.should_abort():
                conn.execute("INSERT INTO proc_runs (n) VALUES (%s)", (-n,))
                raise JobAborted()
            time.sleep(0.1)


def main() -> None:
    what = sys.argv[1]
    if what == "schema":
        with app.open():
            app.schema_manager.apply_schema()
    elif what == "worker":
        # wait=False: run every job that is due, then stop.
        app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)
    elif what == "defer":
        with app.open():
            for n in sys.argv[2:]:
                print(flaky.defer(n=int(n)))
    elif what == "defer-slow":
        with app.open():
            print(slow.defer(n=int(sys.argv[2])))
    elif what == "serve":
        app.run_worker(
            wait=True, install_signal_handlers=True, listen_notify=True, abort_job_polling_interval=0.5
        )


if __name__ == "__main__":
    main()

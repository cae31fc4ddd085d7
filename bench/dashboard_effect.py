"""The console's effect on a drain alone (no 10M history): ``dashboard.effect`` on a fresh database.

    .venv/bin/python -m bench.dashboard_effect     # embedded PostgreSQL 18; writes
                                                   # bench/results/after-window-cap-effect.json

250,000 jobs per drain, 2 pgconsole workers × batch 10, with and without the 1 s refresh loop,
3 repetitions in rotated order (the same function as the recorded run's §6 row, which ran on the
10M-row history database instead).
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from bench import dashboard, pgc
from bench.common import Env, embedded_server


def main() -> None:
    with embedded_server({"shared_preload_libraries": "pg_stat_statements"}) as (admin, _version):
        env = Env(admin_dsn=admin, repeat=3)
        dsn = env.fresh_database("bench_effect")
        pgc.setup(dsn)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        r = dashboard.effect(env, dsn, 250_000, 2, 10)
        out = Path(__file__).parent / "results" / "after-window-cap-effect.json"
        out.write_text(json.dumps(r, indent=1, default=str))
        print({k: v for k, v in r.items() if k != "runs"})


if __name__ == "__main__":
    main()

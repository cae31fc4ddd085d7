"""The console's effect on a drain alone, with an ablation: which part of the refresh costs.

    .venv/bin/python -m bench.dashboard_effect [--jobs N] [--repeat R] [--history N] [--only a,b]
                                               [--json PATH]

Drains of N jobs (default 250,000), 2 pgconsole workers × batch 10, rotated order, each variant
R times (default 3): no console; the Overview's full 1 s refresh; only the queue collector; every
collector but the queue one. ``--history N`` first loads N finished jobs (+100k pending of 8
other types, as the recorded run's history database has); default none (a fresh database).
``--only`` keeps a subset of the variants. ``--alternating`` measures instead with the console
switched on and off every 2 s inside each drain (:func:`bench.dashboard.alternating`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import psycopg

from bench import dashboard, pgc
from bench.common import Env, embedded_server
from bench.dataset import ensure_history

ALL_BUT_QUEUE = (
    "server",
    "connections",
    "database",
    "statements",
    "activity",
    "replication",
    "vacuum",
    "archiver",
    "notify",
    "migrations",
)
VARIANTS: dict[str, tuple[str, ...] | None] = {
    dashboard.WITH: None,
    "queue collector only": ("queue",),
    "all but queue": ALL_BUT_QUEUE,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.dashboard_effect")
    ap.add_argument("--jobs", type=int, default=250_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--history", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated variant names to keep")
    ap.add_argument(
        "--alternating",
        action="store_true",
        help="instead: the full refresh switched on/off every 2 s inside each drain",
    )
    ap.add_argument(
        "--json", default=str(Path(__file__).parent / "results" / "dashboard-effect-ablation.json")
    )
    a = ap.parse_args(argv)
    keep = [v.strip() for v in a.only.split(",") if v.strip()]
    variants = {k: v for k, v in VARIANTS.items() if not keep or k in keep}
    with embedded_server({"shared_preload_libraries": "pg_stat_statements"}) as (admin, version):
        env = Env(admin_dsn=admin, repeat=a.repeat)
        if a.history:
            dsn = ensure_history(env, a.history, 100_000)["dsn"]
        else:
            dsn = env.fresh_database("bench_effect")
            pgc.setup(dsn)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if a.alternating:
            r = dashboard.alternating(env, dsn, a.jobs, 2, 10)
        else:
            r = dashboard.effect(env, dsn, a.jobs, 2, 10, variants)
        r["server_version"], r["history"] = version, a.history
        Path(a.json).write_text(json.dumps(r, indent=1, default=str))
        print({k: v for k, v in r.items() if k != "runs"})


if __name__ == "__main__":
    main()

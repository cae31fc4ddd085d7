"""Q-check: ``pgconsole --check`` whole-process wall time vs check_postgres on the same server.

check_postgres runs one action per process, so its side is the six closest actions run one after
another (connection, backends, hitratio, query_time, txn_idle, locks) and its time is the sum.
Both sides run alternately, ``samples`` times each (10 for the recorded run), against the
history database (10M finished jobs unless the run says otherwise). A third side, the same
interpreter doing nothing but ``import psycopg``, runs in the same rotation: the floor under any
psycopg-based check process on this machine, so the < 0.5 s goal can be read against it.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.common import Env, Skipped, ratio, spread
from bench.dataset import ensure_history

CHECK_POSTGRES_ACTIONS: list[tuple[str, list[str]]] = [
    ("connection", []),
    ("backends", []),
    ("hitratio", ["--warning=90%", "--critical=80%"]),
    ("query_time", ["--warning=30s", "--critical=60s"]),
    ("txn_idle", ["--warning=30s", "--critical=60s"]),
    ("locks", []),
]


def pgconsole_cmd(dsn: str) -> list[str]:
    exe = Path(sys.executable).with_name("pgconsole")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "pgconsole"]
    return [*base, "--check", "--dsn", dsn, "--format", "nagios"]


def check_postgres_cmds(dsn: str) -> list[list[str]]:
    exe = shutil.which("check_postgres") or shutil.which("check_postgres.pl")
    if not exe:
        raise Skipped("check_postgres is not installed (apt-get install check-postgres)")
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    conn = [
        f"--host={p.get('host', '127.0.0.1')}",
        f"--port={p.get('port', 5432)}",
        f"--dbuser={p.get('user', 'postgres')}",
        f"--dbname={p.get('dbname', 'postgres')}",
    ]
    return [[exe, f"--action={a}", *conn, *extra] for a, extra in CHECK_POSTGRES_ACTIONS]


def timed(
    cmd: list[str], env_vars: dict[str, str] | None = None, timeout: float = 60
) -> tuple[float, int, str]:
    import os

    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env_vars or {})}
    )
    return time.perf_counter() - t0, proc.returncode, (proc.stdout + proc.stderr).strip()[:400]


def _compile_package() -> str:
    """Write pgconsole's bytecode before timing, as `pip install` does for a regular install.

    An editable install under PYTHONDONTWRITEBYTECODE=1 (this sandbox sets it) would otherwise
    compile every pgconsole module from source on each run, which no installed copy does; the
    installed dependencies (psycopg, pydantic) already have theirs from pip.
    """
    import compileall

    import pgconsole

    root = Path(pgconsole.__file__).parent
    ok = compileall.compile_dir(str(root), quiet=1)
    return f"compileall {root}: {'ok' if ok else 'FAILED'}"


def run(
    env: Env, finished: int | None = None, pending: int | None = None, samples: int | None = None
) -> dict[str, Any]:
    finished = finished if finished is not None else (100_000 if env.quick else 10_000_000)
    pending = pending if pending is not None else (1_000 if env.quick else 100_000)
    samples = samples or (3 if env.quick else 10)
    cp_cmds = check_postgres_cmds(env.admin_dsn)
    hist = ensure_history(env, finished, pending)
    dsn = hist["dsn"]
    cp_cmds = check_postgres_cmds(dsn)
    pw = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
    cp_env = {"PGPASSWORD": str(pw)} if pw else {}
    pgc_cmd = pgconsole_cmd(dsn)
    compiled = _compile_package()
    # warm-up (both sides once, unrecorded): first process start reads Python/Perl from disk
    pgc_warm = timed(pgc_cmd)
    pgc_output = pgc_warm[2]
    for c in cp_cmds:
        timed(c, cp_env)
    if "not built" in pgc_warm[2] or pgc_warm[1] not in (0, 1, 2, 3):
        pgc_missing = f"`pgconsole --check` did not run: exit {pgc_warm[1]}: {pgc_warm[2][:200]}"
    else:
        pgc_missing = ""
    floor_cmd = [sys.executable, "-c", "import psycopg"]
    timed(floor_cmd)
    floor_times: list[float] = []
    pgc_times: list[float] = []
    cp_times: list[float] = []
    pgc_codes: list[int] = []
    cp_codes: list[list[int]] = []
    cp_out: list[str] = []
    for i in range(samples):
        order = ["pgc", "floor", "cp"] if i % 2 == 0 else ["cp", "floor", "pgc"]
        for side in order:
            if side == "floor":
                floor_times.append(timed(floor_cmd)[0])
            elif side == "pgc" and not pgc_missing:
                t, code, out = timed(pgc_cmd)
                pgc_times.append(t)
                pgc_codes.append(code)
            elif side == "cp":
                total = 0.0
                codes = []
                for c in cp_cmds:
                    t, code, out = timed(c, cp_env)
                    total += t
                    codes.append(code)
                    if i == 0:
                        cp_out.append(out.splitlines()[0] if out else "")
                cp_times.append(total)
                cp_codes.append(codes)
    pgc_med = statistics.median(pgc_times) if pgc_times else None
    cp_med = statistics.median(cp_times) if cp_times else None
    header = ["side", "what runs", "wall s median (min–max)", "samples"]
    from bench.report import fspread

    rows = [
        [
            "pgconsole --check",
            "all default checks, one process",
            fspread(spread(pgc_times), 3) if pgc_times else "not measured",
            str(len(pgc_times)),
        ],
        [
            "check_postgres",
            "6 processes: " + ", ".join(a for a, _ in CHECK_POSTGRES_ACTIONS),
            fspread(spread(cp_times), 3),
            str(len(cp_times)),
        ],
        [
            "import floor",
            "`python -c 'import psycopg'` (same interpreter, no pgconsole, no server)",
            fspread(spread(floor_times), 3),
            str(len(floor_times)),
        ],
        [
            "ratio",
            "check_postgres / pgconsole (higher = pgconsole faster)",
            f"{ratio(cp_med, pgc_med):.2f}×" if pgc_med and cp_med else "—",
            "",
        ],
    ]
    return {
        "history": hist,
        "pgconsole_cmd": " ".join(pgc_cmd),
        "check_postgres_cmds": [" ".join(c) for c in cp_cmds],
        "pgconsole_seconds": spread(pgc_times),
        "check_postgres_seconds": spread(cp_times),
        "import_psycopg_seconds": spread(floor_times),
        "pgconsole_exit_codes": pgc_codes,
        "check_postgres_exit_codes": cp_codes,
        "check_postgres_first_lines": cp_out,
        "pgconsole_missing": pgc_missing or None,
        "bytecode": compiled,
        "pgconsole_output": pgc_output,
        "ratio_check_postgres_to_pgconsole": ratio(cp_med, pgc_med),
        "goal": "pgconsole faster than check_postgres for the whole set and < 0.5 s",
        "table_header": header,
        "table": rows,
        "skipped": {"pgconsole": pgc_missing} if pgc_missing else {},
    }

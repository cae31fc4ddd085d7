"""The real Node job libraries (pg-boss, graphile-worker) from npm, installed once per package.json
into a cache directory, and their own scripts (node/*.mjs) run as subprocesses."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "node"
SCRIPTS = ("pgboss.mjs", "graphile.mjs")
MIN_NODE = 20  # tested on 20; the libraries declare 22, and run here on 20


def node_binaries() -> tuple[str, str] | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    return (node, npm) if node and npm else None


def cache_root() -> Path:
    return Path(os.environ.get("PGCONSOLE_TEST_NPM_CACHE", Path.home() / ".cache/pgconsole-tests/npm"))


def install() -> Path:
    """The directory holding node_modules with the pinned versions of package.json, installed from
    the npm registry the first time (a lock keeps two test processes from installing at once)."""
    found = node_binaries()
    if found is None:
        raise RuntimeError("node and npm are needed (apt-get install nodejs npm; .ci/run does)")
    major = int(
        subprocess.run([found[0], "--version"], capture_output=True, text=True, check=True)
        .stdout[1:]
        .split(".")[0]
    )
    if major < MIN_NODE:
        # pg-boss 12 and graphile-worker 0.18 need a current Node; Debian 12's own nodejs is 18.
        raise RuntimeError(
            f"node {major} is too old for pg-boss 12 and graphile-worker 0.18 (need >= {MIN_NODE})"
        )
    manifest = (HERE / "package.json").read_bytes()
    target = cache_root() / hashlib.sha256(manifest).hexdigest()[:16]
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = target / ".installed"
        if not done.exists():
            (target / "package.json").write_bytes(manifest)
            subprocess.run(
                [found[1], "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target,
                check=True,
                timeout=600,
                capture_output=True,
            )
            done.write_text("ok\n")
    # The scripts are copied beside node_modules so `import 'pg-boss'` resolves there.
    for script in SCRIPTS:
        shutil.copyfile(HERE / script, target / script)
    return target


def node_dsn(dsn: str) -> str:
    """A libpq DSN (URI or key=value) as the URI node-postgres takes."""
    from urllib.parse import quote, urlencode

    from psycopg.conninfo import conninfo_to_dict

    d = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    auth = quote(d.pop("user", ""), safe="")
    if "password" in d:
        auth += ":" + quote(d.pop("password"), safe="")
    host = d.pop("host", "localhost")
    port = d.pop("port", "5432")
    db = quote(d.pop("dbname", ""), safe="")
    query = "?" + urlencode(d) if d else ""
    return f"postgresql://{auth}@{host}:{port}/{db}{query}"


def installed_version(libs: Path, package: str) -> str:
    return str(json.loads((libs / "node_modules" / package / "package.json").read_text())["version"])


def run_script(libs: Path, script: str, dsn: str, command: str, arg: dict[str, Any]) -> dict[str, Any]:
    """Run one short command of a script (setup, send) to its end; its last stdout line as JSON."""
    done = subprocess.run(
        ["node", script, node_dsn(dsn), command, json.dumps(arg)],
        cwd=libs,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"node {script} {command} exited {done.returncode}: {done.stderr[-2000:]}")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


class NodeWorker:
    """A library's own worker running in a Node process; every handler call it prints is kept."""

    def __init__(self, libs: Path, script: str, dsn: str, arg: dict[str, Any]) -> None:
        self.calls: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            ["node", script, node_dsn(dsn), "work", json.dumps(arg)],
            cwd=libs,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        if not self._ready.wait(60):
            self.stop()
            raise RuntimeError(f"{script} worker did not start: {''.join(self.stderr)[-2000:]}")

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            if row.get("ready"):
                self._ready.set()
            else:
                self.calls.append(row)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def ran(self, job_id: object) -> list[dict[str, Any]]:
        return [c for c in self.calls if str(c["id"]) == str(job_id)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)

"""`pgconsole exporter` as a real process: serves, stops cleanly on SIGTERM, loads no Textual."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from tests.checks.helpers import ROOT
from tests.exporter.helpers import get, value
from tests.exporter.prom import free_port

if TYPE_CHECKING:
    from tests.pgcluster import TestDB


def test_exporter_process_serves_and_stops_on_sigterm(db: TestDB) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCONSOLE_")}
    env["PGCONSOLE_CONFIG"] = os.devnull
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgconsole",
            "exporter",
            "--listen",
            f"127.0.0.1:{port}",
            "--dsn",
            db.dsn_as("pgconsole_readonly"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            try:
                _, text = get(f"http://127.0.0.1:{port}/metrics")
                break
            except OSError:
                time.sleep(0.2)
        target = f"pgconsole_readonly@127.0.0.1:{db.cluster.info.port}/{db.name}"  # no profile: the password-free target
        assert value(text, "pgconsole_up", target=target) == 1.0, text[:500]
        assert "pw-" not in text  # no password anywhere in the exposition
        assert get(f"http://127.0.0.1:{port}/nothing")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "serving http://127.0.0.1" in err and "pw-" not in err


def test_exporter_loads_no_textual() -> None:
    code = (
        "import sys, pgconsole.exporter.server, pgconsole.commands.exporter; print('textual' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.strip() == "False"

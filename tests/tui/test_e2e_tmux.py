"""End to end in a real terminal: `pgconsole` in tmux against the test server, keys sent with
send-keys, the screen read with capture-pane, the result checked in the database."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.terminal import TMUX, Tmux
from tests.tui.dbseed import add_job, statuses

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed: the real-terminal test needs it")


def test_retry_a_failed_job_in_a_real_terminal(db18: Any, tmp_path: Path) -> None:
    with db18.admin() as conn:
        add_job(conn, "email.send", "completed", age=100)
        job = add_job(conn, "email.send", "failed", error="SMTP 451 mailbox busy", retries=3, age=50)
    exe = str(Path(sys.executable).with_name("pgconsole"))
    exit_file = tmp_path / "exit"
    cmd = f"{exe} --dsn '{db18.dsn_as('pgconsole_operator')}' --refresh 1; echo $? > {exit_file}; sleep 30"
    tmux = Tmux()
    try:
        tmux.run("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", "140", "-y", "40", cmd)
        tmux.run("set-option", "-g", "window-size", "manual")
        tmux.run("resize-window", "-t", "e2e", "-x", "140", "-y", "40")
        tmux.wait_for("Queue by job type")
        tmux.keys("2")
        tmux.wait_for("Failures by error")
        tmux.keys("f")  # only failed jobs
        tmux.wait_for("status=failed")
        tmux.wait_for("SMTP 451")  # the error column, truncated to the terminal width
        tmux.keys("r")
        confirm = tmux.wait_for("Retry 1 job(s)?")
        assert "pgconsole.retry_jobs" in confirm, confirm
        tmux.keys("y")
        tmux.wait_for("retry: 1 of 1 changed")
        tmux.keys("Enter")
        deadline = time.monotonic() + 10
        while "1 of 1 changed" in tmux.screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        tmux.keys("q")
        deadline = time.monotonic() + 15
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.exists(), f"pgconsole did not exit on q; screen:\n{tmux.screen()}"
        assert exit_file.read_text().strip() == "0"
    finally:
        tmux.run("kill-server")
    with db18.admin() as conn:
        assert statuses(conn, [job])[job] == "pending"
        actor = conn.execute(
            "SELECT actor FROM pgconsole.job_log WHERE job_id = %s AND level = 'audit'", (job,)
        ).fetchone()
        assert actor is not None and actor[0] == "pgconsole_operator"

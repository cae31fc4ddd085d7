"""The README's demo command, verbatim, on a fresh copy of the tree with a fresh home of mode 700,
in a real 80x24 terminal (the SSH default): it must open the Overview with job types in it.

As root (containers, CI) the server runs as another OS user, which cannot enter a home of mode
700; the demo must still work without flags."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.foundation.helpers import REPO
from tests.foundation.test_readme import commands
from tests.terminal import TMUX, Tmux

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed: the real-terminal test needs it")


def _fresh_copy(dest: Path) -> None:
    """What a clone of this checkout would hold: tracked and new (not ignored) files, no venv."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())


def _job_type_rows(screen: str) -> list[str]:
    """Rows of the Overview's queue table: a demo job type (word.word) followed by counts."""
    return re.findall(r"│\s+([a-z]+\.[a-z]+)\s+\d+\s+\d+", screen)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_readme_demo_command_verbatim_in_a_fresh_home_at_80x24(tmp_path: Path) -> None:
    demo = next(c for c in commands() if c.startswith("python3 -m venv .venv") and "'.[demo]'" in c)
    tree = tmp_path / "clone"
    _fresh_copy(tree)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    os.chmod(home, 0o700)
    exit_file = tmp_path / "exit"
    env = f"env -u PGCONSOLE_DSN -u DATABASE_URL HOME={shlex.quote(str(home))} PGCONSOLE_CONFIG=/dev/null"
    cmd = f"cd {shlex.quote(str(tree))} && {env} sh -c {shlex.quote(demo)}; echo $? > {exit_file}; sleep 60"
    tmux = Tmux()
    try:
        tmux.start(cmd, 80, 24)
        shown = tmux.wait_for("Queue by job type", timeout=300)
        assert "Permission denied" not in shown
        # The demo's workload enqueues several job types (email.send, image.resize, ...); at 80x24
        # the queue table must still show them as rows.
        deadline = time.monotonic() + 60
        while len(_job_type_rows(shown)) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            shown = tmux.screen()
        assert len(_job_type_rows(shown)) >= 3, shown
        tmux.keys("q")
        deadline = time.monotonic() + 60
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exit_file.exists(), f"the demo did not exit on q; screen:\n{tmux.screen()}"
        assert exit_file.read_text().strip() == "0", tmux.screen()
    finally:
        tmux.run("kill-server")

"""A real terminal for end-to-end tests: tmux on a private socket, keys with send-keys, the screen
with capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

TMUX = shutil.which("tmux")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"pgc-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        assert TMUX is not None
        return subprocess.run(
            [TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        ).stdout

    def start(self, command: str, width: int, height: int) -> None:
        """A detached session of exactly width x height running ``command`` through the shell."""
        self.run(
            "-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", str(width), "-y", str(height), command
        )
        self.run("set-option", "-g", "window-size", "manual")
        self.run("resize-window", "-t", "e2e", "-x", str(width), "-y", str(height))

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "e2e")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            last = shown if shown.strip() else last
            time.sleep(0.1)
        # The session may have ended (its command failed): the last screen that showed anything.
        state = "running" if self.alive() else "ended"
        raise AssertionError(f"{text!r} never appeared (session {state}); last screen:\n{last}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def alive(self) -> bool:
        assert TMUX is not None
        return (
            subprocess.run(
                [TMUX, "-L", self.socket, "has-session", "-t", "e2e"], capture_output=True
            ).returncode
            == 0
        )

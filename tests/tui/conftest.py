"""TUI test helpers: a pinned clock and no cursor blink (snapshots must not depend on time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Input

from pgconsole.tui import text
from tests.tui.fakes import NOW


@pytest.fixture(autouse=True)
def _steady(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(text, "clock", lambda: NOW)
    monkeypatch.setattr(Input, "_toggle_cursor", lambda _self: None, raising=False)
    yield

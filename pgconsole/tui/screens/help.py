"""``?``: every binding of the app and of each screen, with its keys as a user types them and what it does."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

# Keys whose glyph (⏎, ⌫) or control character would read worse than the key's name.
_NAMES = {
    "enter": "enter",
    "backspace": "backspace",
    "escape": "esc",
    "tab": "tab",
    "space": "space",
    "delete": "del",
}


def key_label(keys: str) -> str:
    """``question_mark`` -> ``?``, ``plus,equals_sign`` -> ``+ / =``, ``ctrl+p`` stays ``ctrl+p``."""
    from textual.keys import format_key

    return " / ".join(_NAMES.get(k, format_key(k)) for k in (k.strip() for k in keys.split(",")) if k)


def all_bindings() -> list[tuple[str, Binding]]:
    from pgconsole.tui.app import PgConsoleApp
    from pgconsole.tui.screens.job_detail import JobDetailScreen
    from pgconsole.tui.screens.modals import ConfirmScreen, EditPayloadScreen

    out: list[tuple[str, Binding]] = []
    sources: list[tuple[str, Any]] = [("global", PgConsoleApp)]
    sources += [(name, cls) for name, cls in PgConsoleApp.MODES.items() if isinstance(cls, type)]
    sources += [
        ("job detail", JobDetailScreen),
        ("confirm", ConfirmScreen),
        ("payload editor", EditPayloadScreen),
    ]
    for where, cls in sources:
        for b in cls.BINDINGS:
            if isinstance(b, Binding):
                out.append((where, b))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide help"):
            yield Label(
                Text("Keys — ctrl+p opens the command palette with every action", style="bold"),
                classes="dialog-title",
            )
            table: DataTable[Text] = DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("where", "key", "action")
            for where, b in all_bindings():
                table.add_row(Text(where), Text(key_label(b.key)), Text(b.description or b.action))
            yield table

    def action_close(self) -> None:
        self.dismiss(None)

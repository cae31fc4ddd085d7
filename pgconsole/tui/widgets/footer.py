"""The key bar, fitted to the width: at 80 columns a screen's own keys (the actions) come first,
and the global mode keys 1..N fold into one ``1-N Modes`` entry instead of running off the edge
under the command-palette key."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PALETTE_WIDTH = 12  # "▏^p Palette" and its border


def key_width(k: FooterKey) -> int:
    """Cells one compact key takes, its right margin included."""
    return len(k.key_display) + (1 + len(k.description) if k.description else 0) + 1


class PgFooter(Footer):
    def __init__(self, **kw: Any) -> None:
        super().__init__(compact=True, **kw)
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        width = self.size.width or self.app.size.width
        room = width - PALETTE_WIDTH
        self._fitted_width = width
        if sum(key_width(k) for k in keys) <= room:
            yield from widgets
            return
        modes = [k for k in keys if k.action.startswith("switch_mode")]
        if modes:
            fold = FooterKey(
                modes[0].key,
                f"{modes[0].key_display}-{modes[-1].key_display}",
                "Modes",
                modes[0].action,
                tooltip="switch mode (help lists them)",
            ).data_bind(compact=Footer.compact)
            first = widgets.index(modes[0])
            widgets = [w for w in widgets if w not in modes]
            widgets.insert(first, fold)
        # Still too wide: the last keys go (help, ? and the palette, lists every binding).
        keys = [w for w in widgets if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        used = sum(key_width(k) for k in keys)
        for k in reversed(keys):
            if used <= room:
                break
            if k.key in ("question_mark", "q"):
                continue
            widgets.remove(k)
            used -= key_width(k)
        yield from widgets

    def on_resize(self, event: Resize) -> None:
        if self._fitted_width and event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)

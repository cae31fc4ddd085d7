"""docs/metrics.md lists every series the exporter can emit, with its type and labels."""

from __future__ import annotations

from pathlib import Path

from pgconsole.exporter.metrics import SERIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_series_is_documented_with_its_type_and_labels() -> None:
    text = DOC.read_text()
    for name, (kind, _doc, labels) in SERIES.items():
        shown = name + ("_total" if kind == "counter" else "")
        row = next((line for line in text.splitlines() if line.startswith(f"| `{shown}` |")), None)
        assert row is not None, f"{shown} is not in docs/metrics.md"
        assert f"| {kind} |" in row and f"| {', '.join(('target', *labels))} |" in row, row

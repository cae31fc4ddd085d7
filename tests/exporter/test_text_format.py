"""The exporter's text is what prometheus_client's ``generate_latest`` writes for the same metric
families, byte for byte: every series of SERIES, label values that need escaping, numbers that
need Go's float formatting, several targets in one family."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from pgconsole.exporter.metrics import SERIES, _Families

AWKWARD = ["plain", 'quo"te', "back\\slash", "new\nline", "ünïcödé ✓", "", "a,b=c}{"]
VALUES = [
    0,
    1,
    -3,
    999_999,
    1_000_000,
    -(10**15) + 1,
    2.5,
    1e-9,
    123456789012345,
    1.5e21,
    math.inf,
    -math.inf,
    math.nan,
]


def _reference(adds: list[tuple[str, str, float, dict[str, str]]]) -> bytes:
    fams: dict[str, Metric] = {}
    for name, target, value, labels in adds:
        kind, doc, names = SERIES[name]
        if name not in fams:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            fams[name] = cls(name, doc, labels=("target", *names))
        fams[name].add_metric([target, *[labels.get(n) or "" for n in names]], float(value))  # type: ignore[attr-defined]

    class Static:
        def collect(self) -> list[Metric]:
            return list(fams.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Static())  # type: ignore[arg-type]
    return generate_latest(registry)


def test_every_series_is_written_as_generate_latest_writes_it() -> None:
    adds: list[tuple[str, str, float, dict[str, str]]] = []
    for i, (name, (_kind, _doc, names)) in enumerate(SERIES.items()):
        for j, target in enumerate(("prod", 'stag"ing\\2')):
            labels = {n: AWKWARD[(i + j + k) % len(AWKWARD)] for k, n in enumerate(names)}
            adds.append((name, target, VALUES[(i + j) % len(VALUES)], labels))
    out = _Families()
    for name, target, value, labels in adds:
        out.add(name, target, value, **labels)
    text = out.text()
    assert text.encode() == _reference(adds)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert len(parsed) == len(SERIES)
    sample = parsed["pgconsole_queue_jobs"].samples[0]
    assert set(sample.labels) == {"target", "system", "job_type", "state"}


def test_a_missing_value_writes_no_sample_and_a_missing_label_is_empty() -> None:
    out = _Families()
    out.add("pgconsole_up", "a", None)
    out.add("pgconsole_queue_stuck_jobs", "a", 2, system=None)
    assert out.text() == (
        "# HELP pgconsole_queue_stuck_jobs jobs stuck in processing (lease expired, worker gone, over budget)\n"
        "# TYPE pgconsole_queue_stuck_jobs gauge\n"
        'pgconsole_queue_stuck_jobs{system="",target="a"} 2.0\n'
    )

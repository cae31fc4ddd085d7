"""Helpers for the exporter tests: a config with profiles, the exporter in-process, HTTP reads."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pgconsole.config import load_settings
from pgconsole.exporter.server import Exporter
from pgconsole.exporter.target import Target


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def write_config(path: Path, profiles: dict[str, dict[str, Any]], extra: str = "") -> Path:
    lines = [extra] if extra else []
    for name, values in profiles.items():
        lines.append(f"[profiles.{name}]")
        for k, v in values.items():
            lines.append(f"{k} = {toml_str(v) if isinstance(v, str) else v}")
    path.write_text("\n".join(lines) + "\n")
    return path


def start_exporter(config: Path, profiles: list[str]) -> Exporter:
    targets = [Target.from_settings(load_settings({}, config_path=str(config), profile=p)) for p in profiles]
    exp = Exporter("127.0.0.1:0", targets)
    exp.start()
    return exp


def get(url: str, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples of one series from the text format: labels -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[frozenset[tuple[str, str]], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name:
                out[frozenset(s.labels.items())] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    for key, v in samples(text, name).items():
        if set(labels.items()) <= set(key):
            return v
    return None

"""Threshold values as people write them: ``30s``, ``5min``, ``1h``, ``90%``, ``1GB``, plain numbers.

Each check declares the kind of its thresholds; a value is parsed to the check's base unit
(seconds, percent 0-100, bytes, or a count). Overrides come from the config file
(``[thresholds.NAME] warn = "..." crit = "..."``) and from ``--set NAME.warn=V`` (the latter wins).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping


class ThresholdError(ValueError):
    """A threshold that cannot be parsed or names an unknown check/key; the message is one line."""


class Kind(enum.StrEnum):
    DURATION = "duration"
    PERCENT = "percent"
    BYTES = "bytes"
    COUNT = "count"


_DURATION_UNITS = {
    "": 1.0,
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1024,
    "k": 1024,
    "mb": 1024**2,
    "m": 1024**2,
    "gb": 1024**3,
    "g": 1024**3,
    "tb": 1024**4,
    "t": 1024**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_NUMBER_UNIT = re.compile(r"^\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[a-zA-Z%]*)\s*$")


def parse_value(value: str | float | int, kind: Kind) -> float:
    """Parse one threshold value into the base unit of ``kind``."""
    if isinstance(value, bool):
        raise ThresholdError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        m = _NUMBER_UNIT.match(value)
        if not m:
            raise ThresholdError(f"cannot parse {value!r} as a {kind.value}")
        number, unit = float(m["num"]), m["unit"].lower()
    if number < 0:
        raise ThresholdError(f"negative threshold {value!r}")
    if kind is Kind.DURATION:
        if unit not in _DURATION_UNITS:
            raise ThresholdError(f"unknown duration unit in {value!r} (use s, min, h or plain seconds)")
        return number * _DURATION_UNITS[unit]
    if kind is Kind.PERCENT:
        if unit not in ("", "%"):
            raise ThresholdError(f"a percentage is written 90% or 90, not {value!r}")
        return number
    if kind is Kind.BYTES:
        if unit not in _SIZE_UNITS:
            raise ThresholdError(f"unknown size unit in {value!r} (use B, kB, MB, GB, TB)")
        return number * _SIZE_UNITS[unit]
    if unit:
        raise ThresholdError(f"a count is a plain number, not {value!r}")
    return number


class Thresholds:
    """The resolved warn/crit (base units) and extra numeric parameters of one check."""

    def __init__(
        self, warn: float | None, crit: float | None, params: Mapping[str, float] | None = None
    ) -> None:
        self.warn = warn
        self.crit = crit
        self.params = dict(params or {})

    def __repr__(self) -> str:
        return f"Thresholds(warn={self.warn}, crit={self.crit}, params={self.params})"


def parse_set_options(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["cache_hit.warn=95%", ...]`` -> ``{"cache_hit": {"warn": "95%"}}`` (names checked later)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        name_key, sep, value = item.partition("=")
        name, dot, key = name_key.strip().partition(".")
        if not sep or not dot or not name or not key or not value.strip():
            raise ThresholdError(f"--set {item!r}: expected NAME.warn=VALUE or NAME.crit=VALUE")
        out.setdefault(name, {})[key.strip()] = value.strip()
    return out

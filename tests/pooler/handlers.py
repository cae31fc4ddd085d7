"""Handlers for the worker processes of the pooler tests."""

from __future__ import annotations

import time
from typing import Any


def quick(job: Any) -> None:
    """A short job (2 ms), so several are in flight while clients share the pool."""
    time.sleep(0.002)


def noop(job: Any) -> None:
    return None


def slow(job: Any) -> None:
    """Longer than several times worker_gone_grace_seconds as the liveness test sets it."""
    time.sleep(4.0)

"""(being written)"""

from __future__ import annotations

from typing import Any

from bench.common import Env, Skipped


def run(env: Env) -> dict[str, Any]:
    raise Skipped("not written yet")

"""`pgconsole worker` (owned by the queue issue)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    sub.add_parser("worker", help="(not built yet)")


def run(args: argparse.Namespace, settings: Any) -> int:
    from pgconsole.commands.common import fail

    return fail("`pgconsole worker` is not built yet")

"""`pgconsole` with no subcommand: the dashboard (owned by the TUI issue)."""

from __future__ import annotations

import argparse
from typing import Any


def run(args: argparse.Namespace, settings: Any) -> int:
    from pgconsole.commands.common import fail

    return fail("the dashboard is not built yet; try `pgconsole --check` or `pgconsole migrate --status`")

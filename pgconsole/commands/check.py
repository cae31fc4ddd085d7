"""`pgconsole --check`: headless health checks (owned by the checks issue)."""

from __future__ import annotations

import argparse
from typing import Any


def add_top_level_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("headless check")
    g.add_argument("--check", action="store_true", help="run the health checks and exit 0/1/2/3")
    g.add_argument("--format", choices=("text", "json", "nagios"), default="text", help="--check output format")
    g.add_argument("--only", metavar="NAME,...", help="run only these checks")
    g.add_argument("--timeout", type=float, metavar="S", help="--check time limit in seconds (default 10)")
    g.add_argument("--set", action="append", default=[], metavar="NAME.warn=V", help="override a threshold")


def run(args: argparse.Namespace, settings: Any) -> int:
    print("UNKNOWN: checks are not implemented yet")
    return 3

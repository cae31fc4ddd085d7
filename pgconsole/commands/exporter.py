"""`pgconsole exporter --listen HOST:PORT [--profile NAME ...]`: Prometheus metrics and /health.

One target per ``--profile`` (the connection flags and environment when none); each scrape reads
every target concurrently, each within its own ``timeout``. Runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "exporter",
        help="serve /metrics (Prometheus) and /health for one or more targets",
        description="Serve the snapshot, the checks and the queue as Prometheus metrics on /metrics "
        "and the --check JSON on /health (503 when CRITICAL or UNKNOWN). Each --profile is one "
        "target, named by its profile in the `target` label. Series: docs/metrics.md.",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:9187",
        metavar="HOST:PORT",
        help="address to serve on (default 127.0.0.1:9187; :PORT for every address)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        default=argparse.SUPPRESS,
        help="per-target scrape limit in seconds (default: the target's timeout setting, 10)",
    )
    p.add_argument(
        "--slow-every",
        type=_seconds,
        metavar="S",
        default=60.0,
        help="read the slow-moving figures (vacuum and wraparound, archiver, migrations, database "
        "size, finished-job estimates, whether another queue system is installed) again once they "
        "are S seconds old (0 to 60, default 60; 0: at every scrape)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 <= value <= 60:  # the database size and the estimates are read at least every 60 s
        raise argparse.ArgumentTypeError(f"expected 0 to 60 seconds, got {text}")
    return value


def run(args: argparse.Namespace, targets_settings: list[Any]) -> int:
    from pgconsole.exporter.server import Exporter
    from pgconsole.exporter.target import Target

    targets = [Target.from_settings(s, args.slow_every) for s in targets_settings]
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        print("pgconsole: exporter: two targets with the same name", file=sys.stderr)
        return 64
    try:
        exporter = Exporter(args.listen, targets)
    except ValueError as exc:
        print(f"pgconsole: {exc}", file=sys.stderr)
        return 64
    except OSError as exc:
        print(f"pgconsole: exporter: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"pgconsole exporter: serving http://{args.listen.rsplit(':', 1)[0] or '0.0.0.0'}:{exporter.port}/metrics "
        f"for {', '.join(names)}",
        file=sys.stderr,
        flush=True,
    )
    try:
        exporter.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        exporter.httpd.server_close()
        for t in targets:
            t.close()
    return 0

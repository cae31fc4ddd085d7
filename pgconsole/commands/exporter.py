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


def run(args: argparse.Namespace, targets_settings: list[Any]) -> int:
    from pgconsole.exporter.server import Exporter
    from pgconsole.exporter.target import Target

    targets = [Target.from_settings(s) for s in targets_settings]
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

"""The exporter's HTTP server: ``/metrics`` (Prometheus text format) and ``/health`` (--check JSON).

Each request scrapes every target concurrently (``target.scrape_all``), so what Prometheus
stores is read at its scrape time, with no cache of ours in between. ``/health`` answers 200
with the ``--check --format json`` object (one target) or an object with each target's (several),
and 503 when any target is CRITICAL or UNKNOWN.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.process_collector import ProcessCollector

from pgconsole.checks.output import to_json_obj
from pgconsole.checks.result import Status, overall_status
from pgconsole.exporter.metrics import families
from pgconsole.exporter.target import DaemonPool, ScrapeResult, Target, scrape_all, scrape_pool


class _ScrapeCollector:
    """A prometheus_client collector whose ``collect`` is one scrape of every target."""

    def __init__(self, targets: list[Target], pool: DaemonPool) -> None:
        self.targets = targets
        self.pool = pool
        self.by_name = {t.name: t for t in targets}

    def collect(self) -> Iterable[Metric]:
        return families(scrape_all(self.targets, self.pool), self.by_name)


def health_body(scrapes: list[ScrapeResult], targets: list[Target]) -> tuple[int, dict[str, Any]]:
    by_name = {t.name: t for t in targets}
    objs = []
    worst = Status.OK
    for r in scrapes:
        status = overall_status(r.results)
        worst = max(worst, status, key=lambda s: s.severity)
        t = by_name.get(r.target)
        objs.append(
            {"profile": r.target, **to_json_obj(r.results, r.duration_s, t.description if t else r.target)}
        )
    code = 503 if worst in (Status.CRITICAL, Status.UNKNOWN) else 200
    if len(objs) == 1:
        return code, objs[0]
    return code, {"status": worst.name, "exit_code": int(worst), "targets": objs}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per scrape on stderr is noise; Prometheus records the scrapes


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_ThreadingServer):
    address_family = socket.AF_INET6


def make_app(targets: list[Target], pool: DaemonPool | None = None) -> Callable[..., Any]:
    pool = pool or scrape_pool(targets)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ScrapeCollector(targets, pool))  # type: ignore[arg-type]
    ProcessCollector(namespace="pgconsole_exporter", registry=registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            body = generate_latest(registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        if path == "/health":
            code, obj = health_body(scrape_all(targets, pool), targets)
            start_response(
                "200 OK" if code == 200 else "503 Service Unavailable",
                [("Content-Type", "application/json")],
            )
            return [json.dumps(obj, indent=2, default=str).encode()]
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [
                b'<html><body><a href="/metrics">/metrics</a> <a href="/health">/health</a></body></html>'
            ]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics or /health\n"]

    return app


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT`` or ``:PORT`` (every address); ValueError in one line."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class Exporter:
    """The running server (``serve_forever`` in the caller's thread, or ``start`` in a thread)."""

    def __init__(self, listen: str, targets: list[Target]) -> None:
        host, port = parse_listen(listen)
        server_class = _Server6 if ":" in host else _ThreadingServer
        self.targets = targets
        self.pool = scrape_pool(targets)
        self.httpd = make_server(
            host, port, make_app(targets, self.pool), server_class, handler_class=_QuietHandler
        )
        self.port = self.httpd.server_port
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self.targets:
            t.close()

"""The exporter's HTTP server: ``/metrics`` (Prometheus text format) and ``/health`` (--check JSON).

Each request scrapes every target concurrently (``target.scrape_all``), so what Prometheus
stores is read at its scrape time, with no cache of ours in between. ``/health`` answers 200
with the ``--check --format json`` object (one target) or an object with each target's (several),
and 503 when any target is CRITICAL or UNKNOWN.

http.server's threading server, HTTP/1.1 with keep-alive (Prometheus keeps its connection to a
target between scrapes); not wsgiref on top of it, whose layer costs CPU at every scrape for
nothing the exporter uses (docs/BENCHMARKS.md §9).
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from pgconsole.checks.output import to_json_obj
from pgconsole.checks.result import Status, overall_status
from pgconsole.exporter.metrics import metrics_text
from pgconsole.exporter.target import DaemonPool, ScrapeResult, Target, scrape_all, scrape_pool

IDLE_TIMEOUT_S = 120.0  # a kept-alive connection with no request for this long is closed
INDEX = b'<html><body><a href="/metrics">/metrics</a> <a href="/health">/health</a></body></html>'


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


class Responder:
    """What each path answers: (HTTP status, content type, body)."""

    def __init__(self, targets: list[Target], pool: DaemonPool | None = None) -> None:
        self.targets = targets
        self.pool = pool or scrape_pool(targets)
        self.by_name = {t.name: t for t in targets}
        self.process = CollectorRegistry(auto_describe=False)
        ProcessCollector(namespace="pgconsole_exporter", registry=self.process)

    def metrics(self) -> bytes:
        text = metrics_text(scrape_all(self.targets, self.pool), self.by_name)
        return text.encode() + generate_latest(self.process)

    def respond(self, path: str) -> tuple[int, str, bytes]:
        path = path.split("?", 1)[0]
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, self.metrics()
        if path == "/health":
            code, obj = health_body(scrape_all(self.targets, self.pool), self.targets)
            return code, "application/json", json.dumps(obj, indent=2, default=str).encode()
        if path == "/":
            return 200, "text/html; charset=utf-8", INDEX
        return 404, "text/plain", b"not found: /metrics or /health\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    # The headers and the body are two writes: with Nagle's algorithm on a kept-alive connection the
    # body waits for the client's delayed ACK of the headers at every scrape (docs/BENCHMARKS.md §9).
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        code, content_type, body = self.server.responder.respond(self.path)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per scrape on stderr is noise; Prometheus records the scrapes


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], responder: Responder) -> None:
        self.responder = responder
        super().__init__(address, _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


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
        server_class = _Server6 if ":" in host else _Server
        self.targets = targets
        self.pool = scrape_pool(targets)
        self.httpd = server_class((host, port), Responder(targets, self.pool))
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

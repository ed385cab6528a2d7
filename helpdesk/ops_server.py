"""`/healthz` and `/metrics` of a process that has no web server of its own (the idle sweeper).

`OpsServer` serves both from the standard library's threading HTTP server in a daemon thread:

- `GET /healthz`: the process's `helpdesk.health` checks, 200 or 503 with the JSON report;
- `GET /metrics`: `helpdesk.metrics.render()` to callers `helpdesk.metrics.scrape_allowed`
  lets in (this machine, or the bearer `HELPDESK_METRICS_TOKEN`), 403 to others;
- anything else: 404.

Requests are not logged (a scrape every 15 s would bury the process's own lines).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from helpdesk import metrics
from helpdesk.health import DEFAULT_TIMEOUT, Check, run_checks

logger = logging.getLogger(__name__)


class OpsServer:
    """`/healthz` and `/metrics` on `host:port`, served from a daemon thread.

    Args:
        host: The address to listen on (loopback unless Prometheus scrapes from elsewhere).
        port: The port; 0 picks a free one (see `port` after `start`).
        checks: What `/healthz` checks.
        metrics_token: The bearer token that lets other machines read `/metrics` ("": none).
        timeout: Seconds the health checks may take.
    """

    def __init__(
        self,
        host: str,
        port: int,
        checks: Sequence[Check],
        *,
        metrics_token: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, not {port}")
        self.host = host
        self.port = port
        self.checks = tuple(checks)
        self.metrics_token = metrics_token
        self.timeout = timeout
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. "http://127.0.0.1:5070"."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> OpsServer:
        """Bind and serve in a daemon thread.

        Raises:
            OSError: When the address cannot be bound (e.g. the port is taken).
        """
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.2,), name="ops-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OpsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(ops: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "helpdesk-ops"
        sys_version = ""

        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                report = run_checks(ops.checks, ops.timeout)
                self._send(report.http_status, "application/json", report.as_dict())
            elif path == "/metrics":
                if metrics.scrape_allowed(self.client_address[0], self.headers, ops.metrics_token):
                    self._send(200, metrics.CONTENT_TYPE, metrics.render())
                else:
                    self._send(403, "application/json", {"error": "forbidden"})
            else:
                self._send(404, "application/json", {"error": "not_found"})

        def _send(self, status: int, content_type: str, body: Any) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # the base signature
            logger.debug("ops request: " + format, *args)

    return Handler

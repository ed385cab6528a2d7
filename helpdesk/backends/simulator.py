"""The backend simulator over HTTP (`helpdesk backend serve`).

`make_server` puts a `BackendSimulator` (`helpdesk.backends.simulator_logic`: every path of
`docs/backend-api.yaml`, answered from fixtures; what it does beyond the spec's own words is
said there) behind a standard-library `ThreadingHTTPServer`; `serve` runs that server until
SIGTERM or SIGINT.

Behaviour of the HTTP layer:

- One log line per request: method, path (its first `LOGGED_PATH_CHARS` characters), status
  and duration; bodies are never logged.
- Malformed input is a 4xx, never a crash: a chunked body or a `Content-Length` out of range
  is 422, a body shorter than its `Content-Length` is 408 once the connection's timeout
  passes, a request the HTTP parser rejects gets an `Error` body (malformed bodies are
  `helpdesk.backends.simulator_protocol.parse_body`'s).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, cast
from urllib.parse import urlsplit

from helpdesk.backends.fixtures import Fixtures
from helpdesk.backends.simulator_logic import BackendSimulator
from helpdesk.backends.simulator_protocol import Reply, error_reply

__all__ = [
    "BackendSimulator",
    "SimulatorRequestHandler",
    "SimulatorServer",
    "make_server",
    "serve",
]

logger = logging.getLogger(__name__)

#: Largest request body read, in bytes; every valid body is far smaller.
MAX_BODY_BYTES = 64 * 1024
#: How much of a request path a log line holds.
LOGGED_PATH_CHARS = 120


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that answers with a `BackendSimulator`.

    Attributes:
        simulator: The logic and state behind the server.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: BackendSimulator) -> None:
        self.simulator = simulator
        self.stopping = threading.Event()
        super().__init__(address, SimulatorRequestHandler)

    @property
    def url(self) -> str:
        """The base URL of the API, e.g. "http://127.0.0.1:8081"."""
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def shutdown(self) -> None:
        """Stop serving; answers waiting for a `slow` delay are sent at once."""
        self.stopping.set()
        super().shutdown()


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    """Reads one HTTP request, asks the simulator, writes its reply and logs one line."""

    protocol_version = "HTTP/1.1"
    server_version = "HelpdeskBackendSimulator/1.0"
    sys_version = ""
    #: Seconds an idle keep-alive connection is kept open.
    timeout = 30
    #: Headers and body are two writes: without this, Nagle's algorithm delays keep-alive answers.
    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> Any:
        # The base class calls `do_<METHOD>`: every method is dispatched, so that a method the
        # path does not allow (PUT, QUERY, ...) is a 405, not the base class's 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        started = time.perf_counter()
        server = cast(SimulatorServer, self.server)
        path = urlsplit(self.path).path
        body, problem = self._read_body()
        if problem is not None:
            reply = problem
        else:
            reply = server.simulator.handle(
                self.command, path, body, api_key=self.headers.get("X-API-Key")
            )
        if reply.delay > 0:
            server.stopping.wait(reply.delay)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Logged before the answer is written, so the line exists once the client has it.
        logger.info(
            "%s %s %d %.1f ms",
            self.command,
            path[:LOGGED_PATH_CHARS] + ("..." if len(path) > LOGGED_PATH_CHARS else ""),
            reply.status,
            elapsed_ms,
        )
        self._write(reply)

    def _read_body(self) -> tuple[bytes, Reply | None]:
        """The request body, or the reply that refuses it (and closes the connection)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return b"", error_reply(422, "invalid_request", "send the body with Content-Length")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b"", None
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return b"", error_reply(
                422, "invalid_request", f"Content-Length must be 0 to {MAX_BODY_BYTES} bytes"
            )
        try:
            body = self.rfile.read(length)
        except OSError:  # the client sent less than it announced and the timeout passed
            body = None
        if body is None or len(body) < length:
            self.close_connection = True
            return b"", error_reply(408, "invalid_request", "the body ended before Content-Length")
        return body, None

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the HTTP parser rejected with an `Error` body (not HTML)."""
        self.close_connection = True
        reply = error_reply(
            code, "not_found" if code == 404 else "invalid_request", message or "bad request"
        )
        with contextlib.suppress(OSError):  # the client may have gone
            self._write(reply)
        logger.warning("rejected a malformed HTTP request: %d", code)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default access line (`_dispatch` logs its own, without the query)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log the base class's messages without arguments (they can quote the request line)."""
        logger.debug("http.server: %s", format.split("%", 1)[0].rstrip(" :,"))


def make_server(
    fixtures: Fixtures,
    host: str = "127.0.0.1",
    port: int = 8081,
    api_key: str | None = None,
    slow_seconds: float = 10.0,
) -> SimulatorServer:
    """Bind a simulator server (not yet serving: call `serve_forever`, e.g. in a thread).

    Args:
        fixtures: The records to answer from.
        host: The address to listen on.
        port: The port; 0 picks a free one (see `server.url`).
        api_key: When not empty, the `X-API-Key` every request but `/v1/health` must send.
        slow_seconds: The delay of records marked `"simulate": "slow"`.

    Returns:
        The bound server.

    Raises:
        OSError: If the address cannot be bound.
        ValueError: If `slow_seconds` is negative.
    """
    simulator = BackendSimulator(fixtures, api_key=api_key, slow_seconds=slow_seconds)
    return SimulatorServer((host, port), simulator)


def serve(
    fixtures: Fixtures,
    host: str = "127.0.0.1",
    port: int = 8081,
    api_key: str | None = None,
    slow_seconds: float = 10.0,
    on_start: Callable[[SimulatorServer], None] | None = None,
) -> None:
    """Run the simulator until SIGTERM or SIGINT, then shut it down cleanly.

    Must be called from the main thread (it installs signal handlers, restored on return).

    Args:
        fixtures: The records to answer from.
        host: The address to listen on.
        port: The port; 0 picks a free one.
        api_key: When not empty, the `X-API-Key` every request but `/v1/health` must send.
        slow_seconds: The delay of records marked `"simulate": "slow"`.
        on_start: Called with the bound server before it starts serving (e.g. to print its URL).

    Raises:
        OSError: If the address cannot be bound.
    """
    server = make_server(fixtures, host, port, api_key=api_key, slow_seconds=slow_seconds)

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("received %s, shutting down", signal.Signals(signum).name)
        # shutdown() waits for serve_forever() to return: call it from another thread.
        threading.Thread(target=server.shutdown, name="simulator-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_start is not None:
            on_start(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()

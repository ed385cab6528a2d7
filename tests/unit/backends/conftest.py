"""Shared fixtures of the backend simulator tests: the shipped fixtures and running servers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from helpdesk.backends.fixtures import DEFAULT_FIXTURES_PATH, Fixtures, load_fixtures
from helpdesk.backends.simulator import SimulatorServer, make_server

StartServer = Callable[..., SimulatorServer]


@pytest.fixture(scope="session")
def shipped_fixtures() -> Fixtures:
    """The default fixtures file of the project, loaded once."""
    return load_fixtures(DEFAULT_FIXTURES_PATH)


@pytest.fixture
def start_server(shipped_fixtures: Fixtures) -> Iterator[StartServer]:
    """Start simulator servers on free ports (in threads); all are stopped after the test.

    The returned function takes `fixtures` (default: the shipped ones), `api_key` and
    `slow_seconds` (default 0.2) and returns the running server (its URL is `server.url`).
    """
    running: list[tuple[SimulatorServer, threading.Thread]] = []

    def start(
        fixtures: Fixtures | None = None, api_key: str | None = None, slow_seconds: float = 0.2
    ) -> SimulatorServer:
        server = make_server(
            fixtures or shipped_fixtures, "127.0.0.1", 0, api_key=api_key, slow_seconds=slow_seconds
        )
        # A short poll interval makes shutdown() quick (the default waits up to 0.5 s).
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def base_url(start_server: StartServer) -> str:
    """The URL of a fresh simulator (shipped fixtures, no API key, DIGIT state as loaded)."""
    return start_server().url

"""connectors.ops: the Rasa server's `/healthz` and `/metrics`.

The channel runs in an app built by `rasa.core.run.configure_app` (Rasa's own mounting under
`/webhooks/`), served on a free loopback port and called through aiohttp. An agent stand-in
carries what the checks read of Rasa's agent: `is_ready()`, the model id, Rasa's real SQL
tracker store (in Rasa's fail-safe wrapper, as Rasa builds it) and a lock store.
"""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import yaml
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from sanic import Sanic
from sqlalchemy import create_engine, text

from connectors.ops import OpsConfigError, OpsInput
from helpdesk.storage.db import make_session_factory

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ops-metrics-token-" + "x" * 12


class FakeRedis:
    """The `red` client of Rasa's RedisLockStore: PING answers, or raises."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def ping(self) -> bool:
        if self.error is not None:
            raise self.error
        return True


@dataclass
class FakeLockStore:
    red: FakeRedis


class Agent:
    """What the checks read of Rasa's agent."""

    def __init__(self, tracker_store: Any, lock_store: Any = None, ready: bool = True) -> None:
        self.tracker_store = tracker_store
        self.lock_store = lock_store or InMemoryLockStore()
        self.ready = ready
        self.model_id = "3c1f0e9a" if ready else None

    def is_ready(self) -> bool:
        return self.ready


@pytest.fixture
def tracker_store(tmp_path) -> SQLTrackerStore:
    """Rasa's SQL tracker store on a SQLite file (it creates its tables)."""
    return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))


@dataclass
class Server:
    url: str
    http: aiohttp.ClientSession

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.get(self.url + path, headers=headers) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()


@asynccontextmanager
async def serve(channel: OpsInput, agent: Any) -> AsyncIterator[Server]:
    from rasa.core.run import configure_app

    Sanic.test_mode = True
    app = configure_app(input_channels=[channel], enable_api=False)
    app.ctx.agent = agent
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", http)
    finally:
        await server.before_stop()
        closing = server.close()
        if closing is not None:
            await closing
        await server.after_stop()
        sock.close()


def channel(session_factory: Any, token: str = "") -> OpsInput:
    return OpsInput(metrics_token=token, session_factory=lambda: session_factory)


async def test_healthy_when_model_tracker_store_and_database_answer(session_factory, tracker_store):
    agent = Agent(FailSafeTrackerStore(tracker_store))
    async with serve(channel(session_factory), agent) as server:
        status, body = await server.get("/healthz")  # at the root, not under /webhooks/
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"model", "tracker_store", "database"}  # no Redis configured
    assert body["checks"]["model"]["detail"] == "model 3c1f0e9a"
    assert all(check["status"] == "ok" for check in body["checks"].values())


async def test_an_unreachable_helpdesk_database_is_503_and_named(tmp_path, tracker_store):
    broken = make_session_factory(create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    async with serve(channel(broken), Agent(FailSafeTrackerStore(tracker_store))) as server:
        status, body = await server.get("/healthz")
    assert status == 503
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["tracker_store"]["status"] == "ok"


async def test_a_tracker_store_without_its_table_is_503(session_factory, tracker_store):
    with tracker_store.engine.begin() as connection:
        connection.execute(text("DROP TABLE events"))
    async with serve(channel(session_factory), Agent(tracker_store)) as server:
        status, body = await server.get("/healthz")
    assert status == 503
    assert body["checks"]["tracker_store"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


async def test_no_model_loaded_is_503(session_factory, tracker_store):
    async with serve(channel(session_factory), Agent(tracker_store, ready=False)) as server:
        status, body = await server.get("/healthz")
    assert status == 503
    assert body["checks"]["model"]["error"] == "no model loaded"
    async with serve(channel(session_factory), None) as server:  # Rasa has no agent yet
        status, body = await server.get("/healthz")
    assert status == 503 and body["checks"]["tracker_store"]["error"] == "no tracker store"


async def test_a_redis_lock_store_is_checked_when_configured(session_factory, tracker_store):
    down = Agent(tracker_store, FakeLockStore(FakeRedis(ConnectionError("redis down"))))
    async with serve(channel(session_factory), down) as server:
        status, body = await server.get("/healthz")
    assert status == 503
    assert body["checks"]["lock_store"] == {
        "status": "error",
        "required": True,
        "error": "ConnectionError",
        "ms": body["checks"]["lock_store"]["ms"],
    }
    up = Agent(tracker_store, FakeLockStore(FakeRedis()))
    async with serve(channel(session_factory), up) as server:
        status, body = await server.get("/healthz")
    assert status == 200 and body["checks"]["lock_store"]["detail"] == "redis"


async def test_metrics_answer_this_machine_not_a_proxied_caller(session_factory, tracker_store):
    async with serve(channel(session_factory), Agent(tracker_store)) as server:
        status, page = await server.get("/metrics")
        assert status == 200
        assert 'helpdesk_messages_total{channel="whatsapp",direction="in"}' in page
        status, _ = await server.get("/metrics", {"X-Forwarded-For": "203.0.113.9"})
        assert status == 403


async def test_metrics_answer_any_caller_with_the_token(session_factory, tracker_store):
    agent = Agent(tracker_store)
    async with serve(channel(session_factory, TOKEN), agent) as server:
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        status, _ = await server.get("/metrics", {**forwarded, "Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        status, _ = await server.get("/metrics", {**forwarded, "Authorization": "Bearer salah"})
        assert status == 403


def test_the_channel_is_registered_and_takes_no_credentials(monkeypatch):
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "connectors.ops.OpsInput" in credentials
    assert credentials["connectors.ops.OpsInput"] is None
    with pytest.raises(OpsConfigError, match="HELPDESK_METRICS_TOKEN"):
        OpsInput.from_credentials({"metrics_token": TOKEN})

    from helpdesk.settings import Settings

    monkeypatch.setattr("helpdesk.settings.get_settings", lambda: Settings(metrics_token=TOKEN))
    assert OpsInput.from_credentials(None).metrics_token == TOKEN

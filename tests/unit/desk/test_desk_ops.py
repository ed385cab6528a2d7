"""The desk's `/healthz` (its database) and `/metrics` (Prometheus, with the agents' queue read
at scrape time), served by the real app on a free port."""

from __future__ import annotations

import json
import socket
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import AsyncIterator

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sanic import Sanic
from sqlalchemy import create_engine

from helpdesk.desk.app import create_app
from helpdesk.desk.auth import DeskConfig
from helpdesk.services import Services
from helpdesk.settings import Settings
from helpdesk.storage.db import make_session_factory
from helpdesk.storage.handoffs import HandoffRepository
from helpdesk.storage.models import utcnow
from tests.unit.desk.conftest import FakeRelay

TOKEN = "desk-metrics-token-" + "x" * 12


@asynccontextmanager
async def served(app: Sanic) -> AsyncIterator[str]:
    """`app` on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await server.before_stop()
        closing = server.close()
        if closing is not None:
            await closing
        await server.after_stop()
        sock.close()


def queue_gauges(text: str) -> dict[str, float]:
    return {
        family.name: family.samples[0].value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("helpdesk_handoff_queue")
    }


async def test_health_names_the_database_it_checked(desk):
    client = await desk.client()
    health = await client.get("/healthz")
    assert health.status == 200
    body = json.loads(health.text)
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["detail"].startswith("revision ")


async def test_health_is_503_naming_the_database_when_it_is_unreachable(tmp_path):
    unreachable = make_session_factory(create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    settings = Settings(var_dir=tmp_path / "var", tracker_db=tmp_path / "var" / "tracker.db")
    app = create_app(
        Services(settings, session_factory=unreachable),
        relay=FakeRelay(),
        name="desk_unreachable",
        config=DeskConfig(),
    )
    async with (
        served(app) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/healthz") as health,
    ):
        assert health.status == 503
        body = await health.json()
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert "no/such/dir" not in json.dumps(body)  # no path, host or SQL in the answer


async def test_metrics_serve_the_queue_read_from_the_database(desk, services):
    handoffs = HandoffRepository(services.session_factory)
    client = await desk.client()
    page = await client.get("/metrics")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/plain; version=")
    assert queue_gauges(page.text)["helpdesk_handoff_queue_length"] == 0.0

    handoffs.open("6281100000001", channel="whatsapp")
    handoffs.open("6281100000002", channel="telegram")
    page = await client.get("/metrics")
    found = queue_gauges(page.text)
    assert found["helpdesk_handoff_queue_length"] == 2.0
    assert 0.0 <= found["helpdesk_handoff_queue_oldest_wait_seconds"] < 60
    assert "helpdesk_messages_total" in page.text and "process_cpu_seconds_total" in page.text
    assert "6281100000001" not in page.text  # no sender id in any label


async def test_metrics_refuse_requests_a_proxy_forwarded(desk):
    client = await desk.client()
    page = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert page.status == 403 and "helpdesk_" not in page.text


async def test_metrics_take_the_token_from_a_forwarded_caller(desk, services, monkeypatch):
    monkeypatch.setattr(services, "settings", Settings(metrics_token=TOKEN))
    client = await desk.client()
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    page = await client.get("/metrics", headers={**forwarded, "Authorization": f"Bearer {TOKEN}"})
    assert page.status == 200 and "helpdesk_handoff_queue_length" in page.text
    wrong = await client.get("/metrics", headers={**forwarded, "Authorization": "Bearer salah"})
    assert wrong.status == 403


def test_the_oldest_wait_counts_from_the_request(services):
    handoffs = HandoffRepository(services.session_factory)
    before = utcnow()
    handoffs.open("6281100000009", channel="whatsapp")
    count, oldest = handoffs.queue_summary()
    assert count == 1 and before - timedelta(seconds=1) <= oldest <= utcnow()

"""Fixtures of the connector tests: helpdesk services on the test database, a collector that
stands in for Rasa's agent, and a fake Graph API that records what the channel sends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from helpdesk.storage.inbound_messages import InboundMessageRepository


class Collector:
    """Stands in for Rasa's agent: records each `UserMessage` given to `handle_message`.

    Set `fail_with` to make handling raise, or `block` to make it wait for an event.
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.fail_with: Exception | None = None
        self.block: asyncio.Event | None = None

    async def handle_message(self, user_message: Any) -> None:
        self.messages.append(user_message)
        if self.block is not None:
            await self.block.wait()
        if self.fail_with is not None:
            raise self.fail_with

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def services(session_factory):
    """Process-wide helpdesk services on the test database (what the channel uses)."""
    injected = Services(Settings(), session_factory=session_factory)
    set_services(injected)
    yield injected
    set_services(None)


@pytest.fixture
def repository(session_factory) -> InboundMessageRepository:
    return InboundMessageRepository(session_factory)


@dataclass
class GraphRequest:
    """One request the fake Graph API received."""

    path: str
    headers: dict[str, str]
    json: dict[str, Any]


@dataclass
class FakeGraphApi:
    """Records message requests; answers with the statuses in `script`, then with 200.

    Messenger's attachment uploads (`POST .../message_attachments`, multipart) are recorded in
    `uploads` (the form's text fields, and the file as `filedata`: name, type, bytes) and
    answered with a new `attachment_id`, or with `upload_status` when it is set.
    """

    url: str = ""
    requests: list[GraphRequest] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    upload_status: int | None = None

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.json for r in self.requests]

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            GraphRequest(request.path, dict(request.headers), await request.json())
        )
        status = self.script.pop(0) if self.script else 200
        if status >= 300:
            error = {
                "message": "(#131000) Something went wrong",
                "type": "OAuthException",
                "code": 131000,
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
            return web.json_response({"error": error}, status=status)
        out_id = f"wamid.OUT{len(self.requests)}"
        return web.json_response({"messaging_product": "whatsapp", "messages": [{"id": out_id}]})

    async def handle_upload(self, request: web.Request) -> web.Response:
        upload: dict[str, Any] = {"path": request.path, "headers": dict(request.headers)}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                upload[name] = (value.filename, value.content_type, value.file.read())
            else:
                upload[name] = str(value)
        self.uploads.append(upload)
        if self.upload_status is not None:
            error = {"message": "(#100) Upload failed", "type": "OAuthException", "code": 100}
            return web.json_response({"error": error}, status=self.upload_status)
        return web.json_response({"attachment_id": f"{1000 + len(self.uploads)}"})


@pytest.fixture
async def graph_api() -> AsyncIterator[FakeGraphApi]:
    """A fake Graph API on a free local port; point `api_url` at `graph_api.url`."""
    fake = FakeGraphApi()
    app = web.Application()
    app.router.add_post("/v20.0/{phone_number_id}/messages", fake.handle)
    app.router.add_post("/v20.0/{account_id}/message_attachments", fake.handle_upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/v20.0"
    try:
        yield fake
    finally:
        await runner.cleanup()

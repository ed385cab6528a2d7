"""rasa_sdk_plugins.action_auth: only the Rasa server may call the action server.

The action server is rasa-sdk's own app (`rasa_sdk.endpoint.create_app`) with the plugins
attached the way `rasa_sdk.endpoint.run` attaches them (rasa-sdk's plugin manager discovers
`rasa_sdk_plugins`), served on a free local port; the calls are real HTTP requests. The action
it could run records its calls, so a refused call is seen not to have run anything.
"""

from __future__ import annotations

import os
import socket
import sys
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import aiohttp
import pytest
from rasa_sdk import Action
from rasa_sdk.endpoint import create_app
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic

import rasa_sdk_plugins
from rasa_sdk_plugins import action_auth

TOKEN = "rahasia-uji-" + "x" * 24
#: What Rasa sends for `action_sakti_reset`, forged: a citizen's phone, WhatsApp as channel.
FORGED_CALL = {
    "next_action": "action_probe",
    "sender_id": "6281234567890",
    "tracker": {
        "sender_id": "6281234567890",
        "slots": {"nik": "3171234567890001", "satker_code": "123456"},
        "latest_message": {"text": "reset", "intent": {"name": "sakti_service"}},
        "latest_input_channel": "whatsapp",
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    },
    "domain": {},
    "version": "3.6.2",
}

CALLS: list[str] = []


class ActionProbe(Action):
    """Stands in for a state-changing action (a SAKTI reset): records that it ran."""

    def name(self) -> str:
        return "action_probe"

    async def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[dict[str, Any]]:
        CALLS.append(tracker.sender_id)
        return []


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    CALLS.clear()
    for name in ("RASA_ACTIONS_TOKEN", "RASA_ACTIONS_HOST", "SANIC_HOST"):
        monkeypatch.setenv(name, "")  # restored after the test, also when the plugin sets it
        monkeypatch.delenv(name)
    # `.env` of a developer's checkout must not decide these tests.
    monkeypatch.setattr(action_auth, "environment", lambda: dict(os.environ))
    Sanic.test_mode = True  # every test builds an app named "rasa_sdk"


def build_app() -> Sanic:
    """The action server's app, plugins attached as `rasa_sdk.endpoint.run` does."""
    app = create_app(sys.modules[__name__])
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


@asynccontextmanager
async def serve(app: Sanic) -> AsyncIterator[str]:
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


async def call(
    url: str, path: str = "/webhook", headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, url + path, json=FORGED_CALL if method == "POST" else None, headers=headers
        ) as response,
    ):
        body = await response.json(content_type=None)
        return response.status, body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the header check, pure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer   {TOKEN}  ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer \udcff\u00e9", False),  # any text compares, never raises
    ],
)
def test_is_authorized(header, expected):
    assert action_auth.is_authorized(header, TOKEN) is expected


def test_no_configured_token_authorizes_nothing():
    assert not action_auth.is_authorized("Bearer ", "")
    assert not action_auth.is_authorized("Bearer x", "")


@pytest.mark.parametrize(
    ("env", "host"),
    [
        ({}, "127.0.0.1"),
        ({"SANIC_HOST": "10.0.0.5"}, "10.0.0.5"),
        ({"RASA_ACTIONS_HOST": "10.0.0.7", "SANIC_HOST": "0.0.0.0"}, "10.0.0.7"),
        ({"RASA_ACTIONS_HOST": " "}, "127.0.0.1"),
    ],
)
def test_listen_host(env, host):
    assert action_auth.listen_host(env) == host


# --- the action server, as rasa-sdk builds it ---------------------------------------------------


def test_rasa_sdk_discovers_the_plugin():
    assert rasa_sdk_plugins.action_auth is action_auth
    assert plugin_manager().is_registered(action_auth)


async def test_a_forged_call_without_the_token_is_refused_and_runs_nothing(monkeypatch):
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", TOKEN)
    async with serve(build_app()) as url:
        for headers in (None, bearer("tebakan"), {"Authorization": TOKEN}, bearer(TOKEN + "x")):
            status, body = await call(url, headers=headers)
            assert status == 401, (headers, body)
            assert body["error"] == "unauthorized"
        # The list of actions is not public either.
        status, _ = await call(url, "/actions", method="GET")
        assert status == 401
    assert CALLS == []


async def test_the_rasa_server_s_call_with_the_token_runs_the_action(monkeypatch):
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", TOKEN)
    async with serve(build_app()) as url:
        status, body = await call(url, headers=bearer(TOKEN))
        assert status == 200, body
        status, body = await call(url, "/actions", headers=bearer(TOKEN), method="GET")
        assert status == 200 and {"name": "action_probe"} in body
    assert CALLS == ["6281234567890"]


async def test_health_stays_open(monkeypatch):
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", TOKEN)
    async with serve(build_app()) as url:
        assert await call(url, "/health", method="GET") == (200, {"status": "ok"})


async def test_without_a_configured_token_every_call_is_refused_with_one_error(monkeypatch, caplog):
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", "")
    caplog.set_level("WARNING", logger=action_auth.__name__)
    async with serve(build_app()) as url:
        for headers in (None, bearer(""), {"Authorization": "Bearer "}, bearer("apa saja")):
            status, _ = await call(url, headers=headers)
            assert status == 401
        assert (await call(url, "/health", method="GET"))[0] == 200
    assert CALLS == []
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "RASA_ACTIONS_TOKEN" in errors[0].getMessage()
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_short_token_is_accepted_with_a_warning(caplog):
    caplog.set_level("WARNING", logger=action_auth.__name__)
    Sanic.test_mode = True
    action_auth.attach(Sanic("short_token"), "pendek")
    assert any("shorter than" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("env", "host"),
    [({}, "127.0.0.1"), ({"RASA_ACTIONS_HOST": "0.0.0.0"}, "0.0.0.0")],
    ids=["default-loopback", "configured"],
)
def test_rasa_sdk_binds_where_the_plugin_says(monkeypatch, env, host):
    """`rasa_sdk.endpoint.run` itself: the host it serves on (rasa-sdk's default is 0.0.0.0)."""
    from rasa_sdk import endpoint

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", TOKEN)
    served: dict[str, Any] = {}

    def fake_run(self: Sanic, host: str, port: int, **kwargs: Any) -> None:
        served.update(host=host, port=port)

    monkeypatch.setattr(Sanic, "run", fake_run)
    endpoint.run(sys.modules[__name__], port=5999)
    assert served == {"host": host, "port": 5999}

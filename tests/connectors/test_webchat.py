"""The web chat channel (page, assets, health) and the fixed socket.io channel.

The channels run in an app built by `rasa.core.run.configure_app`, served on a free local
port; HTTP goes through aiohttp, socket.io through python-socketio's own client, and an echo
agent stands in for Rasa's (it logs each message in Rasa's in-memory tracker store, as Rasa
does, and answers through the channel's real output channel).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from sanic import Sanic
from yarl import URL

from connectors.webchat.page import (
    CONTENT_SECURITY_POLICY,
    DEFAULT_SOCKET_PATH,
    WEBCHAT_DIR,
    load_assets,
    render_index,
)
from connectors.webchat.payloads import is_session_id
from connectors.webchat.webhook import (
    SocketIOInput,
    WebChatConfigError,
    WebChatInput,
    share_rooms,
)
from helpdesk.settings import Settings, get_settings

PAGE = "/webhooks/webchat/"


class EchoAgent:
    """Stands in for Rasa's agent: records each message, logs it in its conversation in Rasa's
    in-memory tracker store (with its input channel) and answers "echo: <text>"."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []
        self.tracker_store = InMemoryTrackerStore(Domain.empty())

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await self.log(message.sender_id, message.text, message.input_channel)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    async def log(self, sender_id: str, text: str, channel: str | None) -> None:
        """A user message in the conversation `sender_id`, as Rasa's processor logs it."""
        tracker = await self.tracker_store.get_or_create_tracker(sender_id)
        tracker.update(UserUttered(text, input_channel=channel))
        await self.tracker_store.save(tracker)


@dataclass
class Server:
    url: str
    http: aiohttp.ClientSession
    agent: EchoAgent

    async def get(self, path: str | URL) -> tuple[int, dict[str, str], bytes]:
        target = path if isinstance(path, URL) else URL(self.url + path, encoded=True)
        async with self.http.get(target, allow_redirects=False) as resp:
            return resp.status, dict(resp.headers), await resp.read()


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve(*channels: Any) -> AsyncIterator[Server]:
    """Serve `channels` in an app made by `rasa.core.run.configure_app`, with an echo agent."""
    from rasa.core.run import configure_app

    Sanic.test_mode = True  # every test builds an app of the same name
    app = configure_app(input_channels=list(channels), enable_api=False)
    agent = EchoAgent()
    app.ctx.agent = agent
    sock = _free_socket()
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()  # create_server has already started listening
    await server.before_start()
    await server.after_start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", http, agent)
    finally:
        await server.before_stop()
        closing = server.close()
        if closing is not None:
            await closing
        await server.after_stop()
        sock.close()


@pytest.fixture
async def web() -> AsyncIterator[Server]:
    async with serve(WebChatInput.from_credentials(None)) as running:
        yield running


# --- credentials -------------------------------------------------------------------------------
def test_needs_no_credentials_and_is_titled_with_the_profiles_name() -> None:
    channel = WebChatInput.from_credentials(None)
    assert channel.name() == "webchat"
    name = get_settings().profile.name
    assert (channel.title, channel.socket_path) == (name, DEFAULT_SOCKET_PATH)
    assert WebChatInput.from_credentials({}).title == name


def test_takes_a_title_and_a_socket_path() -> None:
    channel = WebChatInput.from_credentials({"title": " Helpdesk KPPN ", "socket_path": "/chat/"})
    assert (channel.title, channel.socket_path) == ("Helpdesk KPPN", "/chat")


@pytest.mark.parametrize(
    "credentials",
    [
        {"tittle": "Layanan"},
        {"title": "x" * 81},
        {"title": 42},
        {"socket_path": "socket.io"},
        {"socket_path": '/socket.io"><script>'},
    ],
)
def test_refuses_bad_credentials(credentials: dict[str, Any]) -> None:
    with pytest.raises(WebChatConfigError):
        WebChatInput.from_credentials(credentials)


def test_fails_at_start_without_the_page(tmp_path: Path) -> None:
    channel = WebChatInput(root=tmp_path)
    with pytest.raises(WebChatConfigError, match="index.html"):
        channel.blueprint(EchoAgent().handle_message)


# --- page, assets, health ----------------------------------------------------------------------
async def test_serves_the_page_in_indonesian(web: Server) -> None:
    status, headers, body = await web.get(PAGE)
    page = body.decode()

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    # Framed only by this server and the sites the profile allows (none in the default one).
    assert headers["Content-Security-Policy"] == (
        f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'self'"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert '<html lang="id">' in page
    assert f"<title>{get_settings().profile.name}</title>" in page
    for label in ("Kirim", "Mulai ulang", "Petugas virtual sedang mengetik…", "Ketik pesan Anda"):
        assert label in page
    assert 'data-socket-path="/socket.io"' in page
    assert 'role="log"' in page and 'aria-live="polite"' in page
    assert "{{" not in page, "every template slot is filled"


async def test_title_is_escaped() -> None:
    channel = WebChatInput(title="<script>alert(1)</script> & Co")
    async with serve(channel) as web:
        _, _, body = await web.get(PAGE)
    page = body.decode()
    assert "<script>alert" not in page
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</title>" in page


async def test_redirects_to_the_trailing_slash(web: Server) -> None:
    status, headers, _ = await web.get("/webhooks/webchat")
    assert status == 301
    assert headers["Location"] == PAGE


async def test_serves_the_assets_the_page_links(web: Server) -> None:
    _, _, body = await web.get(PAGE)
    links = re.findall(r'(?:href|src)="(static/[^"]+)"', body.decode())
    assert len(links) == 5  # the chat and its widget side: scripts and styles

    types = {}
    for link in links:
        status, headers, content = await web.get(PAGE + link)
        assert status == 200, link
        assert content, link
        assert headers["Cache-Control"].startswith("public")
        types[link.split("?")[0]] = headers["Content-Type"]
        if "socket.io.min.js" in link:
            assert content.startswith(b"/*!\n * Socket.IO v4.7.5")
    assert types == {
        "static/embed.css": "text/css; charset=utf-8",
        "static/embed.js": "text/javascript; charset=utf-8",
        "static/webchat.css": "text/css; charset=utf-8",
        "static/vendor/socket.io.min.js": "text/javascript; charset=utf-8",
        "static/webchat.js": "text/javascript; charset=utf-8",
    }


async def test_asset_urls_change_with_their_content(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<link href="static/a.css?v={{ version }}">')
    (tmp_path / "a.css").write_text("p { color: red }")
    before = render_index(
        (tmp_path / "index.html").read_text(), title="t", socket_path="/s", version="x"
    )
    assert "?v=x" in before

    async with serve(WebChatInput(root=tmp_path)) as web:
        _, _, first = await web.get(PAGE)
    (tmp_path / "a.css").write_text("p { color: blue }")
    async with serve(WebChatInput(root=tmp_path)) as web:
        _, _, second = await web.get(PAGE)
    assert first != second


@pytest.mark.parametrize(
    "path",
    [
        "static/nothing.js",
        "static/index.html",
        "static/vendor/LICENSE",
        "static/../../connectors/webchat.py",
        "static/..%2F..%2Fconnectors%2Fwebchat.py",
        "static/%2e%2e/%2e%2e/pyproject.toml",
        "static/vendor/..%2F..%2F..%2Fcredentials.yml",
        "static//etc/passwd",
        "static/%2Fetc%2Fpasswd",
    ],
)
async def test_serves_nothing_else(web: Server, path: str) -> None:
    status, _, body = await web.get(PAGE + path)
    assert status == 404
    assert b"import" not in body and b"root:" not in body and b"[project]" not in body


def test_only_known_file_types_are_assets(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("page")
    (tmp_path / "chat.js").write_text("js")
    (tmp_path / "secret.py").write_text("SECRET = 1")
    (tmp_path / ".hidden.js").write_text("hidden")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.js").write_text("git")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.svg").write_text("<svg/>")
    assert sorted(load_assets(tmp_path)) == ["chat.js", "img/logo.svg"]


def test_the_shipped_folder_holds_the_page_and_its_assets() -> None:
    assert (WEBCHAT_DIR / "index.html").is_file()
    assert (WEBCHAT_DIR / "vendor" / "LICENSE").is_file()
    # The widget's loader template is not an asset (served rendered at widget.js).
    assert (WEBCHAT_DIR / "widget.js.tmpl").is_file()
    assert sorted(load_assets(WEBCHAT_DIR)) == [
        "embed.css",
        "embed.js",
        "vendor/socket.io.min.js",
        "webchat.css",
        "webchat.js",
    ]


async def test_health(web: Server) -> None:
    status, headers, body = await web.get("/webhooks/webchat/health")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == b'{"status":"ok"}'


async def test_handles_no_messages(web: Server) -> None:
    async with web.http.post(web.url + "/webhooks/webchat/webhook", json={"message": "halo"}) as r:
        assert r.status in (404, 405)
    assert web.agent.messages == []


# --- the socket.io channel -----------------------------------------------------------------------
class Browser:
    """A socket.io client as the page uses it: session_request, user_uttered, bot_uttered."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue[str] = asyncio.Queue()
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sio.on("session_confirm", self.confirmed.put)
        self.sio.on("bot_uttered", self.answers.put)

    async def connect(self, url: str) -> None:
        # Long polling: python-engineio's WebSocket client needs a newer aiohttp than Rasa's.
        await self.sio.connect(url, socketio_path="/socket.io", transports=["polling"])

    async def session(self, session_id: Any = None) -> str:
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 5)

    async def say(self, text: str, session_id: str, **extra: Any) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id, **extra})

    async def answer(self, timeout: float = 5) -> dict[str, Any]:
        return await asyncio.wait_for(self.answers.get(), timeout)

    async def close(self) -> None:
        # Close the Engine.IO connection without waiting for the client's pending long poll,
        # which the server answers only at its next ping (25 s).
        await self.sio.eio.disconnect(abort=True)


@pytest.fixture
async def chat() -> AsyncIterator[Server]:
    channels = (
        SocketIOInput.from_credentials({"session_persistence": True}),
        WebChatInput.from_credentials(None),
    )
    async with serve(*channels) as running:
        yield running


@asynccontextmanager
async def browser(url: str) -> AsyncIterator[Browser]:
    client = Browser()
    await client.connect(url)
    try:
        yield client
    finally:
        await client.close()


async def test_answers_reach_the_session(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        assert is_session_id(session_id)
        await page.say("halo", session_id)
        assert await page.answer() == {"text": "echo: halo"}

    [message] = chat.agent.messages
    assert (message.sender_id, message.input_channel) == (session_id, "socketio")


async def test_metadata_is_set_by_the_server(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        await page.say("halo", session_id, metadata={"channel": "whatsapp", "name": "Admin"})
        await page.answer()
    assert chat.agent.messages[0].metadata == {"channel": "socketio"}


async def test_session_survives_a_new_connection(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
    async with browser(chat.url) as page:
        assert await page.session(session_id) == session_id
        await page.say("lagi", session_id)
        assert await page.answer() == {"text": "echo: lagi"}
    assert [m.sender_id for m in chat.agent.messages] == [session_id]


@pytest.mark.parametrize("requested", ["6281234567890", "../x", "A" * 32, 42, ""])
async def test_foreign_session_ids_get_a_new_one(chat: Server, requested: Any) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session(requested)
    assert session_id != requested
    assert is_session_id(session_id)


async def test_messages_outside_the_confirmed_session_are_dropped(chat: Server) -> None:
    async with browser(chat.url) as page, browser(chat.url) as other:
        own = await page.session()
        theirs = await other.session()
        await page.say("menyamar", theirs)  # names another session
        await other.say("halo", theirs)
        assert await other.answer() == {"text": "echo: halo"}
        with pytest.raises(asyncio.TimeoutError):
            await page.answer(timeout=0.5)
        assert own != theirs
    assert [(m.text, m.sender_id) for m in chat.agent.messages] == [("halo", theirs)]


async def test_messages_before_the_session_request_are_dropped(chat: Server) -> None:
    async with browser(chat.url) as page:
        await page.say("halo", "0" * 32)
        await asyncio.sleep(0.3)
        assert page.answers.empty()
    assert chat.agent.messages == []


async def test_overlong_messages_are_dropped(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        await page.say("x" * 5000, session_id)
        await page.say("pendek", session_id)
        assert await page.answer() == {"text": "echo: pendek"}
    assert [m.text for m in chat.agent.messages] == ["pendek"]


# --- one channel per conversation (issue 11, item 3) -------------------------------------------
REST_SESSION = "0123456789abcdef0123456789abcdef"  # a REST integrator may send any sender id


async def test_a_session_id_of_another_channels_conversation_gets_a_new_one(chat: Server) -> None:
    await chat.agent.log(REST_SESSION, "halo", "rest")

    async with browser(chat.url) as page:
        session_id = await page.session(REST_SESSION)
        await page.say("halo", session_id)
        assert await page.answer() == {"text": "echo: halo"}

    assert session_id != REST_SESSION
    assert is_session_id(session_id)
    assert [m.sender_id for m in chat.agent.messages] == [session_id]


async def test_a_message_for_a_conversation_another_channel_took_is_dropped(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        await chat.agent.log(session_id, "halo", "rest")  # taken before the page wrote
        before = len((await chat.agent.tracker_store.retrieve(session_id)).events)
        await page.say("halo", session_id)
        with pytest.raises(asyncio.TimeoutError):
            await page.answer(timeout=0.5)

    assert chat.agent.messages == []
    assert len((await chat.agent.tracker_store.retrieve(session_id)).events) == before


async def test_the_web_chat_keeps_its_own_sessions(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        await page.say("halo", session_id)
        await page.answer()
    async with browser(chat.url) as page:
        assert await page.session(session_id) == session_id
        await page.say("lagi", session_id)
        assert await page.answer() == {"text": "echo: lagi"}


# --- hostile input (issue 11, item 4 and 6) ----------------------------------------------------
async def test_an_oversized_polling_body_is_refused_unread(chat: Server) -> None:
    from connectors.webchat.payloads import PACKET_LIMIT

    url = chat.url + "/socket.io/?EIO=4&transport=polling&sid=x"
    async with chat.http.post(url, data=b"4" + b"x" * (PACKET_LIMIT + 10)) as resp:
        assert resp.status == 413
    # The page's own traffic still works.
    async with browser(chat.url) as page:
        session_id = await page.session()
        await page.say("halo", session_id)
        assert await page.answer() == {"text": "echo: halo"}


async def test_nul_characters_and_lone_surrogates_are_taken_out(chat: Server) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        await page.say("halo\x00 pak \ud800", session_id)
        assert await page.answer() == {"text": "echo: halo pak \ufffd"}
    assert chat.agent.messages[0].text == "halo pak \ufffd"


@pytest.mark.parametrize(
    "data", [None, 42, "teks", ["a"], {"message": {"a": 1}}, {"message": ["x"]}, {"x": 1}]
)
async def test_malformed_events_are_dropped_and_the_session_goes_on(chat: Server, data) -> None:
    async with browser(chat.url) as page:
        session_id = await page.session()
        await page.sio.emit("user_uttered", data)
        await page.say("halo", session_id)
        assert await page.answer() == {"text": "echo: halo"}
    assert [m.text for m in chat.agent.messages] == ["halo"]


# --- several Rasa servers ------------------------------------------------------------------------
@pytest.mark.skipif(
    not os.environ.get("HELPDESK_TEST_REDIS_URL"), reason="needs `make engines` (Redis)"
)
async def test_a_reply_sent_by_another_rasa_server_reaches_the_web_chat(monkeypatch) -> None:
    """Two Rasa servers share rooms through Redis: an agent's reply that the desk hands to the
    server the browser is not connected to still reaches the browser."""
    settings = Settings(
        redis_url=os.environ["HELPDESK_TEST_REDIS_URL"], redis_key_prefix=uuid.uuid4().hex
    )
    monkeypatch.setattr("connectors.webchat.webhook.get_settings", lambda: settings)
    here = SocketIOInput.from_credentials({"session_persistence": True})
    there = SocketIOInput.from_credentials({"session_persistence": True})
    async with serve(here) as first, serve(there), browser(first.url) as page:
        session_id = await page.session()
        output = there.get_output_channel()
        await output.send_text_message(session_id, "Balasan petugas dari server lain")
        assert await page.answer() == {"text": "Balasan petugas dari server lain"}


def test_without_redis_rooms_stay_in_the_process() -> None:
    sio = socketio.AsyncServer(async_mode="sanic")
    before = sio.manager
    assert not share_rooms(sio, Settings())
    assert sio.manager is before

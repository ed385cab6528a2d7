"""The REST channel (connectors/rest.py) and the one-channel-per-conversation guard.

The channel runs in an app built by `rasa.core.run.configure_app`, served on a free loopback
port and called through aiohttp. An agent with Rasa's real in-memory tracker store stands in
for Rasa's: it logs each message in its conversation as Rasa does (`UserUttered` with the
input channel) and answers "echo: <text>".
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from sanic import Sanic
from sanic.request import Request

from connectors.common import MESSAGE_TEXT_LIMIT, ConversationGuard, conversation_channel
from connectors.rest.payloads import (
    BODY_LIMIT,
    METADATA_LIMIT,
    SENDER_LIMIT,
    RestMessage,
    RestRequestError,
    clean_metadata,
    parse_body,
)
from connectors.rest.webhook import (
    RestConfigError,
    RestInput,
    bearer_token,
    is_loopback,
    token_matches,
)

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "Zq8-uN3_vL6pX1cR9tY4wE7b"
PHONE = "6281234567890"
NIK = "3201234567890001"
EMAIL = "budi.santoso@contoh.go.id"


class TrackingAgent:
    """Stands in for Rasa's agent: Rasa's in-memory tracker store, each message logged in its
    conversation as Rasa logs it, answered "echo: <text>"; `fail_with` makes handling raise."""

    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.messages: list[UserMessage] = []
        self.fail_with: Exception | None = None

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.fail_with is not None:
            raise self.fail_with
        await log_user_message(
            self.tracker_store, message.sender_id, message.text, message.input_channel
        )
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    async def events(self, sender_id: str) -> list[Any]:
        tracker = await self.tracker_store.retrieve_full_tracker(sender_id)
        return list(tracker.events) if tracker is not None else []


async def log_user_message(store: Any, sender_id: str, text: str, channel: str | None) -> None:
    """A user message in the conversation `sender_id`, as Rasa's processor logs it."""
    tracker = await store.get_or_create_tracker(sender_id)
    tracker.update(UserUttered(text, input_channel=channel))
    await store.save(tracker)


@dataclass
class Server:
    url: str
    http: aiohttp.ClientSession
    agent: TrackingAgent

    async def post(
        self, body: Any = None, *, raw: bytes | None = None, headers: dict | None = None, **kw: Any
    ) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.http.post(self.url + WEBHOOK, data=data, headers=headers, **kw) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


@asynccontextmanager
async def serve(channel: RestInput) -> AsyncIterator[Server]:
    """Serve `channel` in an app made by `rasa.core.run.configure_app` on a loopback port."""
    from rasa.core.run import configure_app

    Sanic.test_mode = True  # every test builds an app of the same name
    app = configure_app(input_channels=[channel], enable_api=False)
    agent = TrackingAgent()
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
            yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", http, agent)
    finally:
        await server.before_stop()
        closing = server.close()
        if closing is not None:
            await closing
        await server.after_stop()
        sock.close()


@pytest.fixture
async def rest() -> AsyncIterator[Server]:
    async with serve(RestInput()) as running:
        yield running


@pytest.fixture
async def rest_with_token() -> AsyncIterator[Server]:
    async with serve(RestInput(token=TOKEN)) as running:
        yield running


@pytest.fixture
def remote_client(monkeypatch):
    """Requests come from a public address (the test client really is on loopback)."""
    monkeypatch.setattr(Request, "ip", property(lambda self: "203.0.113.9"))


# --- valid input: as Rasa's channel ------------------------------------------------------------


async def test_answers_a_message_as_a_json_list(rest: Server) -> None:
    status, body = await rest.post({"sender": "budi", "message": "halo"})

    assert status == 200
    assert body == [{"recipient_id": "budi", "text": "echo: halo"}]
    [message] = rest.agent.messages
    assert (message.sender_id, message.text, message.input_channel) == ("budi", "halo", "rest")
    assert message.metadata == {"channel": "rest"}


async def test_health(rest: Server) -> None:
    async with rest.http.get(rest.url + "/webhooks/rest/") as resp:
        assert (resp.status, await resp.json()) == (200, {"status": "ok"})


async def test_streams_the_answer_when_asked(rest: Server) -> None:
    async with rest.http.post(
        rest.url + WEBHOOK + "?stream=true", json={"sender": "budi", "message": "halo"}
    ) as resp:
        lines = (await resp.text()).splitlines()
    assert resp.status == 200
    assert [json.loads(line) for line in lines] == [{"recipient_id": "budi", "text": "echo: halo"}]


async def test_keeps_scalar_metadata_and_sets_the_channel(rest: Server) -> None:
    metadata = {
        "name": "Budi",
        "channel": "whatsapp",  # the caller does not choose its channel
        "site": {"page": "/kontak", "lang": "id"},
        "tags": ["a", "b"],  # lists are left out
        "deep": {"a": {"b": 1}},  # so are objects in objects
    }
    status, _ = await rest.post({"sender": "budi", "message": "halo", "metadata": metadata})

    assert status == 200
    assert rest.agent.messages[0].metadata == {
        "name": "Budi",
        "channel": "rest",
        "site": {"page": "/kontak", "lang": "id"},
    }


async def test_an_input_channel_other_than_rest_is_refused(rest: Server) -> None:
    # Rasa's channel took `input_channel` from the body: a caller could claim to be WhatsApp
    # (a SAKTI channel) with a citizen's phone number as sender.
    status, body = await rest.post(
        {"sender": PHONE, "message": "reset password sakti", "input_channel": "whatsapp"}
    )

    assert (status, body["error"]) == (400, "invalid_input_channel")
    assert rest.agent.messages == []
    status, _ = await rest.post({"sender": "budi", "message": "halo", "input_channel": "rest"})
    assert status == 200


# --- malformed input: 400 / 413, never a 5xx -------------------------------------------------

MALFORMED = {
    "empty body": b"",
    "blank body": b"  \n",
    "not JSON": b"halo",
    "truncated JSON": b'{"sender": "budi", "message": "ha',
    "a list": b'[{"sender": "budi", "message": "halo"}]',
    "a string": b'"halo"',
    "null": b"null",
    "a number": b"42",
    "invalid UTF-8": b'{"sender": "budi", "message": "\xff\xfe"}',
    "no sender": b'{"message": "halo"}',
    "number sender": b'{"sender": 6281234567890, "message": "halo"}',
    "null sender": b'{"sender": null, "message": "halo"}',
    "empty sender": b'{"sender": "", "message": "halo"}',
    "blank sender": b'{"sender": "  ", "message": "halo"}',
    "long sender": json.dumps({"sender": "x" * (SENDER_LIMIT + 1), "message": "halo"}).encode(),
    "sender with a line break": b'{"sender": "budi\\nINFO forged", "message": "halo"}',
    "object sender": b'{"sender": {"id": 1}, "message": "halo"}',
    "no message": b'{"sender": "budi"}',
    "number message": b'{"sender": "budi", "message": 5}',
    "list message": b'{"sender": "budi", "message": ["halo"]}',
    "NUL in the message": b'{"sender": "budi", "message": "ha\\u0000lo"}',
    "NUL in the sender": b'{"sender": "bu\\u0000di", "message": "halo"}',
    "lone surrogate in the message": b'{"sender": "budi", "message": "\\ud800"}',
    "lone surrogate in the sender": b'{"sender": "\\udfff", "message": "halo"}',
    "lone surrogate in a metadata key": (
        b'{"sender": "b", "message": "h", "metadata": {"\\ud800": 1}}'
    ),
    "NUL in metadata": b'{"sender": "b", "message": "h", "metadata": {"a": {"b": "\\u0000"}}}',
    "list metadata": b'{"sender": "budi", "message": "halo", "metadata": [1, 2]}',
    "string metadata": b'{"sender": "budi", "message": "halo", "metadata": "x"}',
    "large metadata": json.dumps(
        {"sender": "budi", "message": "halo", "metadata": {"blob": "x" * METADATA_LIMIT}}
    ).encode(),
    "deep nesting": b'{"sender": "budi", "message": "halo", "metadata": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
    "NaN": b'{"sender": "budi", "message": "halo", "metadata": {"x": NaN}}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_input_gets_400_with_a_json_error(rest: Server, body: bytes) -> None:
    status, answer = await rest.post(raw=body, headers={"Content-Type": "application/json"})

    assert status == 400
    assert set(answer) == {"error", "message"}
    assert rest.agent.messages == []


async def test_a_body_over_the_limit_gets_413_before_it_is_read(rest: Server) -> None:
    body = json.dumps({"sender": "budi", "message": "x" * BODY_LIMIT}).encode()

    status, answer = await rest.post(raw=body)

    assert (status, answer["error"]) == (413, "body_too_large")
    assert rest.agent.messages == []


async def test_a_chunked_body_over_the_limit_gets_413(rest: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sender": "budi", "message": "'
        for _ in range(8):
            yield b"x" * (BODY_LIMIT // 4)
        yield b'"}'

    async with rest.http.post(rest.url + WEBHOOK, data=chunks()) as resp:
        status, answer = resp.status, await resp.json()

    assert (status, answer["error"]) == (413, "body_too_large")
    assert rest.agent.messages == []


async def test_a_long_message_under_the_limit_is_answered_cut_as_on_every_channel(
    rest: Server,
) -> None:
    text = "keluhan " * ((BODY_LIMIT - 100) // 8)

    status, _ = await rest.post({"sender": "budi", "message": text})

    assert status == 200
    [message] = rest.agent.messages
    assert len(message.text) <= MESSAGE_TEXT_LIMIT
    assert text.startswith(message.text)


async def test_other_control_characters_are_cleaned_as_on_every_channel(rest: Server) -> None:
    status, _ = await rest.post({"sender": "budi", "message": "ha\u0007lo\nlagi"})

    assert status == 200
    assert rest.agent.messages[0].text == "halo\nlagi"


def test_the_channel_and_its_parser_take_their_limits():
    with pytest.raises(ValueError):
        RestInput(body_limit=0)
    assert parse_body(b'{"sender": "s", "message": ""}') == RestMessage(
        "s", "", {"channel": "rest"}
    )


#: Characters fuzzed bodies are made of: JSON's own, digits, letters, escapes, a NUL, a lone
#: surrogate, non-ASCII text and invalid UTF-8 bytes.
FUZZ_PIECES = [
    *(b"{", b"}", b"[", b"]", b":", b",", b'"', b"0", b"-1.5e3", b"true", b"null", b"NaN"),
    *(b'"budi"', b'"whatsapp"'),
    *(f'"{key}"'.encode() for key in ("sender", "message", "metadata", "input_channel")),
    *(b" ", b"\\", b"\\u0000", b"\\ud800", b"\\n", "é€😀".encode(), b"\xff", b"\xc3"),
]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value (objects and lists nest up to 3 levels)."""
    kind = rng.randrange(8 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 10**30, 1.5, -0.0, 1e308])
    if kind in (3, 4, 5):
        alphabet = "ab 0\n\t\x00\x07é😀\ud800/"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["sender", "message", "metadata", "input_channel", "name", "channel"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_any_bytes_parse_or_get_a_400() -> None:
    rng = random.Random(11)
    for _ in range(1500):
        body = b"".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randrange(30)))
        try:
            parse_body(body)
        except RestRequestError as error:
            assert error.status == 400, body


def test_any_json_object_parses_or_gets_a_400() -> None:
    rng = random.Random(11)
    accepted = 0
    for _ in range(1500):
        payload = random_json(rng)
        if not isinstance(payload, dict):
            payload = {"sender": payload, "message": random_json(rng)}
        if rng.random() < 0.5:  # often a valid sender and message, to reach the metadata
            payload.update(sender="budi", message="halo")
        body = json.dumps(payload).encode("utf-8", "surrogatepass")
        try:
            message = parse_body(body)
        except RestRequestError as error:
            assert error.status == 400, body
        else:
            accepted += 1
            assert isinstance(message.sender, str) and isinstance(message.text, str)
            assert message.metadata["channel"] == "rest"
            json.dumps(message.metadata).encode("utf-8")  # storable as it is
    assert accepted > 100


def test_metadata_is_an_object_within_its_limit():
    assert clean_metadata(None) == {"channel": "rest"}
    assert clean_metadata({"n": 1.5, "ok": True, "x": None}) == {
        "n": 1.5,
        "ok": True,
        "x": None,
        "channel": "rest",
    }
    with pytest.raises(RestRequestError):
        clean_metadata({"blob": "é" * (METADATA_LIMIT // 2 + 1)})  # counted in UTF-8 bytes


# --- who may call ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ü"],
)
async def test_with_a_token_a_request_without_it_gets_401(
    rest_with_token: Server, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}

    status, body = await rest_with_token.post(
        {"sender": "budi", "message": "halo"}, headers=headers
    )

    assert (status, body["error"]) == (401, "unauthorized")
    assert rest_with_token.agent.messages == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_with_a_token_a_request_with_it_is_answered(
    rest_with_token: Server, scheme: str
) -> None:
    headers = {"Authorization": f"{scheme} {TOKEN}"}

    status, body = await rest_with_token.post(
        {"sender": "budi", "message": "halo"}, headers=headers
    )

    assert (status, body) == (200, [{"recipient_id": "budi", "text": "echo: halo"}])


async def test_without_a_token_a_remote_client_gets_403(rest: Server, remote_client) -> None:
    status, body = await rest.post({"sender": "budi", "message": "halo"})

    assert (status, body["error"]) == (403, "forbidden")
    assert "HELPDESK_REST_TOKEN" in body["message"]
    assert rest.agent.messages == []


async def test_with_a_token_a_remote_client_is_answered(
    rest_with_token: Server, remote_client
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}

    status, _ = await rest_with_token.post({"sender": "budi", "message": "halo"}, headers=headers)

    assert status == 200


async def test_authentication_comes_before_the_body_limit(rest_with_token: Server) -> None:
    body = json.dumps({"sender": "budi", "message": "x" * (2 * BODY_LIMIT)}).encode()

    status, answer = await rest_with_token.post(raw=body)

    assert (status, answer["error"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("ip", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("203.0.113.9", False),
        ("::ffff:203.0.113.9", False),
        ("", False),
        ("/run/rasa.sock", False),
        (None, False),
    ],
)
def test_loopback_addresses(ip: str | None, loopback: bool) -> None:
    assert is_loopback(ip) is loopback


def test_bearer_tokens_are_read_and_compared_exactly():
    assert bearer_token(f"Bearer {TOKEN}") == TOKEN
    assert bearer_token(f"  bearer   {TOKEN} ") == TOKEN
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN.upper(), TOKEN)
    assert not token_matches("", "")
    assert not token_matches("ü", TOKEN)


def test_the_token_comes_from_the_environment(monkeypatch) -> None:
    from helpdesk.settings import get_settings

    monkeypatch.setenv("HELPDESK_REST_TOKEN", TOKEN)
    get_settings.cache_clear()
    try:
        assert RestInput.from_credentials(None).token == TOKEN
        assert RestInput.from_credentials({}).token == TOKEN
    finally:
        get_settings.cache_clear()
    with pytest.raises(RestConfigError, match="HELPDESK_REST_TOKEN"):
        RestInput.from_credentials({"token": TOKEN})
    assert RestInput.name() == "rest"


# --- one channel per conversation (issue 11, item 3) ----------------------------------------


async def test_a_rest_message_cannot_join_a_whatsapp_conversation(rest: Server) -> None:
    store = rest.agent.tracker_store
    await log_user_message(store, PHONE, "halo", "whatsapp")
    before = await rest.agent.events(PHONE)

    status, body = await rest.post({"sender": PHONE, "message": "reset password sakti saya"})

    assert (status, body["error"]) == (409, "sender_in_use")
    assert rest.agent.messages == []
    assert await rest.agent.events(PHONE) == before


async def test_a_conversation_belongs_to_its_first_channel_in_every_session(rest: Server) -> None:
    store = rest.agent.tracker_store
    await log_user_message(store, PHONE, "halo", "whatsapp")
    tracker = await store.retrieve_full_tracker(PHONE)
    from rasa.shared.core.events import SessionStarted

    tracker.update(SessionStarted())  # a later session with no message yet
    await store.save(tracker)

    status, _ = await rest.post({"sender": PHONE, "message": "halo"})

    assert status == 409


async def test_a_rest_message_cannot_join_a_web_chat_session(rest: Server) -> None:
    session_id = "0123456789abcdef0123456789abcdef"
    await log_user_message(rest.agent.tracker_store, session_id, "halo", "socketio")

    status, _ = await rest.post({"sender": session_id, "message": "halo"})

    assert status == 409
    assert rest.agent.messages == []


async def test_rest_conversations_carry_on(rest: Server) -> None:
    for text in ("halo", "apa itu sp2d", "terima kasih"):
        status, _ = await rest.post({"sender": "integrator-42", "message": text})
        assert status == 200
    events = await rest.agent.events("integrator-42")
    assert [e.input_channel for e in events if isinstance(e, UserUttered)] == ["rest"] * 3


async def test_a_tracker_store_failure_gets_503_not_a_pass(rest: Server, monkeypatch) -> None:
    async def broken(sender_id: str) -> Any:
        raise ConnectionError("database is down")

    monkeypatch.setattr(rest.agent.tracker_store, "retrieve_full_tracker", broken)

    status, body = await rest.post({"sender": PHONE, "message": "halo"})

    assert (status, body["error"]) == (503, "unavailable")
    assert rest.agent.messages == []


# --- logs ------------------------------------------------------------------------------------


async def test_a_failure_is_logged_without_the_message_or_the_full_sender(
    rest: Server, caplog
) -> None:
    rest.agent.fail_with = RuntimeError(f"cannot parse nik {NIK} email {EMAIL}")
    caplog.set_level(logging.DEBUG)

    status, body = await rest.post(
        {"sender": PHONE, "message": f"nik saya {NIK} email {EMAIL} hp {PHONE}"}
    )

    assert (status, body["error"]) == (503, "unavailable")
    logged = "\n".join(
        r.getMessage() + (r.exc_text or "") for r in caplog.records if r.name == "connectors.rest"
    )
    assert "***7890" in logged and "RuntimeError" in logged
    for identifier in (NIK, EMAIL, PHONE):
        assert identifier not in logged


async def test_refusals_are_logged_without_the_sender(rest: Server, caplog) -> None:
    await log_user_message(rest.agent.tracker_store, PHONE, "halo", "whatsapp")
    caplog.set_level(logging.DEBUG)

    await rest.post({"sender": PHONE, "message": f"nik {NIK}"})

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "connectors.rest")
    assert "***7890" in logged
    assert PHONE not in logged and NIK not in logged


# --- the guard itself ------------------------------------------------------------------------


class CountingStore(InMemoryTrackerStore):
    """Rasa's in-memory store, counting full-tracker reads."""

    def __init__(self) -> None:
        super().__init__(Domain.empty())
        self.reads = 0

    async def retrieve_full_tracker(self, conversation_id: str) -> Any:
        self.reads += 1
        return await super().retrieve_full_tracker(conversation_id)


class App:
    """What the guard reads of a Sanic app: `app.ctx.agent.tracker_store`."""

    def __init__(self, store: Any) -> None:
        self.ctx = type("Ctx", (), {"agent": type("Agent", (), {"tracker_store": store})()})()


async def test_the_guard_remembers_owners_and_rereads_unowned_conversations() -> None:
    store = CountingStore()
    guard = ConversationGuard("rest", max_entries=2)
    app = App(store)

    assert await guard.other_channel("new", app) is None
    assert await guard.other_channel("new", app) is None
    assert store.reads == 2  # no owner yet: read each time

    await log_user_message(store, PHONE, "halo", "whatsapp")
    for _ in range(3):
        assert await guard.other_channel(PHONE, app) == "whatsapp"
    assert store.reads == 3  # the owner never changes: read once

    await log_user_message(store, "mine", "halo", "rest")
    assert await guard.other_channel("mine", app) is None
    assert await conversation_channel(store, "mine") == "rest"


async def test_the_guard_passes_without_an_agent() -> None:
    assert await ConversationGuard("rest").other_channel(PHONE) is None
    with pytest.raises(ValueError):
        ConversationGuard("")
    with pytest.raises(ValueError):
        ConversationGuard("rest", max_entries=0)


async def test_guarded_handlers_drop_messages_of_another_channels_conversation(caplog) -> None:
    # What WhatsApp and Telegram use: a conversation started over REST (an authenticated
    # gateway) is not joined by a WhatsApp message under the same id.
    store = CountingStore()
    await log_user_message(store, PHONE, "halo", "rest")
    handled: list[str] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message.sender_id)

    guard = ConversationGuard("whatsapp")
    guard._app = App(store)  # what `attach` remembers when the server starts
    handle = guard.guarded(on_new_message, logging.getLogger("connectors.whatsapp"))

    await handle(UserMessage("halo", None, PHONE, input_channel="whatsapp"))
    await handle(UserMessage("halo", None, "6289999999999", input_channel="whatsapp"))

    assert handled == ["6289999999999"]
    assert "***7890" in caplog.text and PHONE not in caplog.text


async def test_attach_remembers_the_app_when_the_server_starts() -> None:
    from sanic import Blueprint

    guard = ConversationGuard("socketio")
    blueprint = Blueprint("attach_test")
    guard.attach(blueprint)
    [listener] = [f for f in blueprint._future_listeners]
    app = App(InMemoryTrackerStore(Domain.empty()))
    await listener.listener(app, asyncio.get_running_loop())
    assert guard.tracker_store() is app.ctx.agent.tracker_store

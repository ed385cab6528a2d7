"""The Telegram channel: parsing, secret token, de-duplication, webhook registration, sending.

Webhook tests run the channel in an app built by `rasa.core.run.configure_app`, served on a
free local port (sanic-testing, which Sanic's `app.test_client` needs, is not installed), with
the conftest's collector in place of Rasa's agent. The channel talks to a fake Bot API server
(an aiohttp app on a free port) that records every request. Payloads follow the shapes of the
Bot API's `Update` objects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, AsyncIterator, Callable

import aiohttp
import pytest
from aiogram.utils import exceptions as tg_errors
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from connectors.common import mask_id
from connectors.telegram.output import TelegramConfigError, TelegramOutput
from connectors.telegram.payloads import normalize_command, parse_update, sender_name
from connectors.telegram.render import (
    CHOICES_PROMPT,
    CallbackData,
    button_rows,
    keyboard_markup,
    split_text,
    text_length,
)
from connectors.telegram.webhook import TelegramInput, verify_secret_token
from helpdesk.conversation.validation import validate_attachment
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from helpdesk.storage.db import make_engine, make_session_factory, session_scope
from helpdesk.storage.models import InboundMessage, utcnow

BOT_ID = 7012345678
ACCESS_TOKEN = f"{BOT_ID}:AAHfake-test-token_abcdefghijklmnopq"
BOT_NAME = "HelpdeskKemenkeuBot"
WEBHOOK_URL = "https://helpdesk.contoh.go.id/webhooks/telegram/webhook"
SECRET = "s3cret-token_for-tests"
CHAT_ID = 987654321
USER = {
    "id": CHAT_ID,
    "is_bot": False,
    "first_name": "Budi",
    "last_name": "Santoso",
    "username": "budisan",
    "language_code": "id",
}
CHAT = {
    "id": CHAT_ID,
    "first_name": "Budi",
    "last_name": "Santoso",
    "username": "budisan",
    "type": "private",
}
PHOTO_ID = "AgACAgUAAxkBAAIBZ2ZrT3Wk-8s_5xq1c9Kq0dH1vV2kAAJ6vDEbYk1ZVd0R3y8qv1wTAQADAgADeQADNQQ"
DOCUMENT_ID = "BQACAgUAAxkBAAIBaGZrT4k0c1W9X2p4bJrY1nq8s7eTAAKoDwACYk1ZVaXyqk6Ww0PyNQQ"
SECRET_TEXT = "NIK saya 3175091201850003 rahasia"
MENU_TITLES = [
    "1. Tanya jawab umum",
    "2. Informasi SP2D",
    "3. Cek kontrak",
    "4. Layanan DIGIT",
    "5. Reset password SAKTI",
    "6. Status tiket",
    "7. Bicara dengan petugas",
]


# --------------------------------------------------------------------------- payloads


def message_update(update_id: int = 10001, field_name: str = "message", **content: Any) -> dict:
    """An update with a `message` (or `edited_message`) from the citizen."""
    message = {"message_id": 1365, "from": USER, "chat": CHAT, "date": 1713072000, **content}
    if field_name == "edited_message":
        message["edit_date"] = 1713072060
    return {"update_id": update_id, field_name: message}


def text_update(text: str, update_id: int = 10001) -> dict:
    return message_update(update_id, text=text)


def callback_update(data: str, update_id: int = 10002, keyboard: list | None = None) -> dict:
    """A tap on an inline button of the bot's message."""
    bot_message = {
        "message_id": 1366,
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk", "username": BOT_NAME},
        "chat": CHAT,
        "date": 1713072001,
        "text": "Silakan pilih layanan:",
        "reply_markup": {
            "inline_keyboard": keyboard or [[{"text": "7. Bicara", "callback_data": data}]]
        },
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": USER,
            "message": bot_message,
            "chat_instance": "-8177290011187046913",
            "data": data,
        },
    }


def photo_update(update_id: int = 10003) -> dict:
    sizes = [
        {
            "file_id": "AgACAgUAAxkBAAIBZ2ZrT3-small1",
            "file_unique_id": "AQADerwxG2JNWVVy",
            "file_size": 1523,
            "width": 90,
            "height": 68,
        },
        {
            "file_id": PHOTO_ID,
            "file_unique_id": "AQADerwxG2JNWVV9",
            "file_size": 98544,
            "width": 1280,
            "height": 960,
        },
        {
            "file_id": "AgACAgUAAxkBAAIBZ2ZrT3-medium",
            "file_unique_id": "AQADerwxG2JNWVVx",
            "file_size": 21044,
            "width": 320,
            "height": 240,
        },
    ]
    return message_update(update_id, photo=sizes, caption="bukti transfer")


def document_update(update_id: int = 10004) -> dict:
    document = {
        "file_name": "surat-kuasa.pdf",
        "mime_type": "application/pdf",
        "file_id": DOCUMENT_ID,
        "file_unique_id": "AgADqA8AAmJNWVU",
        "file_size": 52344,
    }
    return message_update(update_id, document=document)


def location_update(update_id: int = 10005) -> dict:
    return message_update(update_id, location={"latitude": -6.17511, "longitude": 106.865036})


def metadata(update_id: int, message_id: int = 1365, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Budi Santoso",
        "channel": "telegram",
        "chat_id": str(CHAT_ID),
        "user_id": str(CHAT_ID),
        "username": "budisan",
        "update_id": update_id,
        "message_id": message_id,
        **extra,
    }


def menu_buttons(count: int = 7) -> list[dict[str, str]]:
    return [
        {"title": MENU_TITLES[i], "payload": f'/menu_select{{"number":"{i + 1}"}}'}
        for i in range(count)
    ]


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


# --------------------------------------------------------------------------- fake Bot API


@dataclass
class BotApiRequest:
    method: str
    token: str
    data: dict[str, Any]
    #: Uploaded files by field: (file name, bytes).
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class FakeBotApi:
    """A Bot API server on a free port: records requests, answers like Telegram.

    `failures` maps a method to the HTTP statuses of its next answers (then it succeeds).
    """

    url: str = ""
    username: str = BOT_NAME
    requests: list[BotApiRequest] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [r.data for r in self.requests if r.method == method]

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = dict(await request.post())
        files = {
            key: (value.filename, value.file.read())
            for key, value in form.items()
            if isinstance(value, web.FileField)
        }
        data = {key: str(value) for key, value in form.items() if key not in files}
        if "reply_markup" in data:
            data["reply_markup"] = json.loads(data["reply_markup"])
        self.requests.append(BotApiRequest(method, request.match_info["token"], data, files))
        script = self.failures.get(method) or []
        if script:
            status = script.pop(0)
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": "Error"}
            if status == 429:
                body["description"] = "Too Many Requests: retry after 1"
                body["parameters"] = {"retry_after": 1}
            return web.json_response(body, status=status)
        return web.json_response({"ok": True, "result": self.result(method, data)})

    def result(self, method: str, data: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Helpdesk",
                "username": self.username,
            }
        if method.startswith("send"):
            message = {
                "message_id": 2000 + len(self.requests),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk"},
                "chat": {"id": int(data["chat_id"]), "type": "private"},
                "date": 1713072002,
            }
            if "text" in data:
                message["text"] = data["text"]
            return message
        return True  # setWebhook, answerCallbackQuery, ...

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> None:
        await wait_until(lambda: len(self.calls(method)) >= count, timeout)


@asynccontextmanager
async def running_bot_api() -> AsyncIterator[FakeBotApi]:
    """A fake Bot API on a free local port."""
    fake = FakeBotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    async with running_bot_api() as fake:
        yield fake


# --------------------------------------------------------------------------- server harness


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def closed_port_url() -> str:
    """A local URL nobody listens on (connections are refused)."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def build_app(channel: TelegramInput, agent: Any) -> Sanic:
    from rasa.core.run import configure_app

    Sanic.test_mode = True  # every test builds an app of the same name
    app = configure_app(input_channels=[channel], enable_api=False)
    app.ctx.agent = agent
    return app


@dataclass
class WebhookServer:
    url: str
    channel: TelegramInput
    http: aiohttp.ClientSession

    async def post(
        self,
        payload: Any = None,
        *,
        raw: bytes | None = None,
        secret: str | None = SECRET,
        drain: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        """POST an update with the secret token header (None: without it).

        The update is handled in the background after the answer; with `drain` the call
        returns once that handling is done.
        """
        body = raw if raw is not None else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with self.http.post(
            f"{self.url}/webhooks/telegram/webhook", data=body, headers=headers
        ) as resp:
            answer = resp.status, await resp.json(content_type=None)
        if drain:
            await self.channel.drain()
        return answer

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.url}/webhooks/telegram{path}") as resp:
            return resp.status, await resp.text()


@asynccontextmanager
async def serve(channel: TelegramInput, agent: Any) -> AsyncIterator[WebhookServer]:
    """Serve `channel` in an app made by `rasa.core.run.configure_app`."""
    app = build_app(channel, agent)
    sock = _free_socket()
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            yield WebhookServer(url=url, channel=channel, http=http)
    finally:
        await server.before_stop()
        closing = server.close()
        if closing is not None:
            await closing
        await server.after_stop()
        sock.close()


def make_channel(api_url: str, **kwargs: Any) -> TelegramInput:
    kwargs.setdefault("secret_token", SECRET)
    output = TelegramOutput(ACCESS_TOKEN, api_url, backoff=0.01, timeout=5)
    return TelegramInput(
        ACCESS_TOKEN, BOT_NAME, WEBHOOK_URL, api_url=api_url, output=output, **kwargs
    )


@pytest.fixture
async def server(services, collector, bot_api) -> AsyncIterator[WebhookServer]:
    async with serve(make_channel(bot_api.url), collector) as running:
        await bot_api.wait_for("setWebhook")
        yield running


def rows(session_factory) -> list[InboundMessage]:
    with session_scope(session_factory) as session:
        return list(session.query(InboundMessage).order_by(InboundMessage.id))


def key(update_id: int) -> str:
    return f"{BOT_ID}:{update_id}"


# =========================================================================== pure functions


class TestParsing:
    def test_text(self) -> None:
        parsed = parse_update(text_update("gmn cr reset pw sakti min"))
        assert parsed.kind == "message:text" and parsed.callback_query_id is None
        message = parsed.message
        assert message is not None
        assert message.text == "gmn cr reset pw sakti min"
        assert message.chat_id == str(CHAT_ID) and message.update_id == 10001
        assert message.metadata == metadata(10001)

    def test_edited_text(self) -> None:
        parsed = parse_update(message_update(10009, "edited_message", text="cek tiket saya"))
        assert parsed.kind == "edited_message:text"
        assert parsed.message is not None and parsed.message.text == "cek tiket saya"
        assert parsed.message.metadata == metadata(10009, edited=True)

    def test_button_tap_gives_the_payload(self) -> None:
        parsed = parse_update(callback_update('/menu_select{"number":"7"}'))
        assert parsed.kind == "callback_query"
        assert parsed.callback_query_id == "4382bfdwdsb323b2d9"
        assert parsed.message is not None
        assert parsed.message.text == '/menu_select{"number":"7"}'
        assert parsed.message.chat_id == str(CHAT_ID)
        assert parsed.message.metadata == metadata(10002, message_id=1366)

    def test_photo_gives_the_largest_size(self) -> None:
        parsed = parse_update(photo_update())
        assert parsed.kind == "message:photo" and parsed.message is not None
        assert parsed.message.text == PHOTO_ID
        assert parsed.message.metadata["media"] == {
            "type": "photo",
            "id": PHOTO_ID,
            "file_unique_id": "AQADerwxG2JNWVV9",
            "mime_type": "image/jpeg",
            "filename": None,
            "file_size": 98544,
            "caption": "bukti transfer",
        }
        assert validate_attachment(parsed.message.text) == PHOTO_ID  # the ticket form takes it

    def test_document(self) -> None:
        parsed = parse_update(document_update())
        assert parsed.kind == "message:document" and parsed.message is not None
        assert parsed.message.text == DOCUMENT_ID
        media = parsed.message.metadata["media"]
        assert media["filename"] == "surat-kuasa.pdf"
        assert media["mime_type"] == "application/pdf" and media["caption"] is None
        assert validate_attachment(parsed.message.text) == DOCUMENT_ID

    @pytest.mark.parametrize(
        ("update_", "kind"),
        [
            (location_update(), "message:location"),
            (message_update(sticker={"file_id": "CAACAgIAAxk", "emoji": "👍"}), "message:sticker"),
            (
                message_update(
                    animation={"file_id": "CgACAgQAAx"}, document={"file_id": "CgACAgQAAx"}
                ),
                "message:animation",
            ),
            (message_update(contact={"phone_number": "6281234567890"}), "message:contact"),
            (message_update(text="   "), "message:text"),
            (message_update(poll={"id": "1"}), "message:poll"),
            (message_update(new_chat_title="Grup"), "message:other"),
            ({"update_id": 10010, "my_chat_member": {"chat": CHAT}}, "my_chat_member"),
            ({"update_id": 10011, "channel_post": {"chat": {"id": -100}}}, "channel_post"),
            ({"message": {"text": "halo"}}, "malformed"),
        ],
    )
    def test_other_updates_are_ignored(self, update_: dict, kind: str) -> None:
        parsed = parse_update(update_)
        assert parsed.message is None and parsed.kind == kind

    @pytest.mark.parametrize(
        ("user", "expected"),
        [
            (USER, "Budi Santoso"),
            ({"id": 1, "first_name": "  Siti  Aminah "}, "Siti Aminah"),
            ({"id": 1, "first_name": "", "last_name": "Wijaya"}, "Wijaya"),
            ({"id": 1}, None),
        ],
    )
    def test_sender_name(self, user: dict, expected: str | None) -> None:
        assert sender_name(user) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("/start", "/greet"),
            ("/start faq-sakti", "/greet"),
            (f"/start@{BOT_NAME}", "/greet"),
            ("/help", "/menu"),
            (f"/menu@{BOT_NAME.lower()}", "/menu"),
            ("/restart", "/restart"),
            ("/start@AnotherBot", None),
            ('/menu_select{"number":"2"}', '/menu_select{"number":"2"}'),
            ("/ bukan perintah", "/ bukan perintah"),
            ("halo /start", "halo /start"),
        ],
    )
    def test_bot_commands(self, text: str, expected: str | None) -> None:
        assert normalize_command(text, BOT_NAME) == expected

    def test_command_for_another_bot_is_ignored(self) -> None:
        assert parse_update(text_update("/start@AnotherBot"), bot_name=BOT_NAME).message is None

    def test_long_payload_round_trips_through_a_tap(self) -> None:
        mapping = CallbackData()
        payload = "Bagaimana cara mengajukan perubahan data supplier pada aplikasi SAKTI?"
        markup = keyboard_markup([{"title": payload, "payload": payload}], callback_data=mapping)
        assert markup is not None
        (button,) = markup["inline_keyboard"][0]
        assert len(button["callback_data"].encode()) <= 64
        parsed = parse_update(callback_update(button["callback_data"]), callback_data=mapping)
        assert parsed.message is not None and parsed.message.text == payload

    def test_unknown_long_payload_falls_back_to_the_button_title(self) -> None:
        data = "tg:" + "a" * 40  # made by another process
        keyboard = [[{"text": "Cara reset password SAKTI", "callback_data": data}]]
        parsed = parse_update(
            callback_update(data, keyboard=keyboard), callback_data=CallbackData()
        )
        assert parsed.message is not None and parsed.message.text == "Cara reset password SAKTI"

    def test_tap_without_data_is_answered_but_not_handled(self) -> None:
        update_ = callback_update("x")
        del update_["callback_query"]["data"]
        update_["callback_query"]["game_short_name"] = "kuis"
        parsed = parse_update(update_)
        assert parsed.message is None and parsed.callback_query_id == "4382bfdwdsb323b2d9"


class TestSecretToken:
    def test_right_token(self) -> None:
        assert verify_secret_token(SECRET, SECRET)

    @pytest.mark.parametrize("header", [None, "", "wrong", SECRET + "x", SECRET.upper(), "é"])
    def test_wrong_or_missing_token(self, header: str | None) -> None:
        assert not verify_secret_token(SECRET, header)


class TestSplitText:
    def test_short_text_is_one_message(self) -> None:
        assert split_text("  Tiket Anda 20260414-DBKSWU sudah dibuat.\n") == [
            "Tiket Anda 20260414-DBKSWU sudah dibuat."
        ]
        assert split_text("  \n ") == []

    def test_long_text_is_cut_at_paragraphs(self) -> None:
        paragraphs = [f"Paragraf {i}." + " isi jawaban" * 150 for i in range(6)]
        text = "\n\n".join(paragraphs)
        parts = split_text(text)
        assert len(parts) == 3
        assert all(len(p) <= 4096 for p in parts)
        assert all(p.startswith("Paragraf") for p in parts)
        assert "\n\n".join(parts) == text

    def test_lines_then_words_then_hard(self) -> None:
        lines = "\n".join(f"baris {i} " + "x" * 30 for i in range(300))
        assert all(p.startswith("baris") for p in split_text(lines))
        assert split_text("a" * 5000) == ["a" * 4096, "a" * 904]

    def test_limit_counts_utf16_units(self) -> None:
        parts = split_text("🙂" * 3000)  # 6000 UTF-16 units
        assert [text_length(p) for p in parts] == [4096, 1904]


class TestKeyboards:
    def test_three_short_buttons_share_a_row(self) -> None:
        buttons = [
            {"title": "Ya", "payload": "/affirm"},
            {"title": "Tidak", "payload": "/deny"},
            {"title": "Batal", "payload": "/cancel"},
        ]
        assert keyboard_markup(buttons) == {
            "inline_keyboard": [
                [
                    {"text": "Ya", "callback_data": "/affirm"},
                    {"text": "Tidak", "callback_data": "/deny"},
                    {"text": "Batal", "callback_data": "/cancel"},
                ]
            ]
        }

    def test_long_titles_or_many_buttons_go_one_per_row(self) -> None:
        assert button_rows(["Ya", "Tidak", "Bicara dengan petugas"]) == [[0], [1], [2]]
        assert button_rows(["a", "b", "c", "d"]) == [[0], [1], [2], [3]]
        markup = keyboard_markup(menu_buttons())
        assert markup is not None
        assert [len(row) for row in markup["inline_keyboard"]] == [1] * 7
        assert markup["inline_keyboard"][6] == [
            {"text": "7. Bicara dengan petugas", "callback_data": '/menu_select{"number":"7"}'}
        ]

    def test_rasa_button_types_are_kept(self) -> None:
        assert button_rows(["a"] * 7, "inline") == [list(range(7))]
        assert button_rows(["Ya", "Tidak"], "vertical") == [[0], [1]]
        reply = keyboard_markup(menu_buttons(3), "reply")
        assert reply == {
            "keyboard": [[{"text": t}] for t in MENU_TITLES[:3]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }

    def test_payload_or_title_may_be_missing(self) -> None:
        markup = keyboard_markup([{"title": "lewati"}, {"payload": "/deny"}, {"title": ""}])
        assert markup == {
            "inline_keyboard": [
                [
                    {"text": "lewati", "callback_data": "lewati"},
                    {"text": "/deny", "callback_data": "/deny"},
                ]
            ]
        }
        assert keyboard_markup([]) is None


class TestCredentials:
    def test_from_credentials(self) -> None:
        channel = TelegramInput.from_credentials(
            {
                "access_token": ACCESS_TOKEN,
                "verify": "@" + BOT_NAME,
                "webhook_url": WEBHOOK_URL,
                "secret_token": SECRET,
                "api_url": "http://127.0.0.1:8081/",
            }
        )
        assert isinstance(channel, TelegramInput)
        assert channel.name() == "telegram" and channel.url_prefix() == "telegram"
        assert channel.bot_name == BOT_NAME and channel.secret_token == SECRET
        assert channel.output.api_url == "http://127.0.0.1:8081"
        assert channel.dedup_key(5) == f"{BOT_ID}:5"

    def test_optional_credentials_have_defaults(self) -> None:
        channel = TelegramInput.from_credentials(
            {"access_token": ACCESS_TOKEN, "verify": BOT_NAME, "webhook_url": WEBHOOK_URL}
        )
        assert channel.secret_token is None
        assert channel.output.api_url == "https://api.telegram.org"

    @pytest.mark.parametrize(
        "credentials",
        [None, {}, {"access_token": "", "verify": "${TELEGRAM_BOT_NAME}", "webhook_url": " "}],
    )
    def test_missing_credentials_are_named(self, credentials: dict | None) -> None:
        with pytest.raises(TelegramConfigError) as raised:
            TelegramInput.from_credentials(credentials)
        for name in ("TELEGRAM_ACCESS_TOKEN", "TELEGRAM_BOT_NAME", "TELEGRAM_WEBHOOK_URL"):
            assert name in str(raised.value)

    @pytest.mark.parametrize(
        ("override", "named"),
        [
            ({"access_token": "not a token"}, "TELEGRAM_ACCESS_TOKEN"),
            ({"access_token": "abc:def"}, "TELEGRAM_ACCESS_TOKEN"),
            ({"secret_token": "rahasia dengan spasi"}, "TELEGRAM_SECRET_TOKEN"),
            ({"webhook_url": "helpdesk.contoh.go.id/hook"}, "TELEGRAM_WEBHOOK_URL"),
        ],
    )
    def test_invalid_credentials(self, override: dict, named: str) -> None:
        credentials = {"access_token": ACCESS_TOKEN, "verify": BOT_NAME, "webhook_url": WEBHOOK_URL}
        with pytest.raises(TelegramConfigError, match=named):
            TelegramInput.from_credentials({**credentials, **override})

    def test_mask_id(self) -> None:
        assert mask_id(CHAT_ID) == "***4321" and mask_id(None) == "***"


# =========================================================================== webhook


async def test_health_route(server) -> None:
    assert await server.get("/") == (200, '{"status":"ok"}')


async def test_text_message_reaches_rasa(server, collector) -> None:
    assert await server.post(text_update("gmn cr reset pw sakti min")) == (200, {"status": "ok"})
    (message,) = collector.messages
    assert isinstance(message, UserMessage)
    assert message.text == "gmn cr reset pw sakti min"
    assert message.sender_id == str(CHAT_ID)
    assert message.input_channel == "telegram"
    assert message.message_id == key(10001)
    assert message.metadata == metadata(10001)
    assert message.output_channel.wrapped is server.channel.get_output_channel()


async def test_edited_message_reaches_rasa(server, collector) -> None:
    status, _ = await server.post(message_update(10009, "edited_message", text="status tiket"))
    assert status == 200
    assert collector.texts == ["status tiket"]
    assert collector.messages[0].metadata["edited"] is True


async def test_button_tap_gives_the_payload_and_is_answered(server, collector, bot_api) -> None:
    assert (await server.post(callback_update('/menu_select{"number":"7"}')))[0] == 200
    assert collector.texts == ['/menu_select{"number":"7"}']
    assert bot_api.calls("answerCallbackQuery") == [{"callback_query_id": "4382bfdwdsb323b2d9"}]


async def test_tap_without_data_is_answered_only(server, collector, bot_api) -> None:
    update_ = callback_update("x")
    del update_["callback_query"]["data"]
    assert await server.post(update_) == (200, {"status": "ignored"})
    assert collector.messages == []
    assert len(bot_api.calls("answerCallbackQuery")) == 1


async def test_photo_and_document_give_their_file_id(server, collector) -> None:
    assert (await server.post(photo_update()))[0] == 200
    assert (await server.post(document_update()))[0] == 200
    assert collector.texts == [PHOTO_ID, DOCUMENT_ID]
    assert collector.messages[0].metadata["media"]["type"] == "photo"
    assert collector.messages[1].metadata["media"]["filename"] == "surat-kuasa.pdf"


async def test_location_is_ignored_and_logged(server, collector, session_factory, caplog) -> None:
    caplog.set_level(logging.INFO, logger="connectors.telegram")
    assert await server.post(location_update()) == (200, {"status": "ignored"})
    assert collector.messages == []
    assert rows(session_factory) == []
    assert "message:location" in log_text(caplog)


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
async def test_wrong_or_missing_secret_token_is_refused(
    server, collector, session_factory, bot_api, secret
) -> None:
    requests_before = len(bot_api.requests)
    status, _ = await server.post(callback_update("/affirm"), secret=secret)
    assert status == 403
    assert collector.messages == []
    assert rows(session_factory) == []
    assert len(bot_api.requests) == requests_before  # the tap is not even answered


async def test_without_secret_token_every_request_is_accepted(services, collector, bot_api) -> None:
    async with serve(make_channel(bot_api.url, secret_token=None), collector) as running:
        assert (await running.post(text_update("halo"), secret=None))[0] == 200
    assert collector.texts == ["halo"]


async def test_malformed_json_is_refused(server, collector) -> None:
    assert (await server.post(raw=b"{not json"))[0] == 400
    assert (await server.post(raw=b"[1, 2]"))[0] == 400
    assert collector.messages == []


async def test_redelivery_is_answered_once_also_after_restart(
    services, collector, bot_api, db_url, session_factory
) -> None:
    payload = callback_update("/affirm", update_id=20001)
    async with serve(make_channel(bot_api.url), collector) as first:
        assert await first.post(payload) == (200, {"status": "ok"})
        assert await first.post(payload) == (200, {"status": "duplicate"})
    assert collector.texts == ["/affirm"]
    assert len(bot_api.calls("answerCallbackQuery")) == 1

    # a new process: new app, new engine, same SQLite database
    engine = make_engine(db_url)
    set_services(Services(Settings(), session_factory=make_session_factory(engine)))
    try:
        async with serve(make_channel(bot_api.url), collector) as second:
            assert await second.post(payload) == (200, {"status": "duplicate"})
    finally:
        engine.dispose()
    assert collector.texts == ["/affirm"]
    (row,) = rows(session_factory)
    assert (row.channel, row.message_id, row.sender, row.status) == (
        "telegram",
        key(20001),
        str(CHAT_ID),
        "done",
    )


async def test_update_is_answered_before_the_dialogue_finishes(server, collector) -> None:
    collector.block = asyncio.Event()
    payload = text_update("halo", update_id=20002)
    # Telegram gets its 200 at once, while the dialogue still works on the message ...
    assert await server.post(payload, drain=False) == (200, {"status": "ok"})
    await wait_until(lambda: len(collector.messages) == 1)
    # ... and a re-delivery meanwhile is acknowledged, not handled twice.
    assert await server.post(payload, drain=False) == (200, {"status": "duplicate"})
    collector.block.set()
    await server.channel.drain()
    assert await server.post(payload) == (200, {"status": "duplicate"})
    assert collector.texts == ["halo"]


async def test_updates_of_one_chat_are_handled_in_order(server, collector) -> None:
    collector.block = asyncio.Event()
    assert (await server.post(text_update("pertama", 20010), drain=False))[0] == 200
    assert (await server.post(text_update("kedua", 20011), drain=False))[0] == 200
    await wait_until(lambda: len(collector.messages) == 1)
    await asyncio.sleep(0.1)
    assert collector.texts == ["pertama"]  # the second waits for the first
    collector.block.set()
    await server.channel.drain()
    assert collector.texts == ["pertama", "kedua"]


async def test_unfinished_updates_are_handled_again_at_start(
    services, collector, bot_api, repository, session_factory
) -> None:
    channel = make_channel(bot_api.url)
    crashed = channel.inbound(parse_update(text_update("tolong reset password", 20012)).message)
    assert repository.claim("telegram", key(20012), str(CHAT_ID), crashed.to_json())
    with session_scope(session_factory) as session:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.message_id == key(20012))
            .values(received_at=utcnow() - timedelta(minutes=5))
        )
    async with serve(channel, collector) as running:
        await wait_until(lambda: len(collector.messages) == 1)
        await running.channel.drain()
    assert collector.texts == ["tolong reset password"]
    assert collector.messages[0].sender_id == str(CHAT_ID)
    assert repository.get("telegram", key(20012)).status == "done"


async def test_update_left_unfinished_by_a_crash_is_handled_again(
    server, collector, repository, session_factory
) -> None:
    assert repository.claim("telegram", key(20003), str(CHAT_ID))  # the process died here
    with session_scope(session_factory) as session:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.message_id == key(20003))
            .values(received_at=utcnow() - timedelta(minutes=5))
        )
    assert await server.post(text_update("tolong reset password", 20003)) == (200, {"status": "ok"})
    assert collector.texts == ["tolong reset password"]
    assert repository.get("telegram", key(20003)).status == "done"


async def test_handling_failure_is_logged_and_acknowledged(
    server, collector, repository, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.telegram")
    collector.fail_with = RuntimeError("model exploded")
    assert (await server.post(text_update(SECRET_TEXT, 20004)))[0] == 200
    assert repository.get("telegram", key(20004)).status == "done"
    text = log_text(caplog)
    assert "RuntimeError" in text and "***4321" in text
    assert SECRET_TEXT not in text and str(CHAT_ID) not in text


class BrokenRepository:
    def claim(self, *args: Any) -> bool:
        raise OperationalError("INSERT ...", {"payload": SECRET_TEXT}, Exception("disk I/O error"))


async def test_database_failure_makes_telegram_retry(collector, bot_api, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.telegram")
    channel = make_channel(bot_api.url, repository=BrokenRepository())
    async with serve(channel, collector) as running:
        assert await running.post(text_update(SECRET_TEXT)) == (503, {"status": "unavailable"})
    assert collector.messages == []
    assert "OperationalError" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


# =========================================================================== webhook registration


async def test_app_start_registers_the_webhook_once_in_the_background(
    services, collector, bot_api
) -> None:
    channel = make_channel(bot_api.url)
    build_app(channel, collector)
    channel.get_output_channel()
    assert bot_api.requests == []  # building the app contacts nobody

    async with serve(channel, collector) as running:
        await bot_api.wait_for("setWebhook")
        assert (await running.get("/"))[0] == 200
        await asyncio.sleep(0.1)
    assert bot_api.methods == ["getMe", "setWebhook"]
    (registration,) = bot_api.calls("setWebhook")
    assert registration == {
        "url": WEBHOOK_URL,
        "secret_token": SECRET,
        "allowed_updates": '["message", "edited_message", "callback_query"]',
    }
    assert {r.token for r in bot_api.requests} == {ACCESS_TOKEN}


async def test_failed_registration_does_not_stop_the_app(
    services, collector, bot_api, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.telegram")
    bot_api.failures["setWebhook"] = [500]
    async with serve(make_channel(bot_api.url), collector) as running:
        await wait_until(lambda: "registering the webhook at start failed" in log_text(caplog))
        assert (await running.post(text_update("halo")))[0] == 200
    assert collector.texts == ["halo"]
    assert len(bot_api.calls("setWebhook")) == 1
    assert ACCESS_TOKEN not in log_text(caplog)


async def test_unreachable_bot_api_does_not_stop_the_app(services, collector, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.telegram")
    async with serve(make_channel(closed_port_url()), collector) as running:
        assert (await running.post(text_update("halo")))[0] == 200
        await wait_until(lambda: "NetworkError" in log_text(caplog))
    assert collector.texts == ["halo"]
    assert ACCESS_TOKEN not in log_text(caplog)


async def test_token_of_another_bot_leaves_the_webhook_alone(
    services, collector, bot_api, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.telegram")
    bot_api.username = "SomeoneElsesBot"
    async with serve(make_channel(bot_api.url), collector):
        await wait_until(lambda: "SomeoneElsesBot" in log_text(caplog))
    assert bot_api.methods == ["getMe"]


async def register(server: WebhookServer, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """POST /set_webhook with `headers`."""
    url = f"{server.url}/webhooks/telegram/set_webhook"
    async with server.http.post(url, headers=headers or {}) as resp:
        return resp.status, await resp.text()


API_TOKEN = "rasa-api-token-for-tests"


@pytest.fixture
async def admin_server(services, collector, bot_api) -> AsyncIterator[WebhookServer]:
    async with serve(make_channel(bot_api.url, api_token=API_TOKEN), collector) as running:
        await bot_api.wait_for("setWebhook")
        yield running


async def test_set_webhook_route(admin_server, bot_api) -> None:
    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
    assert await register(admin_server, bearer) == (200, "Webhook setup successful")
    assert len(bot_api.calls("setWebhook")) == 2  # at start, then on request
    bot_api.failures["setWebhook"] = [400]
    status, text = await register(admin_server, bearer)
    assert status == 502 and text.startswith("Webhook setup failed")


async def test_the_secret_token_may_register_too(admin_server, bot_api) -> None:
    assert (await register(admin_server, {"Authorization": f"Bearer {SECRET}"}))[0] == 200
    assert (await register(admin_server, {"X-Telegram-Bot-Api-Secret-Token": SECRET}))[0] == 200
    assert len(bot_api.calls("setWebhook")) == 3


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": API_TOKEN},  # no scheme
        {"Authorization": "Basic " + API_TOKEN},
        {"X-Telegram-Bot-Api-Secret-Token": API_TOKEN},  # the API token is no secret token
    ],
)
async def test_registering_needs_a_token(admin_server, bot_api, headers) -> None:
    status, text = await register(admin_server, headers)
    assert status == 401 and API_TOKEN not in text
    assert len(bot_api.calls("setWebhook")) == 1  # only the one at start


async def test_set_webhook_is_not_a_get_route_any_more(admin_server, bot_api) -> None:
    assert (await admin_server.get("/set_webhook"))[0] == 405
    assert len(bot_api.calls("setWebhook")) == 1


async def test_without_tokens_nobody_may_register(services, collector, bot_api) -> None:
    channel = make_channel(bot_api.url, api_token="", secret_token=None)
    async with serve(channel, collector) as running:
        await bot_api.wait_for("setWebhook")
        assert (await register(running, {"Authorization": "Bearer "}))[0] == 401
        assert (await register(running, {"Authorization": "Bearer None"}))[0] == 401
    assert len(bot_api.calls("setWebhook")) == 1


# =========================================================================== sending


@pytest.fixture
async def output(bot_api) -> AsyncIterator[TelegramOutput]:
    channel = TelegramOutput(ACCESS_TOKEN, bot_api.url, backoff=0.01, timeout=5)
    yield channel
    await channel.close()


async def test_answers_go_out_through_the_bot_api(services, bot_api) -> None:
    class EchoAgent:
        async def handle_message(self, user_message: UserMessage) -> None:
            await user_message.output_channel.send_response(
                user_message.sender_id,
                {"text": "Silakan pilih layanan:", "buttons": menu_buttons()},
            )

    async with serve(make_channel(bot_api.url), EchoAgent()) as running:
        assert (await running.post(text_update("menu")))[0] == 200
    (sent,) = bot_api.calls("sendMessage")
    assert sent["chat_id"] == str(CHAT_ID) and sent["text"] == "Silakan pilih layanan:"
    assert len(sent["reply_markup"]["inline_keyboard"]) == 7


async def test_text_message(output, bot_api) -> None:
    await output.send_text_message(str(CHAT_ID), "Tiket Anda 20260414-DBKSWU sudah dibuat.")
    assert bot_api.calls("sendMessage") == [
        {"chat_id": str(CHAT_ID), "text": "Tiket Anda 20260414-DBKSWU sudah dibuat."}
    ]


async def test_an_agents_reply_goes_out_once(output, bot_api, repository) -> None:
    output.reply_ledger = repository
    reply = {"text": "Baik, kami cek dahulu.", "handoff_message_id": 7}
    await output.send_response(str(CHAT_ID), dict(reply))
    await output.send_response(str(CHAT_ID), dict(reply))
    assert [call["text"] for call in bot_api.calls("sendMessage")] == [reply["text"]]
    assert repository.replies_sent("telegram", "handoff:7") == {1}


async def test_paragraphs_stay_in_one_message_and_long_text_is_split(output, bot_api) -> None:
    await output.send_text_message(str(CHAT_ID), "Paragraf satu.\n\nParagraf dua.")
    paragraphs = [f"Paragraf {i}." + " isi jawaban" * 150 for i in range(6)]
    await output.send_text_message(str(CHAT_ID), "\n\n".join(paragraphs))
    sent = [call["text"] for call in bot_api.calls("sendMessage")]
    assert sent[0] == "Paragraf satu.\n\nParagraf dua."
    assert len(sent) == 4 and all(len(t) <= 4096 for t in sent)
    assert "\n\n".join(sent[1:]) == "\n\n".join(paragraphs)


async def test_three_buttons_make_one_row(output, bot_api) -> None:
    buttons = [
        {"title": "Ya", "payload": "/affirm"},
        {"title": "Tidak", "payload": "/deny"},
        {"title": "Batal", "payload": "/cancel"},
    ]
    await output.send_text_with_buttons(str(CHAT_ID), "Apakah data sudah benar?", buttons)
    (sent,) = bot_api.calls("sendMessage")
    assert sent["text"] == "Apakah data sudah benar?"
    (row,) = sent["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in row] == ["/affirm", "/deny", "/cancel"]


async def test_seven_buttons_make_seven_rows(output, bot_api) -> None:
    await output.send_response(
        str(CHAT_ID), {"text": "Silakan pilih layanan:", "buttons": menu_buttons()}
    )
    (sent,) = bot_api.calls("sendMessage")
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [[t] for t in MENU_TITLES]
    assert keyboard[3][0]["callback_data"] == '/menu_select{"number":"4"}'


async def test_reply_keyboard_via_button_type(output, bot_api) -> None:
    await output.send_response(
        str(CHAT_ID),
        {"text": "Pilih layanan:", "buttons": menu_buttons(7), "button_type": "reply"},
    )
    (sent,) = bot_api.calls("sendMessage")
    assert sent["reply_markup"] == {
        "keyboard": [[{"text": t}] for t in MENU_TITLES],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


async def test_rasa_inline_button_type_keeps_one_row(output, bot_api) -> None:
    await output.send_text_with_buttons(
        str(CHAT_ID), "Nilai layanan kami:", menu_buttons(5), button_type="inline"
    )
    (sent,) = bot_api.calls("sendMessage")
    assert [len(row) for row in sent["reply_markup"]["inline_keyboard"]] == [5]


async def test_long_text_with_buttons_puts_the_keyboard_last(output, bot_api) -> None:
    text = "Langkah reset password: " + "ikuti petunjuk ini. " * 300
    await output.send_text_with_buttons(str(CHAT_ID), text, menu_buttons(2))
    first, second = bot_api.calls("sendMessage")
    assert "reply_markup" not in first
    assert second["reply_markup"]["inline_keyboard"]
    assert len(first["text"]) <= 4096 and first["text"] + " " + second["text"] == text.strip()


async def test_buttons_without_text_get_a_prompt(output, bot_api) -> None:
    await output.send_text_with_buttons(str(CHAT_ID), "", menu_buttons(2))
    assert bot_api.calls("sendMessage")[0]["text"] == CHOICES_PROMPT


async def test_image_and_custom_json(output, bot_api) -> None:
    await output.send_image_url(str(CHAT_ID), "https://contoh.go.id/alur.png")
    await output.send_custom_json(str(CHAT_ID), {"text": "Teks khusus", "parse_mode": "HTML"})
    assert bot_api.calls("sendPhoto") == [
        {"chat_id": str(CHAT_ID), "photo": "https://contoh.go.id/alur.png"}
    ]
    assert bot_api.calls("sendMessage") == [
        {"chat_id": str(CHAT_ID), "text": "Teks khusus", "parse_mode": "HTML"}
    ]


async def test_output_channel_inside_a_running_loop(services, bot_api) -> None:
    """What Rasa's `/conversations/<id>/execute?output_channel=latest` does (the idle sweeper)."""
    from rasa.server import _get_output_channel

    channel = make_channel(bot_api.url)
    request = SimpleNamespace(
        args={"output_channel": "latest"},
        app=SimpleNamespace(ctx=SimpleNamespace(input_channels=[channel])),
    )
    tracker = DialogueStateTracker.from_events(
        str(CHAT_ID), [UserUttered("halo", input_channel="telegram")]
    )
    output = _get_output_channel(request, tracker)
    assert output is channel.get_output_channel()
    assert bot_api.requests == []  # no webhook registration, no network
    await output.send_text_message(str(CHAT_ID), "Sesi Anda kami tutup karena tidak aktif.")
    assert bot_api.methods == ["sendMessage"]
    await output.close()


async def test_failed_send_is_logged_without_content(output, bot_api, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.telegram")
    bot_api.failures["sendMessage"] = [403]
    await output.send_text_message(str(CHAT_ID), SECRET_TEXT + " " + "a" * 5000)
    assert len(bot_api.calls("sendMessage")) == 1  # the rest is not sent after a failure
    text = log_text(caplog)
    assert "Unauthorized" in text and "***4321" in text
    assert SECRET_TEXT not in text and str(CHAT_ID) not in text and ACCESS_TOKEN not in text


async def test_raise_on_failure(bot_api) -> None:
    bot_api.failures["sendMessage"] = [400]
    output = TelegramOutput(ACCESS_TOKEN, bot_api.url, raise_on_failure=True, backoff=0.01)
    with pytest.raises(tg_errors.BadRequest):
        await output.send_text_message(str(CHAT_ID), "halo")
    await output.close()


async def test_flood_control_is_retried(output, bot_api) -> None:
    bot_api.failures["sendMessage"] = [429]
    await output.send_text_message(str(CHAT_ID), "halo")
    assert len(bot_api.calls("sendMessage")) == 2


async def test_network_errors_are_retried_then_logged(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.telegram")
    output = TelegramOutput(ACCESS_TOKEN, closed_port_url(), backoff=0.01, attempts=3)
    await output.send_text_message(str(CHAT_ID), SECRET_TEXT)
    await output.close()
    records = [r for r in caplog.records if r.name == "connectors.telegram"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING, logging.ERROR]
    assert "NetworkError" in records[-1].getMessage()
    assert SECRET_TEXT not in log_text(caplog) and ACCESS_TOKEN not in log_text(caplog)


# =========================================================================== hostile input


async def test_an_oversized_update_is_refused_unread(server, collector) -> None:
    from connectors.telegram.webhook import BODY_LIMIT

    body = json.dumps(text_update("halo", 30001)).encode() + b" " * BODY_LIMIT
    status, _ = await server.post(raw=body)
    assert status == 413
    assert collector.messages == []


async def test_deep_nesting_is_a_bad_request_not_a_crash(server, collector) -> None:
    assert (await server.post(raw=b"[" * 5000 + b"]" * 5000))[0] == 400
    nested: Any = "x"
    for _ in range(40):
        nested = {"a": nested}
    assert (await server.post({**text_update("halo", 30002), "deep": nested}))[0] == 400
    assert collector.messages == []
    assert (await server.post(text_update("halo lagi", 30003)))[0] == 200
    assert collector.texts == ["halo lagi"]


async def test_a_lone_surrogate_or_nul_is_repaired(server, collector, repository) -> None:
    body = json.dumps(text_update("halo \ud800 pak\x00", 30004)).encode("ascii")
    assert (await server.post(raw=body))[0] == 200
    assert collector.texts == ["halo \ufffd pak"]
    assert repository.get("telegram", key(30004)).status == "done"


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 2**70, "message": {"chat": CHAT, "text": "halo"}},
        {"update_id": 30005, "message": {"chat": {"id": "x" * 100_000}, "text": "halo"}},
        {"update_id": 30006, "message": {"chat": {"id": 10**30}, "text": "halo"}},
        {"update_id": 30007, "message": {"chat": {"id": [CHAT_ID]}, "text": "halo"}},
        {"update_id": "1" * 50, "message": {"chat": CHAT, "text": "halo"}},
    ],
)
async def test_ids_that_are_not_telegrams_are_acknowledged_and_ignored(
    server, collector, session_factory, update
) -> None:
    assert (await server.post(update))[0] == 200
    assert collector.messages == []
    assert rows(session_factory) == []


async def test_text_and_metadata_are_capped(server, collector) -> None:
    from connectors.common import MESSAGE_TEXT_LIMIT

    update = text_update("keluhan " * 2500, 30008)
    update["message"]["from"] = {**USER, "first_name": "B" * 100_000, "username": "u" * 5000}
    assert (await server.post(update))[0] == 200
    (user_message,) = collector.messages
    assert len(user_message.text) <= MESSAGE_TEXT_LIMIT
    assert user_message.text.endswith("keluhan")
    assert len(user_message.metadata["name"]) <= 128
    assert len(user_message.metadata["username"]) <= 64


async def test_an_exception_quoting_the_message_is_not_logged_with_it(
    server, collector, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.telegram")
    collector.fail_with = ValueError(f"could not parse {SECRET_TEXT!r}")
    assert (await server.post(text_update(SECRET_TEXT, 30009)))[0] == 200
    text = log_text(caplog)
    assert "ValueError" in text and "conftest.py" in text
    assert SECRET_TEXT not in text

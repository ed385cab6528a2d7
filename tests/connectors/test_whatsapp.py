"""The WhatsApp Cloud API channel: parsing, signatures, de-duplication, recovery, sending.

Webhook tests run the channel in an app built by `rasa.core.run.configure_app`, served on a
free local port, with a collector in place of Rasa's agent; outbound tests send to a fake
Graph API (see conftest.py). Payloads follow Meta's real webhook shape.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, AsyncIterator, Callable

import aiohttp
import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sqlalchemy import update
from sqlalchemy.exc import DataError, OperationalError

from connectors.whatsapp.output import (
    DEFAULT_API_URL,
    WhatsAppConfigError,
    WhatsAppOutput,
    WhatsAppSendError,
)
from connectors.whatsapp.payloads import WhatsAppMessage, mask_phone, parse_message, parse_webhook
from connectors.whatsapp.render import (
    CHOICES_PROMPT,
    PayloadIds,
    button_bodies,
    shorten,
    split_text,
    split_title,
)
from connectors.whatsapp.webhook import WhatsAppInput, verify_signature, verify_subscription
from helpdesk.conversation.validation import validate_attachment
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from helpdesk.storage.db import make_engine, make_session_factory, session_scope
from helpdesk.storage.inbound_messages import InboundMessageRepository
from helpdesk.storage.models import InboundMessage, utcnow

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "109876543210987"
SENDER = "6281234567890"
SENDER_NAME = "Budi Santoso"
SECRET_TEXT = "NIK saya 3175091201850003 rahasia"


# --------------------------------------------------------------------------- payloads


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The `X-Hub-Signature-256` header Meta sends with `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def delivery(
    messages: list[dict[str, Any]] | None = None,
    *,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A webhook delivery in Meta's shape: entry[].changes[].value."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": phone_number_id},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": SENDER_NAME}, "wa_id": SENDER}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def message(kind: str, content: Any, *, message_id: str, sender: str = SENDER) -> dict[str, Any]:
    """One entry of `value.messages[]`."""
    return {
        "from": sender,
        "id": message_id,
        "timestamp": "1713072000",
        "type": kind,
        kind: content,
    }


def text_message(body: str, *, message_id: str = "wamid.TEXT1", sender: str = SENDER) -> dict:
    return message("text", {"body": body}, message_id=message_id, sender=sender)


def button_reply(reply_id: str, title: str, *, message_id: str = "wamid.BTN1") -> dict:
    content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return message("interactive", content, message_id=message_id)


def list_reply(reply_id: str, title: str, *, message_id: str = "wamid.LIST1") -> dict:
    content = {
        "type": "list_reply",
        "list_reply": {"id": reply_id, "title": title, "description": "Layanan SP2D"},
    }
    return message("interactive", content, message_id=message_id)


def status_callback(status: str = "delivered") -> dict[str, Any]:
    return {
        "id": "wamid.OUT1",
        "status": status,
        "timestamp": "1713072001",
        "recipient_id": SENDER,
        "conversation": {"id": "c1", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
    }


def metadata(message_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": SENDER_NAME,
        "channel": "whatsapp",
        "phone": SENDER,
        "message_id": message_id,
        **extra,
    }


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the records say, tracebacks included."""
    formatter = logging.Formatter()
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)


# --------------------------------------------------------------------------- server harness


@dataclass
class WebhookServer:
    """A running Rasa app with the channel, and an HTTP client for it."""

    url: str
    channel: WhatsAppInput
    http: aiohttp.ClientSession

    @property
    def webhook(self) -> str:
        return f"{self.url}/webhooks/whatsapp/webhook"

    async def post(
        self, payload: Any = None, *, raw: bytes | None = None, signature: str | None = "valid"
    ) -> int:
        """POST a delivery, signed correctly unless `signature` is given (None: no header)."""
        body = raw if raw is not None else encode(payload)
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self.http.post(self.webhook, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve(channel: WhatsAppInput, agent: Any) -> AsyncIterator[WebhookServer]:
    """Serve `channel` in an app made by `rasa.core.run.configure_app`; `agent` handles messages."""
    from rasa.core.run import configure_app

    Sanic.test_mode = True  # every test builds an app of the same name
    app = configure_app(input_channels=[channel], enable_api=False)
    app.ctx.agent = agent
    sock = _free_socket()
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()  # create_server has already started listening
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


def make_channel(api_url: str = DEFAULT_API_URL, **kwargs: Any) -> WhatsAppInput:
    output = WhatsAppOutput(ACCESS_TOKEN, PHONE_NUMBER_ID, api_url, backoff=0.01, timeout=5)
    return WhatsAppInput(
        ACCESS_TOKEN, PHONE_NUMBER_ID, APP_SECRET, VERIFY_TOKEN, api_url, output=output, **kwargs
    )


@pytest.fixture
async def server(services, collector) -> AsyncIterator[WebhookServer]:
    async with serve(make_channel(), collector) as running:
        yield running


def rows(session_factory) -> list[InboundMessage]:
    with session_scope(session_factory) as session:
        return list(session.query(InboundMessage).order_by(InboundMessage.id))


def backdate(session_factory, message_id: str, age: timedelta) -> None:
    with session_scope(session_factory) as session:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.message_id == message_id)
            .values(received_at=utcnow() - age)
        )


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `condition` (background work) until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# =========================================================================== pure functions


class TestSignature:
    BODY = encode(delivery([text_message("halo")]))

    def test_valid_signature_is_accepted(self) -> None:
        assert verify_signature(APP_SECRET, self.BODY, sign(self.BODY))

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            sign(BODY, "another-secret"),
            sign(BODY + b" "),
            "sha1=" + hmac.new(APP_SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
            "sha256=",
            "sha256=zz",
            "sha256=" + "é" * 64,
        ],
    )
    def test_wrong_missing_or_malformed_signature_is_refused(self, header: str | None) -> None:
        assert not verify_signature(APP_SECRET, self.BODY, header)

    def test_tampered_body_is_refused(self) -> None:
        tampered = self.BODY.replace(b"halo", b"hal0")
        assert not verify_signature(APP_SECRET, tampered, sign(self.BODY))

    def test_empty_secret_never_verifies(self) -> None:
        assert not verify_signature("", self.BODY, sign(self.BODY, ""))


class TestSubscription:
    def test_right_token_gives_the_challenge(self) -> None:
        args = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}
        assert verify_subscription(args, VERIFY_TOKEN) == "1158"

    @pytest.mark.parametrize(
        "args",
        [
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            {"hub.mode": "subscribe", "hub.challenge": "1"},
        ],
    )
    def test_anything_else_is_refused(self, args: dict[str, str]) -> None:
        assert verify_subscription(args, VERIFY_TOKEN) is None


class TestParsing:
    def test_text(self) -> None:
        batch = parse_webhook(delivery([text_message("gmn cr reset pw sakti min")]))
        assert batch.ignored == () and batch.statuses == 0
        (parsed,) = batch.messages
        assert parsed.text == "gmn cr reset pw sakti min"
        assert parsed.sender == SENDER
        assert parsed.type == "text"
        assert parsed.metadata == metadata("wamid.TEXT1")

    def test_reply_button_gives_the_offered_payload(self) -> None:
        (parsed,) = parse_webhook(delivery([button_reply("/affirm", "Ya")])).messages
        assert parsed.text == "/affirm"
        assert parsed.metadata == metadata("wamid.BTN1")

    def test_list_row_gives_the_offered_payload(self) -> None:
        (parsed,) = parse_webhook(delivery([list_reply("2", "Informasi SP2D")])).messages
        assert parsed.text == "2"

    def test_template_quick_reply_gives_its_payload(self) -> None:
        raw = message("button", {"payload": "/deny", "text": "Tidak"}, message_id="wamid.T1")
        (parsed,) = parse_webhook(delivery([raw])).messages
        assert parsed.text == "/deny"

    @pytest.mark.parametrize(
        ("kind", "content", "media"),
        [
            (
                "image",
                {"caption": "bukti transfer", "mime_type": "image/jpeg", "id": "1503986423619234"},
                {
                    "type": "image",
                    "id": "1503986423619234",
                    "mime_type": "image/jpeg",
                    "caption": "bukti transfer",
                    "filename": None,
                },
            ),
            (
                "document",
                {
                    "caption": "surat",
                    "filename": "surat-kuasa.pdf",
                    "mime_type": "application/pdf",
                    "sha256": "abc",
                    "id": "2093847561029384",
                },
                {
                    "type": "document",
                    "id": "2093847561029384",
                    "mime_type": "application/pdf",
                    "caption": "surat",
                    "filename": "surat-kuasa.pdf",
                },
            ),
            (
                "audio",
                {"mime_type": "audio/ogg; codecs=opus", "voice": True, "id": "918273645501234"},
                {
                    "type": "audio",
                    "id": "918273645501234",
                    "mime_type": "audio/ogg; codecs=opus",
                    "caption": None,
                    "filename": None,
                },
            ),
            (
                "video",
                {"mime_type": "video/mp4", "id": "771234987650123"},
                {
                    "type": "video",
                    "id": "771234987650123",
                    "mime_type": "video/mp4",
                    "caption": None,
                    "filename": None,
                },
            ),
            (
                "sticker",
                {"mime_type": "image/webp", "animated": False, "id": "661234987650987"},
                {
                    "type": "sticker",
                    "id": "661234987650987",
                    "mime_type": "image/webp",
                    "caption": None,
                    "filename": None,
                },
            ),
        ],
    )
    def test_media_gives_its_id_as_text_and_media_metadata(
        self, kind: str, content: dict, media: dict
    ) -> None:
        (parsed,) = parse_webhook(delivery([message(kind, content, message_id="wamid.M")])).messages
        assert parsed.text == media["id"]
        assert parsed.metadata == metadata("wamid.M", media=media)
        # the ticket form's attachment step takes the media id
        assert validate_attachment(parsed.text) == media["id"]

    def test_caption_alone_is_not_the_text(self) -> None:
        raw = message("image", {"caption": "ini fotonya", "mime_type": "image/png"}, message_id="x")
        batch = parse_webhook(delivery([raw]))
        assert batch.messages == () and batch.ignored == ("image",)

    @pytest.mark.parametrize(
        ("raw", "kind"),
        [
            (
                message(
                    "location",
                    {"latitude": -6.2, "longitude": 106.8, "name": "KPPN"},
                    message_id="a",
                ),
                "location",
            ),
            (
                message(
                    "contacts",
                    [{"name": {"formatted_name": "Ani"}, "phones": [{"phone": "+62811"}]}],
                    message_id="b",
                ),
                "contacts",
            ),
            (
                message("reaction", {"message_id": "wamid.OUT1", "emoji": "👍"}, message_id="c"),
                "reaction",
            ),
            (
                {
                    "from": SENDER,
                    "id": "d",
                    "timestamp": "1",
                    "type": "unsupported",
                    "errors": [{"code": 131051, "title": "Message type unknown"}],
                },
                "unsupported",
            ),
            (
                message(
                    "interactive",
                    {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}},
                    message_id="e",
                ),
                "interactive:nfm_reply",
            ),
            (message("text", {"body": "   "}, message_id="f"), "text"),
            ({"type": "text", "text": {"body": "tanpa id"}}, "text"),
        ],
    )
    def test_unsupported_messages_are_ignored_by_type(self, raw: dict, kind: str) -> None:
        batch = parse_webhook(delivery([raw]))
        assert batch.messages == ()
        assert batch.ignored == (kind,)

    def test_status_callbacks_are_counted_not_handled(self) -> None:
        batch = parse_webhook(delivery(statuses=[status_callback("sent"), status_callback("read")]))
        assert batch.messages == () and batch.statuses == 2

    def test_messages_to_another_number_are_ignored(self) -> None:
        payload = delivery([text_message("halo")], phone_number_id="999")
        assert parse_webhook(payload).messages != ()
        batch = parse_webhook(payload, phone_number_id=PHONE_NUMBER_ID)
        assert batch.messages == () and batch.ignored == ("other_phone_number",)

    def test_several_entries_and_messages_keep_their_order(self) -> None:
        first = delivery(
            [text_message("satu", message_id="m1"), text_message("dua", message_id="m2")]
        )
        second = delivery([text_message("tiga", message_id="m3")])
        first["entry"].extend(second["entry"])
        assert [m.text for m in parse_webhook(first).messages] == ["satu", "dua", "tiga"]

    @pytest.mark.parametrize("payload", [{}, {"entry": "x"}, {"entry": [{"changes": [None, 3]}]}])
    def test_odd_shapes_give_nothing(self, payload: dict) -> None:
        assert parse_webhook(payload).messages == ()

    def test_name_falls_back_to_none_without_contacts(self) -> None:
        parsed = parse_message(text_message("halo"), [])
        assert parsed is not None and parsed.metadata["name"] is None

    def test_stored_form_round_trips(self) -> None:
        raw = message(
            "image", {"id": "1503986423619234", "mime_type": "image/jpeg"}, message_id="x"
        )
        (parsed,) = parse_webhook(delivery([raw])).messages
        assert WhatsAppMessage.from_json(parsed.to_json()) == parsed
        with pytest.raises(ValueError):
            WhatsAppMessage.from_json('{"text": "x"}')


class TestPayloadIds:
    def test_short_payload_is_its_own_id(self) -> None:
        ids = PayloadIds()
        assert ids.to_id("/affirm") == "/affirm"
        assert ids.to_payload("/affirm") == "/affirm"

    def test_long_payload_gets_a_short_id_that_maps_back(self) -> None:
        ids = PayloadIds()
        payload = '/inform{"question": "' + "x" * 300 + '"}'
        reply_id = ids.to_id(payload)
        assert len(reply_id) <= 256 and reply_id != payload
        assert ids.to_payload(reply_id) == payload
        raw = button_reply(reply_id, "Tanya")
        parsed = parse_message(raw, payload_ids=ids)
        assert parsed is not None and parsed.text == payload

    def test_unknown_long_id_falls_back_to_the_title(self) -> None:
        reply_id = PayloadIds().to_id("y" * 300)
        parsed = parse_message(button_reply(reply_id, "Ya, benar"), payload_ids=PayloadIds())
        assert parsed is not None and parsed.text == "Ya, benar"

    def test_oldest_mappings_are_forgotten(self) -> None:
        ids = PayloadIds(max_entries=2)
        first = ids.to_id("a" * 300)
        ids.to_id("b" * 300)
        ids.to_id("c" * 300)
        assert ids.to_payload(first) is None


class TestTextShaping:
    def test_short_text_is_one_part(self) -> None:
        assert split_text("  halo  ") == ["halo"]
        assert split_text(" \n ") == []

    def test_cuts_at_paragraphs_first(self) -> None:
        text = "a" * 3000 + "\n\n" + "b" * 3000
        assert split_text(text) == ["a" * 3000, "b" * 3000]

    def test_cuts_at_lines_then_words_then_hard(self) -> None:
        assert split_text("aaaa\nbbb ccc", limit=9) == ["aaaa", "bbb ccc"]
        assert split_text("aaa bbb ccc", limit=8) == ["aaa bbb", "ccc"]
        assert split_text("abcdefghij", limit=4) == ["abcd", "efgh", "ij"]

    def test_long_text_keeps_every_word_within_the_limit(self) -> None:
        words = [f"kata{i}" for i in range(2500)]
        text = " ".join(words[:1000]) + "\n" + " ".join(words[1000:])
        parts = split_text(text)
        assert len(parts) == 6
        assert any(part.endswith(" kata999") for part in parts)  # the line break is a cut
        assert len(parts[0]) >= 4096 - 10  # otherwise filled up to the last word that fits
        assert all(len(part) <= 4096 for part in parts)
        assert " ".join(" ".join(parts).split()) == " ".join(words)

    def test_shorten(self) -> None:
        assert shorten("Cek status tiket", 20) == "Cek status tiket"
        short = shorten("Informasi pencairan dana SP2D", 20)
        assert short == "Informasi pencairan…" and len(short) <= 20
        assert shorten("Permohonanresetpasswordsakti", 20) == "Permohonanresetpass…"

    def test_split_title_moves_the_rest_to_the_description(self) -> None:
        title, description = split_title("Pendaftaran kontrak pengadaan barang dan jasa")
        assert title == "Pendaftaran kontrak…" and len(title) <= 24
        assert description == "pengadaan barang dan jasa"
        assert split_title("Cek tiket") == ("Cek tiket", None)
        _, long_description = split_title("Judul " + "panjang " * 30)
        assert long_description is not None and len(long_description) <= 72


def buttons(count: int, title: str = "Pilihan") -> list[dict[str, str]]:
    return [{"title": f"{title} {i}", "payload": str(i)} for i in range(1, count + 1)]


class TestButtonRendering:
    def test_three_buttons_are_reply_buttons(self) -> None:
        (body,) = button_bodies(SENDER, "Apakah jawaban ini membantu?", buttons(3))
        interactive = body["interactive"]
        assert interactive["type"] == "button"
        assert interactive["body"] == {"text": "Apakah jawaban ini membantu?"}
        assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == ["1", "2", "3"]

    def test_seven_buttons_are_a_list(self) -> None:
        (body,) = button_bodies(SENDER, "Menu", buttons(7))
        action = body["interactive"]["action"]
        assert body["interactive"]["type"] == "list" and action["button"] == "Pilih"
        assert [row["id"] for row in action["sections"][0]["rows"]] == [str(i) for i in range(1, 8)]

    def test_twelve_buttons_are_numbered_text(self) -> None:
        (body,) = button_bodies(SENDER, "Menu", buttons(12))
        assert body["type"] == "text"
        assert body["text"]["body"].splitlines()[2:4] == ["1. Pilihan 1", "2. Pilihan 2"]

    def test_clashing_short_titles_fall_back_to_a_list(self) -> None:
        clash = [
            {"title": "Informasi pencairan dana SP2D", "payload": "a"},
            {"title": "Informasi pencairan dana kontrak", "payload": "b"},
        ]
        (body,) = button_bodies(SENDER, "Pilih", clash)
        assert body["interactive"]["type"] == "list"

    def test_duplicate_payloads_fall_back_to_numbered_text(self) -> None:
        (body,) = button_bodies(SENDER, "Pilih", [{"title": "A", "payload": "1"}] * 2)
        assert body["type"] == "text"

    def test_empty_text_uses_the_prompt(self) -> None:
        (body,) = button_bodies(SENDER, "", buttons(2))
        assert body["interactive"]["body"]["text"] == CHOICES_PROMPT


def test_mask_phone_keeps_only_the_last_four_digits() -> None:
    assert mask_phone(SENDER) == "***7890"
    assert mask_phone("") == "***"


# =========================================================================== credentials


class TestCredentials:
    CREDENTIALS = {
        "access_token": ACCESS_TOKEN,
        "phone_number_id": PHONE_NUMBER_ID,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "api_url": "https://graph.example/v21.0/",
    }

    def test_from_credentials(self) -> None:
        channel = WhatsAppInput.from_credentials(self.CREDENTIALS)
        assert isinstance(channel, WhatsAppInput)
        assert channel.name() == "whatsapp" and channel.url_prefix() == "whatsapp"
        output = channel.get_output_channel()
        assert isinstance(output, WhatsAppOutput)
        assert output.messages_url == f"https://graph.example/v21.0/{PHONE_NUMBER_ID}/messages"

    @pytest.mark.parametrize("api_url", [None, "", "${WHATSAPP_API_URL}"])
    def test_api_url_defaults(self, api_url: str | None) -> None:
        channel = WhatsAppInput.from_credentials({**self.CREDENTIALS, "api_url": api_url})
        assert isinstance(channel, WhatsAppInput) and channel.api_url == DEFAULT_API_URL

    def test_upper_case_environment_names_are_accepted_as_keys(self) -> None:
        upper = {
            "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        }
        assert isinstance(WhatsAppInput.from_credentials(upper), WhatsAppInput)

    @pytest.mark.parametrize("credentials", [None, {}])
    def test_no_credentials_names_every_missing_key(self, credentials: dict | None) -> None:
        with pytest.raises(WhatsAppConfigError) as raised:
            WhatsAppInput.from_credentials(credentials)
        for name in (
            "WHATSAPP_ACCESS_TOKEN",
            "WHATSAPP_PHONE_NUMBER_ID",
            "WHATSAPP_APP_SECRET",
            "WHATSAPP_VERIFY_TOKEN",
        ):
            assert name in str(raised.value)

    @pytest.mark.parametrize("empty", ["", "  ", None, "${WHATSAPP_APP_SECRET}"])
    def test_an_empty_secret_is_missing(self, empty: str | None) -> None:
        with pytest.raises(WhatsAppConfigError, match="app_secret") as raised:
            WhatsAppInput.from_credentials({**self.CREDENTIALS, "app_secret": empty})
        assert "access_token" not in str(raised.value)

    def test_credentials_yml_with_environment_variables(self, tmp_path, monkeypatch) -> None:
        from rasa.core.run import create_http_input_channels

        for key, value in {
            "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_URL": "",
        }.items():
            monkeypatch.setenv(key, value)
        credentials = tmp_path / "credentials.yml"
        credentials.write_text(
            "connectors.whatsapp.WhatsAppInput:\n"
            "  access_token: ${WHATSAPP_ACCESS_TOKEN}\n"
            "  phone_number_id: ${WHATSAPP_PHONE_NUMBER_ID}\n"
            "  app_secret: ${WHATSAPP_APP_SECRET}\n"
            "  verify_token: ${WHATSAPP_VERIFY_TOKEN}\n"
            "  api_url: ${WHATSAPP_API_URL}\n",
            encoding="utf-8",
        )
        (channel,) = create_http_input_channels(None, str(credentials))
        assert isinstance(channel, WhatsAppInput)
        assert channel.app_secret == APP_SECRET and channel.verify_token == VERIFY_TOKEN
        assert channel.phone_number_id == PHONE_NUMBER_ID and channel.api_url == DEFAULT_API_URL

    def test_output_from_env(self) -> None:
        output = WhatsAppOutput.from_env(
            {"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "42"}
        )
        assert output.name() == "whatsapp"
        assert output.messages_url == f"{DEFAULT_API_URL}/42/messages"
        with pytest.raises(WhatsAppConfigError, match="WHATSAPP_PHONE_NUMBER_ID"):
            WhatsAppOutput.from_env({"WHATSAPP_ACCESS_TOKEN": "t"})


# =========================================================================== the store


class TestInboundMessageRepository:
    def test_claim_once(self, repository: InboundMessageRepository) -> None:
        assert repository.claim("whatsapp", "wamid.1", SENDER, "{}")
        assert not repository.claim("whatsapp", "wamid.1", SENDER, "{}")
        assert repository.claim("other", "wamid.1", SENDER)  # unique per channel
        record = repository.get("whatsapp", "wamid.1")
        assert record is not None and record.status == "received" and record.payload == "{}"
        assert record.received_at.utcoffset() == timedelta(0)

    def test_mark_done_forgets_the_payload(self, repository: InboundMessageRepository) -> None:
        repository.claim("whatsapp", "wamid.1", SENDER, "{}")
        assert repository.mark_done("whatsapp", "wamid.1")
        assert not repository.mark_done("whatsapp", "wamid.1")
        record = repository.get("whatsapp", "wamid.1")
        assert record is not None
        assert record.status == "done" and record.payload is None and record.done_at is not None

    def test_pending_and_reclaim(self, repository, session_factory) -> None:
        for message_id in ("old", "young", "done"):
            repository.claim("whatsapp", message_id, SENDER)
        backdate(session_factory, "old", timedelta(minutes=5))
        backdate(session_factory, "done", timedelta(minutes=5))
        repository.mark_done("whatsapp", "done")
        pending = repository.pending(timedelta(minutes=1))
        assert [r.message_id for r in pending] == ["old"]
        assert repository.reclaim("whatsapp", "old", timedelta(minutes=1))
        assert not repository.reclaim("whatsapp", "old", timedelta(minutes=1))  # renewed
        assert repository.pending(timedelta(minutes=1)) == []

    def test_purge_done(self, repository, session_factory) -> None:
        repository.claim("whatsapp", "a", SENDER)
        repository.mark_done("whatsapp", "a")
        assert repository.purge_done(timedelta(days=30)) == 0
        assert repository.purge_done(timedelta(0)) == 1
        assert repository.get("whatsapp", "a") is None

    def test_empty_arguments_are_refused(self, repository) -> None:
        with pytest.raises(ValueError):
            repository.claim("whatsapp", "", SENDER)


# =========================================================================== webhook


async def test_health_route(server: WebhookServer) -> None:
    async with server.http.get(f"{server.url}/webhooks/whatsapp/") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("token", "mode", "status", "body"),
    [
        (VERIFY_TOKEN, "subscribe", 200, "1158201444"),
        ("wrong", "subscribe", 403, "forbidden"),
        (VERIFY_TOKEN, "unsubscribe", 403, "forbidden"),
    ],
)
async def test_verification(server: WebhookServer, token, mode, status, body) -> None:
    params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}
    async with server.http.get(server.webhook, params=params) as resp:
        assert resp.status == status
        assert await resp.text() == body
        if status == 200:
            assert resp.content_type == "text/plain"


async def test_signed_text_reaches_rasa(server, collector, session_factory) -> None:
    assert await server.post(delivery([text_message("Halo, selamat pagi")])) == 200
    await server.channel.drain()
    (user_message,) = collector.messages
    assert isinstance(user_message, UserMessage)
    assert user_message.text == "Halo, selamat pagi"
    assert user_message.sender_id == SENDER
    assert user_message.input_channel == "whatsapp"
    assert user_message.message_id == "wamid.TEXT1"
    assert user_message.metadata == metadata("wamid.TEXT1")
    assert user_message.output_channel.wrapped is server.channel.get_output_channel()
    (row,) = rows(session_factory)
    assert (row.channel, row.message_id, row.sender) == ("whatsapp", "wamid.TEXT1", SENDER)
    assert row.status == "done" and row.payload is None


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (button_reply("/affirm", "Ya"), "/affirm"),
        (list_reply("3", "Status tiket"), "3"),
        (message("button", {"payload": "/menu", "text": "Menu"}, message_id="wamid.Q"), "/menu"),
        (
            message(
                "document",
                {"filename": "bukti.pdf", "mime_type": "application/pdf", "id": "2093847561029384"},
                message_id="wamid.DOC",
            ),
            "2093847561029384",
        ),
    ],
)
async def test_each_kind_reaches_rasa(server, collector, raw: dict, text: str) -> None:
    assert await server.post(delivery([raw])) == 200
    await server.channel.drain()
    assert collector.texts == [text]


@pytest.mark.parametrize(
    "signature",
    [None, "wrong", "sha256=" + "0" * 64, sign(encode(delivery([text_message("x")])), "other")],
)
async def test_forged_delivery_is_refused(server, collector, session_factory, signature) -> None:
    status = await server.post(delivery([text_message(SECRET_TEXT)]), signature=signature)
    assert status == 403
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []


async def test_tampered_body_is_refused(server, collector, session_factory) -> None:
    original = encode(delivery([text_message("halo")]))
    tampered = original.replace(b"halo", b"hack")
    assert await server.post(raw=tampered, signature=sign(original)) == 403
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []


async def test_malformed_json_is_a_bad_request(server, collector, session_factory, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    body = b'{"entry": [' + SECRET_TEXT.encode()
    assert await server.post(raw=body) == 400
    assert await server.post(raw=b"[1, 2]") == 400
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []
    assert "malformed JSON" in log_text(caplog)
    assert SECRET_TEXT not in log_text(caplog)


async def test_status_callbacks_are_acknowledged(server, collector, session_factory) -> None:
    assert await server.post(delivery(statuses=[status_callback("read")])) == 200
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []


async def test_unsupported_types_are_logged_by_type_only(server, collector, caplog) -> None:
    caplog.set_level(logging.INFO, logger="connectors.whatsapp")
    location = message(
        "location",
        {"latitude": -6.1751, "longitude": 106.8272, "name": SECRET_TEXT},
        message_id="wamid.LOC",
    )
    assert await server.post(delivery([location])) == 200
    await server.channel.drain()
    assert collector.messages == []
    assert "ignored a message of type location" in log_text(caplog)
    assert SECRET_TEXT not in log_text(caplog) and SENDER not in log_text(caplog)


async def test_webhook_answers_before_the_dialogue_finishes(server, collector) -> None:
    collector.block = asyncio.Event()
    status = await asyncio.wait_for(server.post(delivery([text_message("halo")])), timeout=5)
    assert status == 200
    await wait_until(lambda: len(collector.messages) == 1)
    assert not await server.channel.drain(timeout=0.05)  # still in work
    collector.block.set()
    assert await server.channel.drain(timeout=5)


async def test_messages_of_one_sender_are_handled_in_order(server, collector) -> None:
    collector.block = asyncio.Event()
    await server.post(delivery([text_message("pertama", message_id="m1")]))
    await server.post(delivery([text_message("kedua", message_id="m2")]))
    await wait_until(lambda: len(collector.messages) == 1)
    await asyncio.sleep(0.1)
    assert collector.texts == ["pertama"]  # the second waits for the first
    collector.block.set()
    await server.channel.drain()
    assert collector.texts == ["pertama", "kedua"]


async def test_redelivery_is_answered_once_also_after_restart(
    services, collector, db_url, session_factory
) -> None:
    payload = delivery([text_message("halo", message_id="wamid.SAME")])
    async with serve(make_channel(), collector) as first:
        assert await first.post(payload) == 200
        assert await first.post(payload) == 200
        await first.channel.drain()
    assert collector.texts == ["halo"]

    # a new process: new app, new engine, same SQLite database
    engine = make_engine(db_url)
    set_services(Services(Settings(), session_factory=make_session_factory(engine)))
    try:
        async with serve(make_channel(), collector) as second:
            assert await second.post(payload) == 200
            await second.channel.drain()
    finally:
        engine.dispose()
    assert collector.texts == ["halo"]
    assert len(rows(session_factory)) == 1


async def test_handling_failure_is_logged_without_content(
    server, collector, session_factory, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    collector.fail_with = RuntimeError("model exploded")
    assert await server.post(delivery([text_message(SECRET_TEXT)])) == 200
    await server.channel.drain()
    (row,) = rows(session_factory)
    assert row.status == "done"
    text = log_text(caplog)
    assert "RuntimeError" in text and "***7890" in text
    assert SECRET_TEXT not in text and SENDER not in text


class BrokenRepository:
    def claim(self, *args: Any) -> bool:
        raise OperationalError("INSERT ...", {"payload": SECRET_TEXT}, Exception("disk I/O error"))


async def test_database_failure_makes_meta_retry(collector, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    channel = make_channel(repository=BrokenRepository())
    async with serve(channel, collector) as running:
        assert await running.post(delivery([text_message(SECRET_TEXT)])) == 503
        await running.channel.drain()
    assert collector.messages == []
    assert "OperationalError" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


async def test_answers_go_out_through_the_graph_api(services, graph_api) -> None:
    class EchoAgent:
        async def handle_message(self, user_message: UserMessage) -> None:
            await user_message.output_channel.send_response(
                user_message.sender_id,
                {"text": "Apakah jawaban ini membantu?", "buttons": buttons(2)},
            )

    async with serve(make_channel(graph_api.url), EchoAgent()) as running:
        assert await running.post(delivery([text_message("halo")])) == 200
        await running.channel.drain()
    (request,) = graph_api.requests
    assert request.path == f"/v20.0/{PHONE_NUMBER_ID}/messages"
    assert request.json["to"] == SENDER and request.json["interactive"]["type"] == "button"


# =========================================================================== recovery


def claim_pending(repository, message_id: str, text: str = "halo") -> WhatsAppMessage:
    pending = WhatsAppMessage(message_id, SENDER, "text", text, metadata(message_id))
    assert repository.claim("whatsapp", message_id, SENDER, pending.to_json())
    return pending


async def test_unfinished_messages_are_handled_again_at_start(
    services, collector, repository, session_factory
) -> None:
    crashed = claim_pending(repository, "wamid.CRASHED", "tolong reset password")
    backdate(session_factory, "wamid.CRASHED", timedelta(minutes=5))
    claim_pending(repository, "wamid.YOUNG")  # may be in work elsewhere: left alone
    async with serve(make_channel(), collector) as running:
        await wait_until(lambda: len(collector.messages) == 1)
        await running.channel.drain()
    (user_message,) = collector.messages
    assert user_message.text == "tolong reset password"
    assert user_message.sender_id == SENDER and user_message.metadata == crashed.metadata
    assert repository.get("whatsapp", "wamid.CRASHED").status == "done"
    assert repository.get("whatsapp", "wamid.YOUNG").status == "received"


async def test_messages_claimed_just_before_start_are_recovered_soon_after(
    services, collector, repository
) -> None:
    claim_pending(repository, "wamid.JUST")
    channel = make_channel(recovery_delay=timedelta(seconds=0.3))
    async with serve(channel, collector):
        await wait_until(lambda: collector.texts == ["halo"])
    assert repository.get("whatsapp", "wamid.JUST").status == "done"


async def test_two_processes_recover_a_message_once(collector, repository, session_factory) -> None:
    claim_pending(repository, "wamid.CRASHED")
    backdate(session_factory, "wamid.CRASHED", timedelta(minutes=5))
    first = make_channel(repository=repository)
    second = make_channel(repository=InboundMessageRepository(session_factory))
    counts = await asyncio.gather(
        first.recover_pending(collector.handle_message),
        second.recover_pending(collector.handle_message),
    )
    await first.drain()
    await second.drain()
    assert sorted(counts) == [0, 1]
    assert collector.texts == ["halo"]


async def test_too_old_unfinished_messages_are_dropped(
    collector, repository, session_factory, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.whatsapp")
    claim_pending(repository, "wamid.STALE", SECRET_TEXT)
    backdate(session_factory, "wamid.STALE", timedelta(hours=25))
    channel = make_channel(repository=repository)
    assert await channel.recover_pending(collector.handle_message) == 0
    assert collector.messages == []
    assert repository.get("whatsapp", "wamid.STALE").status == "done"
    assert "dropped" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


# =========================================================================== sending


@pytest.fixture
def output(graph_api, repository) -> WhatsAppOutput:
    repository.claim("whatsapp", "wamid.LAST", SENDER)  # the citizen wrote just now
    return WhatsAppOutput(
        ACCESS_TOKEN, PHONE_NUMBER_ID, graph_api.url, backoff=0.01, timeout=5, repository=repository
    )


async def test_text_message(output, graph_api) -> None:
    async with output:
        await output.send_text_message(SENDER, "Tiket Anda 20260414-DBKSWU sudah dibuat.")
    (request,) = graph_api.requests
    assert request.path == f"/v20.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": SENDER,
        "type": "text",
        "text": {"preview_url": False, "body": "Tiket Anda 20260414-DBKSWU sudah dibuat."},
    }


async def test_an_agents_reply_goes_out_once_whatever_sends_it(
    output, graph_api, repository
) -> None:
    """Rasa died after sending an agent's reply and before saving it; the desk worker sends
    it again (through another Rasa server): the citizen gets it once."""
    output.reply_ledger = repository
    sent_before = messages_counted("whatsapp", "out")
    reply = {"text": "Baik Bapak, kami cek dahulu.", "handoff_message_id": 41, "agent": "Rina"}
    async with output:
        await output.send_response(SENDER, dict(reply))
        await output.send_response(SENDER, dict(reply))
        await output.send_response(SENDER, {**reply, "handoff_message_id": 42})
        await output.send_response(SENDER, {"text": "Terima kasih."})  # no agent reply: as is
        await output.send_response(SENDER, {"text": "Terima kasih."})
    bodies = [request.json["text"]["body"] for request in graph_api.requests]
    assert bodies == [reply["text"], reply["text"], "Terima kasih.", "Terima kasih."]
    assert repository.replies_sent("whatsapp", "handoff:41") == {1}
    assert repository.replies_sent("whatsapp", "handoff:42") == {1}
    assert messages_counted("whatsapp", "out") - sent_before == 4  # what went out


def messages_counted(channel: str, direction: str) -> float:
    """`helpdesk_messages_total{channel, direction}` in this process."""
    return (
        REGISTRY.get_sample_value(
            "helpdesk_messages_total", {"channel": channel, "direction": direction}
        )
        or 0.0
    )


async def test_long_text_is_split(output, graph_api) -> None:
    paragraphs = [f"Paragraf {i}." + " isi jawaban" * 150 for i in range(6)]
    text = "\n\n".join(paragraphs)
    async with output:
        await output.send_text_message(SENDER, text)
    sent = [body["text"]["body"] for body in graph_api.bodies]
    assert len(sent) == 3
    assert all(len(part) <= 4096 for part in sent)
    assert all(part.startswith("Paragraf") for part in sent)  # cut at paragraph breaks
    assert "\n\n".join(sent) == text


async def test_three_buttons(output, graph_api) -> None:
    choices = [
        {"title": "Ya, sangat membantu sekali", "payload": "/affirm"},
        {"title": "Tidak", "payload": "/deny"},
        {"title": "Bicara dengan petugas", "payload": "/human_handoff"},
    ]
    async with output:
        await output.send_text_with_buttons(SENDER, "Apakah jawaban ini membantu?", choices)
    (body,) = graph_api.bodies
    assert body["type"] == "interactive"
    assert body["interactive"]["type"] == "button"
    assert body["interactive"]["body"] == {"text": "Apakah jawaban ini membantu?"}
    replies = [b["reply"] for b in body["interactive"]["action"]["buttons"]]
    assert [r["id"] for r in replies] == ["/affirm", "/deny", "/human_handoff"]
    assert [r["title"] for r in replies] == ["Ya, sangat membantu…", "Tidak", "Bicara dengan…"]
    assert all(len(r["title"]) <= 20 for r in replies)


async def test_seven_buttons_make_a_list(output, graph_api) -> None:
    titles = [
        "Tanya jawab umum",
        "Informasi pencairan dana SP2D bulan ini",
        "Cek kontrak",
        "Layanan DIGIT",
        "Reset password SAKTI",
        "Status tiket",
        "Bicara dengan petugas helpdesk",
    ]
    choices = [{"title": t, "payload": str(i)} for i, t in enumerate(titles, start=1)]
    async with output:
        await output.send_text_with_buttons(SENDER, "Silakan pilih layanan:", choices)
    (body,) = graph_api.bodies
    interactive = body["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"] == {"text": "Silakan pilih layanan:"}
    assert interactive["action"]["button"] == "Pilih"
    (section,) = interactive["action"]["sections"]
    assert len(section["title"]) <= 24
    rows_sent = section["rows"]
    assert [row["id"] for row in rows_sent] == [str(i) for i in range(1, 8)]
    assert all(len(row["title"]) <= 24 for row in rows_sent)
    assert rows_sent[1] == {
        "id": "2",
        "title": "Informasi pencairan…",
        "description": "dana SP2D bulan ini",
    }
    assert rows_sent[0] == {"id": "1", "title": "Tanya jawab umum"}


async def test_twelve_buttons_make_numbered_text(output, graph_api) -> None:
    async with output:
        await output.send_text_with_buttons(SENDER, "Daftar satker:", buttons(12, "Satker"))
    (body,) = graph_api.bodies
    assert body["type"] == "text"
    lines = body["text"]["body"].splitlines()
    assert lines[0] == "Daftar satker:"
    assert lines[2:] == [f"{i}. Satker {i}" for i in range(1, 13)]


async def test_long_text_with_buttons_goes_first(output, graph_api) -> None:
    text = "Langkah reset password: " + "ikuti petunjuk ini. " * 80
    async with output:
        await output.send_text_with_buttons(SENDER, text, buttons(2))
    first, second = graph_api.bodies
    assert first["type"] == "text" and first["text"]["body"] == text.strip()
    assert second["interactive"]["body"] == {"text": CHOICES_PROMPT}


async def test_long_payload_round_trips_through_a_tap(output, graph_api) -> None:
    payload = '/inform{"question": "' + "apa itu sp2d " * 30 + '"}'
    async with output:
        await output.send_text_with_buttons(
            SENDER, "Maksud Anda?", [{"title": "Ya", "payload": payload}]
        )
    reply_id = graph_api.bodies[0]["interactive"]["action"]["buttons"][0]["reply"]["id"]
    assert len(reply_id) <= 256
    parsed = parse_message(button_reply(reply_id, "Ya"))
    assert parsed is not None and parsed.text == payload


async def test_image_and_custom_json(output, graph_api) -> None:
    custom = {"type": "reaction", "reaction": {"message_id": "wamid.IN", "emoji": "👍"}}
    async with output:
        await output.send_image_url(SENDER, "https://contoh.go.id/alur.png")
        await output.send_custom_json(SENDER, custom)
    image, reaction = graph_api.bodies
    assert image["type"] == "image" and image["image"] == {"link": "https://contoh.go.id/alur.png"}
    assert reaction == {**custom, "messaging_product": "whatsapp", "to": SENDER}
    assert "to" not in custom  # the caller's dict is left alone


@pytest.mark.parametrize(
    ("script", "requests", "delivered"),
    [
        ([500, 500], 3, True),
        ([429], 2, True),
        ([503, 502, 500], 3, False),
        ([400], 1, False),
        ([401], 1, False),
    ],
)
async def test_retries(output, graph_api, caplog, script, requests, delivered) -> None:
    caplog.set_level(logging.DEBUG)
    graph_api.script = list(script)
    async with output:
        ok = await output.send_body(button_bodies(SENDER, SECRET_TEXT, buttons(2))[0])
    assert ok is delivered
    assert len(graph_api.requests) == requests
    assert len({json.dumps(r.json, sort_keys=True) for r in graph_api.requests}) == 1
    text = log_text(caplog)
    assert SECRET_TEXT not in text and SENDER not in text and "Pilihan" not in text
    assert "***7890" in text and "131000" in text
    failures = [r for r in caplog.records if r.name == "connectors.whatsapp"]
    assert len(failures) == len(script)
    assert (failures[-1].levelno == logging.ERROR) is not delivered


async def test_connection_errors_are_retried(caplog, repository) -> None:
    caplog.set_level(logging.DEBUG)
    sock = _free_socket()  # bound, never listening: connections are refused
    port = sock.getsockname()[1]
    sock.close()
    repository.claim("whatsapp", "wamid.LAST", SENDER)
    output = WhatsAppOutput(
        ACCESS_TOKEN,
        PHONE_NUMBER_ID,
        f"http://127.0.0.1:{port}/v20.0",
        backoff=0.01,
        repository=repository,
    )
    async with output:
        await output.send_text_message(SENDER, SECRET_TEXT)
    records = [r for r in caplog.records if r.name == "connectors.whatsapp"]
    assert len(records) == 3 and "ClientConnectorError" in records[0].getMessage()
    assert SECRET_TEXT not in log_text(caplog) and SENDER not in log_text(caplog)


async def test_raise_on_failure(graph_api, repository) -> None:
    graph_api.script = [400]
    repository.claim("whatsapp", "wamid.LAST", SENDER)
    output = WhatsAppOutput(
        ACCESS_TOKEN,
        PHONE_NUMBER_ID,
        graph_api.url,
        raise_on_failure=True,
        backoff=0.01,
        repository=repository,
    )
    async with output:
        with pytest.raises(WhatsAppSendError) as raised:
            await output.send_text_message(SENDER, SECRET_TEXT)
    assert raised.value.status == 400 and SECRET_TEXT not in str(raised.value)


async def test_a_failed_part_stops_the_rest(output, graph_api) -> None:
    graph_api.script = [400]
    async with output:
        await output.send_text_message(SENDER, "a" * 5000)
    assert len(graph_api.requests) == 1


# =========================================================================== hostile input


async def test_an_oversized_body_is_refused_unread(server, collector, session_factory) -> None:
    from connectors.whatsapp.webhook import BODY_LIMIT

    body = encode(delivery([text_message("halo")])) + b" " * BODY_LIMIT  # valid JSON, signed
    assert await server.post(raw=body) == 413
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []


async def test_deep_nesting_is_a_bad_request_not_a_crash(server, collector, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    assert await server.post(raw=b"[" * 5000 + b"]" * 5000) == 400
    nested: Any = "x"
    for _ in range(40):  # parses, but deeper than any Meta delivery
        nested = {"a": nested}
    assert await server.post(delivery([text_message("halo"), nested])) == 400
    assert await server.post(raw=b'{"entry": ' + b"1" * 5000 + b"}") == 400  # 5000 digits
    await server.channel.drain()
    assert collector.messages == []
    # The server still answers.
    assert await server.post(delivery([text_message("halo lagi")])) == 200
    await server.channel.drain()
    assert collector.texts == ["halo lagi"]


async def test_a_lone_surrogate_or_nul_is_repaired_and_answered(
    server, collector, session_factory
) -> None:
    body = json.dumps(delivery([text_message("halo \ud800 pak\x00")])).encode("ascii")
    assert await server.post(raw=body) == 200  # was 503: the database refused it, for ever
    await server.channel.drain()
    assert collector.texts == ["halo \ufffd pak"]
    (row,) = rows(session_factory)
    assert row.status == "done"


async def test_text_and_metadata_are_capped(server, collector) -> None:
    from connectors.common import MESSAGE_TEXT_LIMIT

    raw = delivery([text_message("keluhan " * 2500, message_id="wamid.LONG")])
    raw["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = "B" * 500_000
    assert await server.post(raw) == 200
    await server.channel.drain()
    (user_message,) = collector.messages
    assert len(user_message.text) <= MESSAGE_TEXT_LIMIT
    assert user_message.text.startswith("keluhan keluhan") and user_message.text.endswith("keluhan")
    assert len(user_message.metadata["name"]) == 128
    assert len(json.dumps(user_message.metadata)) < 2000


async def test_odd_ids_and_types_are_ignored_with_200(server, collector, session_factory) -> None:
    too_long_id = text_message("halo", message_id="wamid." + "X" * 500)
    from_dict = message("text", {"body": {"not": "text"}}, message_id="wamid.DICT")
    huge_type = message("t" * 100_000, {}, message_id="wamid.TYPE")
    assert await server.post(delivery([too_long_id, from_dict, huge_type])) == 200
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []


class ContentRefusingRepository:
    def claim(self, *args: Any) -> bool:
        raise DataError("INSERT ...", {"payload": SECRET_TEXT}, Exception("value too long"))


async def test_content_the_database_refuses_is_acknowledged_not_retried(collector, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    channel = make_channel(repository=ContentRefusingRepository())
    async with serve(channel, collector) as running:
        assert await running.post(delivery([text_message(SECRET_TEXT)])) == 200
        await running.channel.drain()
    assert collector.messages == []
    assert "DataError" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


async def test_an_exception_quoting_the_message_is_not_logged_with_it(
    server, collector, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.whatsapp")
    collector.fail_with = ValueError(f"could not parse {SECRET_TEXT!r}")
    assert await server.post(delivery([text_message(SECRET_TEXT)])) == 200
    await server.channel.drain()
    text = log_text(caplog)
    assert "ValueError" in text and "conftest.py" in text  # where, not what
    assert SECRET_TEXT not in text


# --------------------------------------------------------------------- broadcasts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BERHENTI", "/broadcast_opt_out"),
        ("Stop", "/broadcast_opt_out"),
        ("MULAI", "/broadcast_opt_in"),
        ("stop dulu, saya mau tanya", "stop dulu, saya mau tanya"),
    ],
)
def test_consent_words_become_their_intents(text: str, expected: str) -> None:
    (parsed,) = parse_webhook(delivery([text_message(text)])).messages
    assert parsed.text == expected


async def test_broadcast_status_callbacks_are_recorded(server, services) -> None:
    from helpdesk.storage.broadcasts import BroadcastRepository, NewRecipient
    from helpdesk.storage.enums import BroadcastStatus

    repository = BroadcastRepository(services.session_factory)
    broadcast = repository.create(
        name="Uji",
        template_name="t",
        template_language="id",
        created_by="sup",
        consent_note="uji",
        recipients=[NewRecipient(SENDER, "Budi", {})],
    )
    repository.set_status(
        broadcast.id, BroadcastStatus.SENDING, allowed_from=[BroadcastStatus.DRAFT]
    )
    (claimed,) = repository.claim(broadcast.id, 1)
    callback = {**status_callback("delivered"), "biz_opaque_callback_data": claimed.callback_key}
    assert await server.post(delivery(statuses=[callback])) == 200
    (row,) = repository.recipients(broadcast.id)
    assert row.status == "delivered" and row.message_id == "wamid.OUT1"


async def test_a_status_callback_not_stored_is_asked_again(server, monkeypatch) -> None:
    from helpdesk.storage.broadcasts import BroadcastRepository

    def down(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(BroadcastRepository, "record_status", down)
    callback = {**status_callback("sent"), "biz_opaque_callback_data": "bc:1:1"}
    assert await server.post(delivery(statuses=[callback])) == 503
    assert await server.post(delivery(statuses=[status_callback("sent")])) == 200  # not ours

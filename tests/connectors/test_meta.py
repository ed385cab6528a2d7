"""The Messenger and Instagram channels: parsing, signatures, de-duplication, the 24-hour
window, sending.

Webhook tests run the channels in an app built by `rasa.core.run.configure_app` (the WhatsApp
tests' harness), with a collector in place of Rasa's agent; outbound tests send to the fake
Graph API (conftest.py). Payloads follow Meta's Messenger Platform and Instagram Messaging
webhook shapes.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import pytest
from rasa.core.channels.channel import UserMessage

from connectors.common import MESSAGE_TEXT_LIMIT
from connectors.common.meta import verify_signature, verify_subscription
from connectors.inbox import Inbound
from connectors.meta import (
    InstagramInput,
    InstagramOutput,
    MessengerInput,
    MessengerOutput,
    MetaConfigError,
    MetaSendError,
)
from connectors.meta.payloads import INSTAGRAM, MESSENGER, parse_webhook
from connectors.meta.render import (
    CHOICES_PROMPT,
    MAX_QUICK_REPLIES,
    TEXT_LIMIT,
    QuickReplyIds,
    button_messages,
    text_messages,
)
from connectors.meta.window import HUMAN_AGENT, RESPONSE, send_mode
from helpdesk.conversation.validation import validate_attachment
from helpdesk.storage.models import utcnow
from tests.connectors.test_whatsapp import (
    backdate,
    encode,
    log_text,
    messages_counted,
    rows,
    serve,
    sign,
)

APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "meta-verify-token"
PAGE_TOKEN = "EAAG-page-token"
PAGE_ID = "104857600000001"
IG_ACCOUNT_ID = "17841400000000001"
PSID = "6543210987654321"
IGSID = "1234567890123456"
YES = {"title": "Ya", "payload": "/affirm"}
SECRET_TEXT = "NIK saya 3175091201850003 rahasia"
IMAGE_URL = "https://scontent.xx.fbcdn.net/v/t1.15752-9/123_n.jpg?_nc_cat=1&oh=00_AbC&oe=6600"
PDF_URL = "https://cdn.fbsbx.com/v/t59.2708-21/bukti_bayar.pdf?_nc_cat=2&oh=00_XyZ"


# --------------------------------------------------------------------------- payloads


def page_delivery(*events: dict[str, Any], obj: str = "page") -> dict[str, Any]:
    """A Messenger delivery: entry[].messaging[]."""
    return {
        "object": obj,
        "entry": [{"id": PAGE_ID, "time": 1713072000123, "messaging": list(events)}],
    }


def ig_delivery(*events: dict[str, Any]) -> dict[str, Any]:
    """An Instagram delivery: the same shape, object "instagram"."""
    return {
        "object": "instagram",
        "entry": [{"id": IG_ACCOUNT_ID, "time": 1713072000123, "messaging": list(events)}],
    }


def event(
    content: dict[str, Any], *, sender: str = PSID, recipient: str = PAGE_ID
) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": 1713072000000,
        **content,
    }


def text_event(text: str, mid: str = "m_TEXT1", **kwargs: Any) -> dict[str, Any]:
    return event({"message": {"mid": mid, "text": text}}, **kwargs)


def quick_reply_event(payload: str, title: str, mid: str = "m_QR1") -> dict[str, Any]:
    return event({"message": {"mid": mid, "text": title, "quick_reply": {"payload": payload}}})


def postback_event(payload: str, title: str, mid: str = "m_PB1") -> dict[str, Any]:
    return event({"postback": {"title": title, "payload": payload, "mid": mid}})


def attachment_event(*attachments: tuple[str, str], mid: str = "m_ATT1") -> dict[str, Any]:
    items = [{"type": kind, "payload": {"url": url}} for kind, url in attachments]
    return event({"message": {"mid": mid, "attachments": items}})


def echo_event(text: str = "Selamat pagi") -> dict[str, Any]:
    return event(
        {"message": {"mid": "m_ECHO", "text": text, "is_echo": True, "app_id": 1517}},
        sender=PAGE_ID,
        recipient=PSID,
    )


def read_event() -> dict[str, Any]:
    return event({"read": {"watermark": 1713072000000}})


def delivery_event() -> dict[str, Any]:
    return event({"delivery": {"mids": ["m_OUT1"], "watermark": 1713072000000}})


def reaction_event() -> dict[str, Any]:
    return event({"reaction": {"mid": "m_OUT1", "action": "react", "reaction": "love"}})


def ig_text_event(text: str, mid: str = "aWdfZAG1faXRlbToxOklH", **extra: Any) -> dict[str, Any]:
    return event(
        {"message": {"mid": mid, "text": text, **extra}}, sender=IGSID, recipient=IG_ACCOUNT_ID
    )


# =========================================================================== pure functions


class TestSignatureAndSubscription:
    BODY = encode(page_delivery(text_event("halo")))

    def test_the_hmac_of_the_raw_body_passes(self) -> None:
        assert verify_signature(APP_SECRET, self.BODY, sign(self.BODY, APP_SECRET))

    @pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64])
    def test_missing_or_wrong_signatures_fail(self, header) -> None:
        assert not verify_signature(APP_SECRET, self.BODY, header)

    def test_another_secret_fails(self) -> None:
        assert not verify_signature(APP_SECRET, self.BODY, sign(self.BODY, "other"))

    def test_subscription(self) -> None:
        args = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
        assert verify_subscription(args, VERIFY_TOKEN) == "42"
        assert verify_subscription({**args, "hub.verify_token": "x"}, VERIFY_TOKEN) is None


class TestParsing:
    def parse(self, payload: dict[str, Any], channel: str = MESSENGER, **kwargs: Any):
        return parse_webhook(payload, channel, payload_ids=QuickReplyIds(), **kwargs)

    def test_text(self) -> None:
        batch = self.parse(page_delivery(text_event("Halo, selamat pagi")))
        (message,) = batch.messages
        assert message == Inbound(
            key="m_TEXT1",
            sender=PSID,
            kind="text",
            text="Halo, selamat pagi",
            metadata={"channel": "messenger", "sender_id": PSID, "message_id": "m_TEXT1"},
        )

    def test_quick_reply_and_postback_give_the_payload(self) -> None:
        batch = self.parse(
            page_delivery(
                quick_reply_event("/affirm", "Ya"),
                postback_event('/menu_select{"number":"3"}', "Status tiket"),
            )
        )
        assert [m.text for m in batch.messages] == ["/affirm", '/menu_select{"number":"3"}']
        assert [m.kind for m in batch.messages] == ["quick_reply", "postback"]
        assert [m.key for m in batch.messages] == ["m_QR1", "m_PB1"]

    def test_a_long_payload_comes_back_through_its_id(self) -> None:
        ids = QuickReplyIds()
        payload = "/ask_question" + "x" * 1200
        short_id = ids.to_id(payload)
        assert short_id != payload and len(short_id) <= 1000
        batch = parse_webhook(
            page_delivery(quick_reply_event(short_id, "Pertanyaan")), MESSENGER, payload_ids=ids
        )
        assert batch.messages[0].text == payload
        # unknown here (another process, no store): the title the citizen tapped
        other = self.parse(page_delivery(quick_reply_event(short_id, "Pertanyaan")))
        assert other.messages[0].text == "Pertanyaan"

    def test_attachments_become_a_description_with_the_urls(self) -> None:
        batch = self.parse(page_delivery(attachment_event(("image", IMAGE_URL), ("file", PDF_URL))))
        (message,) = batch.messages
        assert message.text == f"Lampiran gambar: {IMAGE_URL}\nLampiran berkas: {PDF_URL}"
        assert message.kind == "attachment"
        assert message.metadata["media"] == {"type": "image", "url": IMAGE_URL, "count": 2}
        # the ticket form keeps the first URL as the attachment
        assert validate_attachment(message.text) == IMAGE_URL

    def test_text_with_an_attachment_keeps_the_text(self) -> None:
        raw = event(
            {
                "message": {
                    "mid": "m_BOTH",
                    "text": "ini buktinya",
                    "attachments": [{"type": "image", "payload": {"url": IMAGE_URL}}],
                }
            }
        )
        (message,) = self.parse(page_delivery(raw)).messages
        assert message.text == "ini buktinya" and message.metadata["media"]["url"] == IMAGE_URL

    def test_echoes_reads_deliveries_reactions_are_left_out(self) -> None:
        batch = self.parse(
            page_delivery(echo_event(), read_event(), delivery_event(), reaction_event())
        )
        assert batch.messages == ()
        assert batch.ignored == ("echo", "read", "delivery", "reaction")

    def test_own_and_other_accounts_events_are_left_out(self) -> None:
        mine = text_event("hai", sender=PAGE_ID, recipient=PSID)
        other = text_event("hai", mid="m_OTHER", recipient="999")
        batch = self.parse(page_delivery(mine, other, text_event("halo")), account_id=PAGE_ID)
        assert [m.key for m in batch.messages] == ["m_TEXT1"]
        assert batch.ignored == ("own_message", "other_account")

    def test_another_platforms_delivery_is_left_out(self) -> None:
        batch = self.parse(ig_delivery(ig_text_event("halo")), MESSENGER)
        assert batch.messages == () and batch.ignored == ("object:instagram",)
        batch = self.parse(page_delivery(text_event("halo")), INSTAGRAM)
        assert batch.messages == () and batch.ignored == ("object:page",)

    def test_instagram_text_story_reply_deleted_and_echo(self) -> None:
        story = {"story": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}}
        batch = self.parse(
            ig_delivery(
                ig_text_event("halo min"),
                ig_text_event("kapan buka?", mid="aWdfc3Rvcnk", reply_to=story),
                ig_text_event("", mid="aWdfZGVs", is_deleted=True),
                event(
                    {"message": {"mid": "aWdfZWNobw", "text": "x", "is_echo": True}},
                    sender=IG_ACCOUNT_ID,
                    recipient=IGSID,
                ),
            ),
            INSTAGRAM,
            account_id=IG_ACCOUNT_ID,
        )
        assert [m.text for m in batch.messages] == ["halo min", "kapan buka?"]
        assert batch.messages[0].metadata["channel"] == "instagram"
        assert batch.messages[1].metadata["story_url"] == story["story"]["url"]
        assert batch.ignored == ("deleted", "own_message")

    @pytest.mark.parametrize(
        "raw",
        [
            event({"message": {"mid": "m_X", "text": "   "}}),
            event({"message": {"text": "tanpa mid"}}),
            event({"message": {"mid": "m_X" * 200, "text": "id terlalu panjang"}}),
            {"recipient": {"id": PAGE_ID}, "message": {"mid": "m_NOSENDER", "text": "x"}},
            event({"message": {"mid": "m_LOC", "attachments": [{"type": "location"}]}}),
            "not an event",
        ],
    )
    def test_unusable_events_are_left_out(self, raw) -> None:
        assert self.parse(page_delivery(raw)).messages == ()

    def test_text_is_capped(self) -> None:
        (message,) = self.parse(page_delivery(text_event("a" * (MESSAGE_TEXT_LIMIT + 50)))).messages
        assert len(message.text) == MESSAGE_TEXT_LIMIT


class TestRendering:
    def test_long_text_is_split_at_2000_characters(self) -> None:
        text = ("Kalimat yang cukup panjang untuk diuji. " * 120).strip()
        parts = text_messages(text)
        assert len(parts) == 3
        assert all(len(part["text"]) <= TEXT_LIMIT for part in parts)
        assert " ".join(part["text"] for part in parts) == text

    def test_buttons_become_quick_replies_on_the_last_part(self) -> None:
        buttons = [
            {"title": "Ya, sangat membantu sekali", "payload": "/affirm"},
            {"title": "Tidak", "payload": "/deny"},
        ]
        (message,) = button_messages("Apakah jawaban ini membantu?", buttons)
        assert message == {
            "text": "Apakah jawaban ini membantu?",
            "quick_replies": [
                {"content_type": "text", "title": "Ya, sangat membantu…", "payload": "/affirm"},
                {"content_type": "text", "title": "Tidak", "payload": "/deny"},
            ],
        }
        long = button_messages("x " * 1500, buttons)
        assert len(long) == 2 and "quick_replies" in long[-1] and "quick_replies" not in long[0]

    def test_no_text_gets_the_prompt(self) -> None:
        (message,) = button_messages("", [{"title": "Menu", "payload": "/menu"}])
        assert message["text"] == CHOICES_PROMPT

    def test_more_than_thirteen_make_numbered_text(self) -> None:
        buttons = [{"title": f"Layanan {i}", "payload": str(i)} for i in range(1, 15)]
        assert len(button_messages("Pilih:", buttons[:MAX_QUICK_REPLIES])[0]["quick_replies"]) == 13
        (message,) = button_messages("Pilih:", buttons)
        assert "quick_replies" not in message
        assert (
            message["text"].startswith("Pilih:\n\n1. Layanan 1\n")
            and "14. Layanan 14" in (message["text"])
        )

    def test_clashing_short_titles_make_numbered_text(self) -> None:
        buttons = [
            {"title": "Informasi layanan SP2D pusat", "payload": "1"},
            {"title": "Informasi layanan SP2D daerah", "payload": "2"},
        ]
        (message,) = button_messages("Pilih:", buttons)
        assert (
            "quick_replies" not in message
            and "2. Informasi layanan SP2D daerah" in (message["text"])
        )


class TestWindow:
    NOW = datetime(2026, 4, 14, 12, 0, tzinfo=timezone.utc)

    @pytest.mark.parametrize(
        ("age", "agent", "mode"),
        [
            (timedelta(minutes=5), False, RESPONSE),
            (timedelta(hours=24), False, RESPONSE),
            (timedelta(hours=24, seconds=1), False, None),
            (timedelta(hours=25), True, HUMAN_AGENT),
            (timedelta(days=7), True, HUMAN_AGENT),
            (timedelta(days=7, seconds=1), True, None),
            (timedelta(minutes=5), True, RESPONSE),
        ],
    )
    def test_send_mode(self, age, agent, mode) -> None:
        assert send_mode(self.NOW - age, self.NOW, agent_reply=agent) == mode

    def test_no_message_known_allows_nothing(self) -> None:
        assert send_mode(None, self.NOW, agent_reply=True) is None


class TestCredentials:
    def test_messenger_from_credentials(self) -> None:
        channel = MessengerInput.from_credentials(
            {
                "access_token": PAGE_TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
                "api_url": "${MESSENGER_API_URL}",
            }
        )
        assert isinstance(channel, MessengerInput)
        assert channel.output.messages_url == "https://graph.facebook.com/v20.0/me/messages"

    def test_instagram_posts_to_its_account(self) -> None:
        channel = InstagramInput.from_credentials(
            {
                "INSTAGRAM_ACCESS_TOKEN": "IGQ-token",
                "account_id": IG_ACCOUNT_ID,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
                "api_url": "http://graph.local/v20.0/",
            }
        )
        assert isinstance(channel, InstagramInput)
        assert channel.output.messages_url == f"http://graph.local/v20.0/{IG_ACCOUNT_ID}/messages"

    def test_missing_credentials_are_named(self) -> None:
        with pytest.raises(MetaConfigError) as raised:
            InstagramInput.from_credentials({"access_token": "x", "app_secret": "${X}"})
        message = str(raised.value)
        for name in ("INSTAGRAM_ACCOUNT_ID", "INSTAGRAM_APP_SECRET", "INSTAGRAM_VERIFY_TOKEN"):
            assert name in message
        assert "INSTAGRAM_ACCESS_TOKEN" not in message


def test_last_received_is_the_latest_claim(repository) -> None:
    assert repository.last_received("messenger", PSID) is None
    assert repository.claim("messenger", "m_1", PSID)
    assert repository.claim("instagram", "m_2", PSID)
    first = repository.last_received("messenger", PSID)
    assert first is not None and abs((utcnow() - first).total_seconds()) < 60
    assert repository.last_received("messenger", "someone else") is None


# =========================================================================== webhook


def messenger_channel(api_url: str = "http://127.0.0.1:9/v20.0", **kwargs: Any) -> MessengerInput:
    output = MessengerOutput(PAGE_TOKEN, "me", api_url, backoff=0.01, timeout=5)
    return MessengerInput(
        PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN, api_url=api_url, output=output, **kwargs
    )


def instagram_channel(api_url: str, **kwargs: Any) -> InstagramInput:
    output = InstagramOutput("IGQ-token", IG_ACCOUNT_ID, api_url, backoff=0.01, timeout=5)
    return InstagramInput(
        "IGQ-token",
        APP_SECRET,
        VERIFY_TOKEN,
        account_id=IG_ACCOUNT_ID,
        api_url=api_url,
        output=output,
        **kwargs,
    )


async def post(server, payload: Any = None, *, raw: bytes | None = None, signature="valid") -> int:
    body = raw if raw is not None else encode(payload)
    headers = {"Content-Type": "application/json"}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = sign(body, APP_SECRET)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    url = f"{server.url}/webhooks/{server.channel.name()}/webhook"
    async with server.http.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


@pytest.fixture
async def server(services, collector) -> AsyncIterator[Any]:
    async with serve(messenger_channel(), collector) as running:
        yield running


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [(VERIFY_TOKEN, 200, "1158201444"), ("wrong", 403, "forbidden")],
)
async def test_verification(server, token, status, body) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    async with server.http.get(f"{server.url}/webhooks/messenger/webhook", params=params) as resp:
        assert resp.status == status
        assert await resp.text() == body


async def test_signed_text_reaches_rasa(server, collector, session_factory) -> None:
    assert await post(server, page_delivery(text_event("Halo, selamat pagi"))) == 200
    await server.channel.drain()
    (user_message,) = collector.messages
    assert isinstance(user_message, UserMessage)
    assert user_message.text == "Halo, selamat pagi"
    assert (user_message.sender_id, user_message.input_channel) == (PSID, "messenger")
    assert user_message.message_id == "m_TEXT1"
    assert user_message.output_channel.wrapped is server.channel.get_output_channel()
    (row,) = rows(session_factory)
    assert (row.channel, row.message_id, row.sender, row.status) == (
        "messenger",
        "m_TEXT1",
        PSID,
        "done",
    )


async def test_buttons_attachments_and_echoes(server, collector) -> None:
    payload = page_delivery(
        echo_event(),
        quick_reply_event("/affirm", "Ya"),
        postback_event("/menu", "Menu"),
        attachment_event(("image", IMAGE_URL)),
        read_event(),
    )
    assert await post(server, payload) == 200
    await server.channel.drain()
    assert collector.texts == ["/affirm", "/menu", f"Lampiran gambar: {IMAGE_URL}"]
    assert collector.messages[2].metadata["media"]["url"] == IMAGE_URL


@pytest.mark.parametrize(
    "signature",
    [None, "wrong", "sha256=" + "0" * 64, sign(encode(page_delivery(text_event("x"))), "other")],
)
async def test_forged_delivery_is_refused(server, collector, session_factory, signature) -> None:
    status = await post(server, page_delivery(text_event(SECRET_TEXT)), signature=signature)
    assert status == 403
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []


async def test_malformed_bodies_are_bad_requests(server, collector, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert await post(server, raw=b'{"entry": [' + SECRET_TEXT.encode()) == 400
    assert await post(server, raw=b"[1, 2]") == 400
    await server.channel.drain()
    assert collector.messages == [] and SECRET_TEXT not in log_text(caplog)


async def test_unusable_signed_contents_are_acknowledged_and_logged(
    server, collector, session_factory, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.messenger")
    payload = {"object": "page", "entry": [{"messaging": [{"message": {"text": SECRET_TEXT}}]}]}
    assert await post(server, payload) == 200
    assert await post(server, {"object": "user", "entry": "x"}) == 200
    await server.channel.drain()
    assert collector.messages == [] and rows(session_factory) == []
    text = log_text(caplog)
    assert "ignored an event of kind malformed" in text and "object:user" in text
    assert SECRET_TEXT not in text


async def test_redelivery_is_answered_once(server, collector, session_factory) -> None:
    payload = page_delivery(text_event("halo", mid="m_SAME"))
    assert await post(server, payload) == 200
    assert await post(server, payload) == 200
    await server.channel.drain()
    assert await post(server, payload) == 200
    await server.channel.drain()
    assert collector.texts == ["halo"]
    assert len(rows(session_factory)) == 1


async def test_messenger_answers_go_out_through_the_send_api(services, graph_api) -> None:
    class EchoAgent:
        async def handle_message(self, user_message: UserMessage) -> None:
            await user_message.output_channel.send_response(
                user_message.sender_id,
                {
                    "text": "Apakah jawaban ini membantu?",
                    "buttons": [{"title": "Ya", "payload": "/affirm"}],
                },
            )

    async with serve(messenger_channel(graph_api.url), EchoAgent()) as running:
        assert await post(running, page_delivery(text_event("halo"))) == 200
        await running.channel.drain()
    (request,) = graph_api.requests
    assert request.path == "/v20.0/me/messages"
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert request.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Apakah jawaban ini membantu?",
            "quick_replies": [{"content_type": "text", "title": "Ya", "payload": "/affirm"}],
        },
    }


async def test_instagram_end_to_end_through_the_channel(services, graph_api, collector) -> None:
    class EchoAgent:
        async def handle_message(self, user_message: UserMessage) -> None:
            collector.messages.append(user_message)
            await user_message.output_channel.send_response(
                user_message.sender_id, {"text": "Halo, ada yang bisa kami bantu?"}
            )

    async with serve(instagram_channel(graph_api.url), EchoAgent()) as running:
        assert await post(running, ig_delivery(ig_text_event("halo min"))) == 200
        assert await post(running, page_delivery(text_event("salah platform"))) == 200
        await running.channel.drain()
    assert [m.input_channel for m in collector.messages] == ["instagram"]
    (request,) = graph_api.requests
    assert request.path == f"/v20.0/{IG_ACCOUNT_ID}/messages"
    assert request.json["recipient"] == {"id": IGSID}
    assert request.json["message"] == {"text": "Halo, ada yang bisa kami bantu?"}


# =========================================================================== output


class Clock:
    """A clock tests move."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def output(graph_api, repository, clock) -> MessengerOutput:
    repository.claim("messenger", "m_LAST", PSID)  # the citizen wrote just now
    return MessengerOutput(
        PAGE_TOKEN, "me", graph_api.url, backoff=0.01, timeout=5, repository=repository, clock=clock
    )


async def test_long_text_is_split(output, graph_api) -> None:
    text = ("Kalimat yang cukup panjang untuk diuji. " * 120).strip()
    async with output:
        await output.send_text_message(PSID, text)
    parts = [r.json["message"]["text"] for r in graph_api.requests]
    assert len(parts) == 3 and all(len(p) <= TEXT_LIMIT for p in parts)


async def test_image_and_custom_json(output, graph_api) -> None:
    async with output:
        await output.send_response(PSID, {"image": "https://example.org/peta.png"})
        await output.send_custom_json(PSID, {"text": "Teks khusus"})
    assert [r.json["message"] for r in graph_api.requests] == [
        {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://example.org/peta.png", "is_reusable": False},
            }
        },
        {"text": "Teks khusus"},
    ]


async def test_the_24_hour_window_with_the_clock_moved(
    output, graph_api, clock, caplog, repository
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.messenger")
    agent_reply = {"text": "Baik, kami cek dahulu.", "handoff_message_id": 7, "agent": "Rina"}
    async with output:
        await output.send_response(PSID, {"text": "Dalam jendela"})
        clock.now += timedelta(hours=25)
        await output.send_response(PSID, {"text": SECRET_TEXT})  # not allowed any more
        await output.send_response(PSID, dict(agent_reply))  # an agent: tagged
        clock.now += timedelta(days=7)
        await output.send_response(PSID, {**agent_reply, "handoff_message_id": 8})
    sent = [
        (r.json["message"]["text"], r.json["messaging_type"], r.json.get("tag"))
        for r in graph_api.requests
    ]
    assert sent == [
        ("Dalam jendela", "RESPONSE", None),
        ("Baik, kami cek dahulu.", "MESSAGE_TAG", "HUMAN_AGENT"),
    ]
    text = log_text(caplog)
    assert text.count("outside the messaging window") == 2
    assert SECRET_TEXT not in text and PSID not in text
    # the citizen writes again: the window opens again
    repository.claim("messenger", "m_AGAIN", PSID)
    clock.now = utcnow()
    async with output:
        await output.send_response(PSID, {"text": "Terbuka lagi"})
    assert graph_api.requests[-1].json["messaging_type"] == "RESPONSE"


async def test_outside_the_window_raises_when_asked(graph_api, repository) -> None:
    output = MessengerOutput(
        PAGE_TOKEN, "me", graph_api.url, raise_on_failure=True, repository=repository
    )
    async with output:
        with pytest.raises(MetaSendError) as raised:
            await output.send_text_message(PSID, SECRET_TEXT)  # never wrote
    assert raised.value.error_code == "outside-window" and graph_api.requests == []


async def test_backdated_last_message_closes_the_window(output, graph_api, session_factory) -> None:
    backdate(session_factory, "m_LAST", timedelta(hours=30))
    async with output:
        await output.send_text_message(PSID, "Terlambat")
    assert graph_api.requests == []


async def test_an_agents_reply_goes_out_once(output, graph_api, repository) -> None:
    sent_before = messages_counted("messenger", "out")
    reply = {"text": "Baik Bapak.", "handoff_message_id": 41}
    async with output:
        await output.send_response(PSID, dict(reply))
        await output.send_response(PSID, dict(reply))
    assert len(graph_api.requests) == 1
    assert repository.replies_sent("messenger", "handoff:41") == {1}
    assert messages_counted("messenger", "out") - sent_before == 1


@pytest.mark.parametrize(
    ("script", "requests", "delivered"),
    [
        ([500, 500], 3, True),
        ([429], 2, True),
        ([503, 502, 500], 3, False),
        ([400], 1, False),
    ],
)
async def test_retries(output, graph_api, caplog, script, requests, delivered) -> None:
    caplog.set_level(logging.DEBUG)
    graph_api.script = list(script)
    async with output:
        ok = await output.send_messages(PSID, text_messages(SECRET_TEXT), agent_reply=False)
    assert ok is delivered
    assert len(graph_api.requests) == requests
    assert len({json.dumps(r.json, sort_keys=True) for r in graph_api.requests}) == 1
    text = log_text(caplog)
    assert SECRET_TEXT not in text and PSID not in text and "131000" in text
    failures = [r for r in caplog.records if r.name == "connectors.messenger"]
    assert len(failures) == len(script)
    assert (failures[-1].levelno == logging.ERROR) is not delivered


async def test_a_client_error_raises_when_asked(graph_api, repository) -> None:
    repository.claim("instagram", "m_IG", IGSID)
    graph_api.script = [400]
    output = InstagramOutput(
        "IGQ-token", IG_ACCOUNT_ID, graph_api.url, raise_on_failure=True, repository=repository
    )
    async with output:
        with pytest.raises(MetaSendError) as raised:
            await output.send_text_message(IGSID, SECRET_TEXT)
    assert raised.value.status == 400 and raised.value.error_code == 131000
    assert SECRET_TEXT not in str(raised.value) and len(graph_api.requests) == 1

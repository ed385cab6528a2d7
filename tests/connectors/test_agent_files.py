"""An agent's file (sent from the desk with a reply) on each output channel: WhatsApp and
Messenger upload it then send it by id, Telegram uploads it with sendPhoto/sendDocument,
e-mail attaches it, Instagram and the web chat send the text with a notice. The window rules
of agents' replies still hold, and a reply goes out once.

The message is what Rasa gives the channel for the worker's bot message: its text, and the
metadata (`handoff_message_id`, the file's reference under `ATTACHMENT_KEY`) merged in. The
bytes come from a file store in a temp folder. WhatsApp runs against the e2e suites' fake
Graph API (tests/support/fake_whatsapp.py), Messenger and Instagram against the conftest's,
Telegram against test_telegram.py's fake Bot API.
"""

from __future__ import annotations

import json
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from typing import Any, AsyncIterator, Iterator

import pytest

from connectors.common.agent_files import FILE_FAILED_NOTICE, FILE_NOTICE, with_notice
from connectors.email.output import EmailOutput, SmtpSettings, Thread
from connectors.email.render import ATTACHED_LABEL, Part, render_body
from connectors.meta import InstagramOutput, MessengerOutput
from connectors.telegram.output import TelegramOutput
from connectors.webchat.webhook import SocketIOOutput
from connectors.whatsapp.output import WhatsAppOutput
from helpdesk.handoff.agent_files import (
    ATTACHMENT_KEY,
    AgentFile,
    attachment_metadata,
    store_agent_file,
)
from helpdesk.storage.attachments import AttachmentFiles
from helpdesk.storage.models import utcnow
from tests.connectors.test_telegram import ACCESS_TOKEN as BOT_TOKEN
from tests.connectors.test_telegram import CHAT_ID, FakeBotApi, running_bot_api
from tests.support.fake_whatsapp import FakeGraph

ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "109876543210987"
PHONE = "6281234567890"
PSID = "6543210987654321"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 16
TEXT = "Berikut surat balasan yang Bapak minta."


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def files(tmp_path) -> AttachmentFiles:
    return AttachmentFiles(tmp_path / "files")


def agent_reply(
    files: AttachmentFiles,
    data: bytes,
    name: str,
    text: str = TEXT,
    *,
    reply_id: int = 41,
    sender: str = PHONE,
) -> dict[str, Any]:
    """Rasa's message for the worker's bot event of a reply with a file."""
    stored = store_agent_file(files, data, name, sender)
    return {
        "text": text,
        "handoff_message_id": reply_id,
        "handoff_id": 7,
        "agent": "Rina",
        ATTACHMENT_KEY: attachment_metadata(stored.reference, stored.filename),
    }


# --------------------------------------------------------------------------- WhatsApp


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    graph = FakeGraph(token=ACCESS_TOKEN)
    yield graph
    graph.close()


@pytest.fixture
def whatsapp(fake_graph, repository, files) -> WhatsAppOutput:
    repository.claim("whatsapp", "wamid.LAST", PHONE)  # the citizen wrote just now
    output = WhatsAppOutput(
        ACCESS_TOKEN,
        PHONE_NUMBER_ID,
        fake_graph.url,
        backoff=0.01,
        timeout=5,
        repository=repository,
        clock=Clock(),
    )
    output.attachment_files = files
    return output


async def test_whatsapp_uploads_the_file_then_sends_a_document_by_its_id(
    whatsapp, fake_graph, files
) -> None:
    reply = agent_reply(files, PDF, "surat.pdf")
    async with whatsapp:
        await whatsapp.send_response(PHONE, dict(reply))
        await whatsapp.send_response(PHONE, dict(reply))  # sent again by the worker: once
    [upload] = fake_graph.uploads
    assert upload["path"] == f"/v20.0/{PHONE_NUMBER_ID}/media"
    assert upload["fields"] == {"messaging_product": "whatsapp", "type": "application/pdf"}
    assert (upload["filename"], upload["type"], upload["data"]) == (
        "surat.pdf",
        "application/pdf",
        PDF,
    )
    [body] = fake_graph.bodies
    assert body["path"] == f"/v20.0/{PHONE_NUMBER_ID}/messages" and body["to"] == PHONE
    assert body["type"] == "document"
    assert body["document"] == {"id": "media-out-1", "filename": "surat.pdf", "caption": TEXT}


async def test_whatsapp_sends_a_photo_and_puts_a_long_text_before_it(
    whatsapp, fake_graph, files
) -> None:
    long_text = "Penjelasan panjang. " * 80  # over the 1024 characters of a caption
    async with whatsapp:
        await whatsapp.send_response(PHONE, agent_reply(files, PNG, "foto.png", ""))
        await whatsapp.send_response(
            PHONE, agent_reply(files, PNG, "foto.png", long_text, reply_id=42)
        )
    kinds = [(b["type"], b.get("image", {}).get("caption")) for b in fake_graph.bodies]
    assert kinds == [("image", None), ("text", None), ("image", None)]
    assert fake_graph.bodies[1]["text"]["body"] == long_text.strip()
    assert [u["type"] for u in fake_graph.uploads] == ["image/png", "image/png"]


async def test_whatsapp_outside_the_window_uploads_and_sends_nothing(
    whatsapp, fake_graph, files, caplog
) -> None:
    whatsapp.clock.now += timedelta(hours=25)
    async with whatsapp:
        await whatsapp.send_response(PHONE, agent_reply(files, PDF, "surat.pdf"))
    assert fake_graph.uploads == [] and fake_graph.bodies == []
    assert "24-hour customer service window" in caplog.text and TEXT not in caplog.text


async def test_whatsapp_tells_the_citizen_when_the_file_cannot_go(
    whatsapp, fake_graph, files
) -> None:
    fake_graph.upload_status = 400
    async with whatsapp:
        await whatsapp.send_response(PHONE, agent_reply(files, PDF, "surat.pdf"))
        # A GIF is no photo or document on WhatsApp: the text with the notice, no upload.
        await whatsapp.send_response(PHONE, agent_reply(files, GIF, "animasi.gif", reply_id=42))
    assert len(fake_graph.uploads) == 1  # tried once: 400 is not retried
    assert fake_graph.texts_to(PHONE) == [
        with_notice(TEXT, "surat.pdf", FILE_FAILED_NOTICE),
        with_notice(TEXT, "animasi.gif", FILE_NOTICE),
    ]


async def test_a_file_erased_before_it_went_out_leaves_the_text(
    whatsapp, fake_graph, files
) -> None:
    reply = agent_reply(files, PDF, "surat.pdf")
    files.forget_sender(PHONE)
    async with whatsapp:
        await whatsapp.send_response(PHONE, reply)
    assert fake_graph.uploads == [] and fake_graph.texts_to(PHONE) == [TEXT]


# --------------------------------------------------------------------------- Messenger, Instagram


@pytest.fixture
def messenger(graph_api, repository, files) -> MessengerOutput:
    repository.claim("messenger", "m_LAST", PSID)
    output = MessengerOutput(
        "EAAG-page-token",
        "me",
        graph_api.url,
        backoff=0.01,
        timeout=5,
        repository=repository,
        clock=Clock(),
    )
    output.attachment_files = files
    return output


async def test_messenger_uploads_then_sends_text_and_file_tagged_after_24_hours(
    messenger, graph_api, files
) -> None:
    messenger.clock.now += timedelta(hours=25)  # an agent's reply: HUMAN_AGENT tag
    reply = agent_reply(files, PDF, "surat.pdf", sender=PSID)
    async with messenger:
        await messenger.send_response(PSID, dict(reply))
        await messenger.send_response(PSID, dict(reply))  # once
    [upload] = graph_api.uploads
    assert upload["path"] == "/v20.0/me/message_attachments"
    assert json.loads(upload["message"]) == {
        "attachment": {"type": "file", "payload": {"is_reusable": False}}
    }
    assert upload["filedata"] == ("surat.pdf", "application/pdf", PDF)
    sent = [
        (r.json["message"], r.json["messaging_type"], r.json.get("tag")) for r in graph_api.requests
    ]
    assert sent == [
        ({"text": TEXT}, "MESSAGE_TAG", "HUMAN_AGENT"),
        (
            {"attachment": {"type": "file", "payload": {"attachment_id": "1001"}}},
            "MESSAGE_TAG",
            "HUMAN_AGENT",
        ),
    ]


async def test_messenger_after_seven_days_uploads_nothing(messenger, graph_api, files) -> None:
    messenger.clock.now += timedelta(days=8)
    async with messenger:
        await messenger.send_response(PSID, agent_reply(files, PNG, "foto.png", sender=PSID))
    assert graph_api.uploads == [] and graph_api.requests == []


async def test_instagram_sends_the_text_with_a_notice(graph_api, repository, files) -> None:
    repository.claim("instagram", "m_IG", PSID)
    output = InstagramOutput("IGQ-token", "17841400000000001", graph_api.url, repository=repository)
    output.attachment_files = files
    async with output:
        await output.send_response(PSID, agent_reply(files, PNG, "foto.png", sender=PSID))
    assert graph_api.uploads == []
    [request] = graph_api.requests
    assert request.json["message"] == {"text": with_notice(TEXT, "foto.png")}


# --------------------------------------------------------------------------- Telegram


@pytest.fixture
async def telegram(repository, files) -> AsyncIterator[tuple[TelegramOutput, FakeBotApi]]:
    async with running_bot_api() as bot_api:
        output = TelegramOutput(BOT_TOKEN, bot_api.url, backoff=0.01, timeout=5)
        output.reply_ledger = repository
        output.attachment_files = files
        yield output, bot_api
        await output.close()


async def test_telegram_sends_photos_and_documents_as_uploads(telegram, files) -> None:
    output, bot_api = telegram
    chat = str(CHAT_ID)
    photo = agent_reply(files, PNG, "foto.png", sender=chat)
    await output.send_response(chat, dict(photo))
    await output.send_response(chat, dict(photo))  # once
    long_text = "Penjelasan panjang. " * 80
    await output.send_response(
        chat, agent_reply(files, PDF, "surat.pdf", long_text, reply_id=42, sender=chat)
    )
    assert bot_api.methods == ["sendPhoto", "sendMessage", "sendDocument"]
    [photo_call, _, document_call] = bot_api.requests
    assert photo_call.data["caption"] == TEXT and photo_call.files["photo"] == ("foto.png", PNG)
    assert bot_api.calls("sendMessage")[0]["text"] == long_text.strip()
    assert "caption" not in document_call.data
    assert document_call.files["document"] == ("surat.pdf", PDF)


# --------------------------------------------------------------------------- e-mail


def test_an_agents_file_is_attached_to_the_mail() -> None:
    output = EmailOutput(SmtpSettings("smtp.test"), "helpdesk@djpb.test", store=_NoStore())
    thread = Thread(address="budi@contoh.go.id", subject="Surat")
    part = Part(text=TEXT, files=[AgentFile(PDF, "surat.pdf", "application/pdf")])
    message, _ = output.compose(thread, [part])
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    [attached] = list(parsed.iter_attachments())
    assert attached.get_filename() == "surat.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_payload(decode=True) == PDF
    body = parsed.get_body(("plain",)).get_content()
    assert TEXT in body and f"{ATTACHED_LABEL}: surat.pdf" in body


def test_a_file_only_part_still_makes_a_mail() -> None:
    body, _ = render_body([Part(files=[AgentFile(PDF, "surat.pdf", "application/pdf")])])
    assert body.startswith(f"{ATTACHED_LABEL}: surat.pdf")


async def test_the_email_channel_sends_an_agents_reply_with_its_file(files) -> None:
    sent: list[Any] = []
    output = EmailOutput(SmtpSettings("smtp.test"), "helpdesk@djpb.test", store=_NoStore())
    output.attachment_files = files
    output.reply_ledger = _NoLedger()
    output.send_mail_sync = lambda message: sent.append(message) or True  # type: ignore[method-assign]
    conversation = "budi@contoh.go.id#abc"
    await output.send_response(
        conversation, agent_reply(files, PDF, "surat.pdf", sender=conversation)
    )
    [message] = sent
    assert message["To"] == "budi@contoh.go.id"
    assert [a.get_filename() for a in message.iter_attachments()] == ["surat.pdf"]


class _NoStore:
    """A payload store with nothing in it (no thread recorded: a new one)."""

    def save(self, short_id: str, payload: str) -> bool:
        return True

    def get(self, short_id: str) -> str | None:
        return None


class _NoLedger:
    """A reply ledger that never saw a reply."""

    def replies_sent(self, channel: str, cause: str) -> frozenset[int]:
        return frozenset()

    def record_reply(self, channel: str, cause: str, seq: int) -> None:
        return None


# --------------------------------------------------------------------------- web chat


async def test_the_web_chat_sends_the_text_with_a_notice(files) -> None:
    class FakeSocketServer:
        def __init__(self) -> None:
            self.emitted: list[tuple[str, Any, str]] = []

        async def emit(self, event: str, data: Any, room: str) -> None:
            self.emitted.append((event, data, room))

    sio = FakeSocketServer()
    output = SocketIOOutput(sio, "bot_uttered")  # type: ignore[arg-type]
    await output.send_response("sesi-1", agent_reply(files, PDF, "surat.pdf", sender="sesi-1"))
    # Rasa's socket.io channel sends each paragraph as a message of its own.
    assert [(event, room) for event, _, room in sio.emitted] == [("bot_uttered", "sesi-1")] * 2
    assert [data for _, data, _ in sio.emitted] == [
        {"text": TEXT},
        {"text": FILE_NOTICE.format(filename="surat.pdf")},
    ]

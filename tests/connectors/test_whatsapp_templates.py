"""WhatsApp's 24-hour customer service window and the approved templates, against the fake
Graph API (conftest.py) with the clock moved: inside the window a message goes out as text;
after it, only the template that stands for it, never text; a message no template stands for
is not sent at all."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from connectors.whatsapp import WhatsAppOutput, WhatsAppSendError
from connectors.whatsapp.output import OUTSIDE_WINDOW
from connectors.whatsapp.render import template_body
from helpdesk.conversation.message_templates import load_registry, parse_registry
from helpdesk.profile import load_profile
from helpdesk.storage.models import utcnow
from helpdesk.storage.tickets import TicketRecord
from helpdesk.tickets.status_updates import status_update
from tests.connectors.test_whatsapp import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    SENDER,
    backdate,
    log_text,
    messages_counted,
)

TEMPLATES = load_registry(load_profile("djpb").whatsapp_templates_file)
IDLE_MESSAGE = {
    "text": "Sesi chat berakhir karena tidak ada aktivitas selama 5 menit.",
    "utter_action": "utter_session_idle",
    "minutes": 5,
    "website": " Informasi lengkap: https://djpb.kemenkeu.go.id",
}
RATING_MESSAGE = {
    "text": "Seberapa puas Anda dengan layanan petugas kami?",
    "buttons": [{"title": "1 - Sangat Tidak Puas", "payload": '/inform{"number":"1"}'}],
    "utter_action": "utter_ask_agent_rating",
}
SECRET_TEXT = "NIK saya 3175091201850003 rahasia"


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
def output(graph_api, repository, clock) -> WhatsAppOutput:
    repository.claim("whatsapp", "wamid.LAST", SENDER)  # the citizen wrote just now
    return WhatsAppOutput(
        ACCESS_TOKEN,
        PHONE_NUMBER_ID,
        graph_api.url,
        backoff=0.01,
        timeout=5,
        repository=repository,
        clock=clock,
        templates=TEMPLATES,
    )


def ticket(status: str = "resolved", reply: str | None = None) -> TicketRecord:
    now = utcnow()
    return TicketRecord(
        id="20260414-DBKSWU",
        subject="Lupa password SAKTI",
        chronology="...",
        email=None,
        attachment=None,
        status=status,
        public_reply=reply,
        sender_id=SENDER,
        channel="whatsapp",
        created_at=now,
        updated_at=now,
    )


def test_a_template_body_names_the_template_language_parameters_and_payloads() -> None:
    rating = TEMPLATES.get("penilaian_layanan_petugas")
    status = TEMPLATES.get("status_tiket_diperbarui")
    body = template_body(
        SENDER, status, {"ticket_number": "20260414-DBKSWU", "status_label": "Selesai"}
    )
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": SENDER,
        "type": "template",
        "template": {
            "name": "status_tiket_diperbarui",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "20260414-DBKSWU"},
                        {"type": "text", "text": "Selesai"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "/check_ticket_status"}],
                },
            ],
        },
    }
    rating_body = template_body(SENDER, rating, {})
    components = rating_body["template"]["components"]
    assert [c["type"] for c in components] == ["button"] * 5  # no variables: no body component
    assert components[4]["parameters"][0]["payload"] == '/rate_agent{"number":"5"}'
    no_components = parse_registry(
        {
            "version": 1,
            "templates": [
                {"name": "halo", "language": "id", "category": "UTILITY", "body": "Halo."}
            ],
        },
        "t.yml",
    ).get("halo")
    assert template_body(SENDER, no_components, {})["template"] == {
        "name": "halo",
        "language": {"code": "id"},
    }


async def test_inside_the_window_text_after_it_the_template_never_text(
    output, graph_api, clock, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.whatsapp")
    sent_before = messages_counted("whatsapp", "out")
    async with output:
        await output.send_response(SENDER, dict(IDLE_MESSAGE))
        clock.now += timedelta(hours=24, minutes=1)
        await output.send_response(SENDER, dict(IDLE_MESSAGE))
        await output.send_response(SENDER, dict(RATING_MESSAGE))
    kinds = [r.json["type"] for r in graph_api.requests]
    assert kinds == ["text", "template", "template"]
    assert graph_api.requests[0].json["text"]["body"] == IDLE_MESSAGE["text"]
    idle, rating = graph_api.requests[1].json["template"], graph_api.requests[2].json["template"]
    assert idle["name"] == "sesi_chat_berakhir"
    assert idle["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "5"}]}]
    assert rating["name"] == "penilaian_layanan_petugas" and len(rating["components"]) == 5
    assert messages_counted("whatsapp", "out") - sent_before == 3
    assert "template sesi_chat_berakhir sent to ***7890" in log_text(caplog)


async def test_after_the_window_a_message_without_template_is_not_sent(
    output, graph_api, clock, caplog
) -> None:
    agent_reply = {"text": SECRET_TEXT, "handoff_message_id": 7, "agent": "Rina"}
    clock.now += timedelta(hours=25)
    async with output:
        await output.send_response(SENDER, {"text": SECRET_TEXT, "utter_action": "utter_greet"})
        await output.send_response(SENDER, {"text": SECRET_TEXT})
        await output.send_response(SENDER, dict(agent_reply))  # no HUMAN_AGENT tag on WhatsApp
        await output.send_text_message(SENDER, SECRET_TEXT)  # the low-level calls too
        await output.send_text_with_buttons(SENDER, SECRET_TEXT, RATING_MESSAGE["buttons"])
        await output.send_image_url(SENDER, "https://example.org/peta.png")
        await output.send_custom_json(SENDER, {"type": "text", "text": {"body": SECRET_TEXT}})
    assert graph_api.requests == []
    text = log_text(caplog)
    assert text.count("outside the 24-hour customer service window") == 7
    assert "utter_greet, for which no approved template stands" in text
    assert SECRET_TEXT not in text and SENDER not in text


async def test_the_window_opens_again_when_the_citizen_writes(
    output, graph_api, clock, repository
) -> None:
    clock.now += timedelta(hours=30)
    async with output:
        await output.send_response(SENDER, {"text": "Tertahan"})
        repository.claim("whatsapp", "wamid.AGAIN", SENDER)
        clock.now = utcnow()
        await output.send_response(SENDER, {"text": "Terbuka lagi"})
    assert [r.json["text"]["body"] for r in graph_api.requests] == ["Terbuka lagi"]


async def test_a_backdated_message_or_none_at_all_closes_the_window(
    output, graph_api, session_factory, repository
) -> None:
    backdate(session_factory, "wamid.LAST", timedelta(hours=30))
    async with output:
        await output.send_response(SENDER, {"text": "Terlambat"})
        await output.send_response("6289876543210", {"text": "Belum pernah menulis"})
        await output.send_response("6289876543210", dict(IDLE_MESSAGE))
    assert [r.json["type"] for r in graph_api.requests] == ["template"]
    assert graph_api.requests[0].json["to"] == "6289876543210"


async def test_the_ticket_status_update_goes_out_as_its_template_after_24_hours(
    output, graph_api, clock
) -> None:
    text, metadata = status_update(ticket("resolved", "Password sudah\ndireset."))
    async with output:
        await output.send_response(SENDER, {"text": text, **metadata})
        clock.now += timedelta(days=3)
        await output.send_response(SENDER, {"text": text, **metadata})
    first, second = (r.json for r in graph_api.requests)
    assert (
        first["type"] == "text"
        and "Tanggapan petugas: Password sudah\ndireset." in (first["text"]["body"])
    )
    assert second["type"] == "template"
    assert second["template"]["name"] == "status_tiket_diperbarui"
    assert second["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "20260414-DBKSWU"},
        {"type": "text", "text": "Selesai"},
    ]


async def test_a_value_meta_would_refuse_sends_nothing(output, graph_api, clock, caplog) -> None:
    clock.now += timedelta(hours=25)
    async with output:
        await output.send_response(SENDER, {**IDLE_MESSAGE, "minutes": "5\n menit"})
        await output.send_response(SENDER, {**IDLE_MESSAGE, "minutes": None})
    assert graph_api.requests == []
    assert "the value of 'minutes' holds a newline" in log_text(caplog)
    assert "no value for 'minutes'" in log_text(caplog)


async def test_outside_the_window_raises_when_asked(graph_api, repository, clock) -> None:
    output = WhatsAppOutput(
        ACCESS_TOKEN,
        PHONE_NUMBER_ID,
        graph_api.url,
        raise_on_failure=True,
        repository=repository,
        clock=clock,
        templates=TEMPLATES,
    )
    async with output:
        with pytest.raises(WhatsAppSendError) as raised:
            await output.send_text_message(SENDER, SECRET_TEXT)  # never wrote
        await output.send_response(SENDER, dict(IDLE_MESSAGE))  # a template may go
    assert raised.value.error_code == OUTSIDE_WINDOW
    assert [r.json["type"] for r in graph_api.requests] == ["template"]


async def test_an_unreadable_database_lets_meta_decide(graph_api, clock, caplog) -> None:
    class BrokenRepository:
        def last_received(self, channel: str, sender: str) -> datetime | None:
            raise RuntimeError("database is locked")

    output = WhatsAppOutput(
        ACCESS_TOKEN,
        PHONE_NUMBER_ID,
        graph_api.url,
        repository=BrokenRepository(),  # type: ignore[arg-type]
        clock=clock,
        templates=TEMPLATES,
    )
    async with output:
        await output.send_response(SENDER, {"text": "Halo"})
    assert [r.json["type"] for r in graph_api.requests] == ["text"]
    assert "could not read when ***7890 last wrote (RuntimeError)" in log_text(caplog)

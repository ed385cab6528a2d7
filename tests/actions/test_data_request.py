"""The citizen's data requests in the chat: WhatsApp proves who writes, the web chat asks an
e-mailed code; the request is confirmed, recorded once and answered."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.data_request import ActionDataRequest, ActionStartDataRequest
from actions.forms.validate_data_request_form import ValidateDataRequestForm
from helpdesk.privacy.requests import EmailCodes
from helpdesk.services import Services
from helpdesk.storage.data_requests import EmailVerificationRepository
from tests.actions.conftest import make_tracker, responses, slot_events

PHONE = "6281234567890"


def tracker(
    text: str = "ya",
    *,
    channel: str = "whatsapp",
    sender: str = PHONE,
    intent: str = "affirm",
    **slot_values: Any,
):
    events = [{"event": "user", "text": text, "parse_data": {}, "input_channel": channel}]
    return make_tracker(text, intent=intent, slots=slot_values, events=events, sender_id=sender)


class MailedServices(Services):
    """Services whose e-mail goes to a list instead of an SMTP server."""

    sent: list[EmailMessage]

    @property
    def email_codes(self) -> EmailCodes:
        return EmailCodes(
            EmailVerificationRepository(self.session_factory),
            lambda message: self.sent.append(message) or True,
            mail_from="helpdesk@contoh.go.id",
        )


async def test_the_intent_names_the_request(services) -> None:
    events = await ActionStartDataRequest().run(
        CollectingDispatcher(), tracker("hapus data saya", intent="data_erasure"), {}
    )
    assert slot_events(events)["data_request_kind"] == "erasure"
    events = await ActionStartDataRequest().run(
        CollectingDispatcher(), tracker("data saya", intent="data_access"), {}
    )
    assert slot_events(events)["data_request_kind"] == "access"


@pytest.mark.parametrize(
    ("channel", "asked"),
    [
        ("whatsapp", ["data_request_confirm"]),
        ("telegram", ["data_request_confirm"]),
        ("socketio", ["data_request_email", "data_request_code", "data_request_confirm"]),
        ("rest", ["data_request_email", "data_request_code", "data_request_confirm"]),
    ],
)
async def test_only_channels_that_prove_the_sender_skip_the_email_code(
    services, channel, asked
) -> None:
    form = ValidateDataRequestForm(services)
    slots = await form.required_slots([], CollectingDispatcher(), tracker(channel=channel), {})
    assert slots == asked


async def test_a_whatsapp_access_request_is_answered_in_the_chat(services) -> None:
    services.conversations.record_session_start(PHONE, "whatsapp")
    services.questions.record(PHONE, "cara reset sakti", answered=True, faq_id="sakti")
    dispatcher = CollectingDispatcher()

    events = await ActionDataRequest(services).run(
        dispatcher,
        tracker(data_request_kind="access", data_request_confirm="ya"),
        {},
    )

    assert responses(dispatcher) == ["utter_data_request_copy"]
    sent = dispatcher.messages[0]
    assert "1 pertanyaan yang Anda ajukan" in sent["summary"]
    assert sent["reference"].startswith("PD-") and "petugas" in sent["copy_note"]
    assert slot_events(events)["data_request_kind"] is None
    (request,) = services.data_requests.repository.recent()
    assert (request.kind, request.status, request.verified_by) == (
        "access",
        "completed",
        "whatsapp",
    )


async def test_an_erasure_waits_for_a_supervisor_and_is_not_asked_twice(services) -> None:
    action = ActionDataRequest(services)
    first, second = CollectingDispatcher(), CollectingDispatcher()
    slots = {"data_request_kind": "erasure", "data_request_confirm": "ya"}

    await action.run(first, tracker(**slots), {})
    await action.run(second, tracker(**slots), {})

    assert responses(first) == ["utter_data_request_pending"]
    assert responses(second) == ["utter_data_request_exists"]
    assert first.messages[0]["reference"] == second.messages[0]["reference"]
    assert len(services.data_requests.repository.recent()) == 1


async def test_no_means_nothing_is_recorded(services) -> None:
    dispatcher = CollectingDispatcher()
    await ActionDataRequest(services).run(
        dispatcher, tracker(data_request_kind="erasure", data_request_confirm="tidak"), {}
    )
    assert responses(dispatcher) == ["utter_data_request_cancelled"]
    assert services.data_requests.repository.recent() == []


async def test_the_web_chat_proves_the_address_with_an_emailed_code(settings, session_factory):
    services = MailedServices(settings, session_factory=session_factory)
    services.sent = []
    form = ValidateDataRequestForm(services)
    web = {"channel": "socketio", "sender": "web-abc"}
    dispatcher = CollectingDispatcher()

    assert await form.validate_data_request_email(
        "email saya budi@contoh.go.id", dispatcher, tracker(**web), {}
    ) == {"data_request_email": "budi@contoh.go.id"}
    assert responses(dispatcher) == ["utter_data_request_code_sent"]
    assert dispatcher.messages[0]["email_masked"] == "bu***@co***.go.id"
    (mail,) = services.sent
    code = next(w.strip(".") for w in mail.get_content().split() if w.strip(".").isdigit())

    wrong_code = "111111" if code == "000000" else "000000"
    wrong = CollectingDispatcher()
    result = await form.validate_data_request_code(wrong_code, wrong, tracker(**web), {})
    assert result == {"data_request_code": None}
    assert responses(wrong) == ["utter_data_request_code_wrong"]
    right = await form.validate_data_request_code(
        f"kodenya {code}", CollectingDispatcher(), tracker(**web), {}
    )
    assert right == {"data_request_code": "ok", "data_request_verified_email": "budi@contoh.go.id"}

    dispatcher = CollectingDispatcher()
    await ActionDataRequest(services).run(
        dispatcher,
        tracker(
            **web,
            data_request_kind="access",
            data_request_confirm="ya",
            data_request_verified_email="budi@contoh.go.id",
        ),
        {},
    )
    assert responses(dispatcher) == ["utter_data_request_copy"]
    (request,) = services.data_requests.repository.recent()
    assert (request.verified_by, request.email) == ("email", "budi@contoh.go.id")


async def test_without_smtp_the_web_chat_is_told_where_to_ask(services) -> None:
    dispatcher = CollectingDispatcher()
    result = await ValidateDataRequestForm(services).validate_data_request_email(
        "budi@contoh.go.id", dispatcher, tracker(channel="socketio", sender="web-1"), {}
    )
    assert responses(dispatcher) == ["utter_data_request_email_unavailable"]
    assert result["requested_slot"] is None and result["form_stopped"] is True


async def test_an_unverified_web_visitor_gets_nothing(services) -> None:
    dispatcher = CollectingDispatcher()
    unverified = tracker(channel="socketio", sender="web-1", data_request_kind="access")
    unverified.slots["data_request_confirm"] = "ya"
    await ActionDataRequest(services).run(dispatcher, unverified, {})
    assert responses(dispatcher) == ["utter_data_request_email_unavailable"]
    assert services.data_requests.repository.recent() == []


@pytest.mark.parametrize(
    ("typed", "value"), [("ya", "ya"), ("iya lanjut", "ya"), ("tidak usah", "tidak"), ("hmm", None)]
)
def test_the_confirmation_reads_yes_and_no(services, typed, value) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateDataRequestForm(services).validate_data_request_confirm(
        typed, dispatcher, tracker(typed), {}
    )
    assert result == {"data_request_confirm": value}
    assert responses(dispatcher) == ([] if value else ["utter_invalid_data_request_confirm"])


async def test_codes_are_limited_like_lookups(settings, session_factory) -> None:
    from helpdesk.security.ratelimit import LookupLimits, RateLimiter, Rule
    from helpdesk.storage.ratelimits import RateLimitRepository

    class Limited(MailedServices):
        @property
        def lookup_limits(self) -> LookupLimits:
            limiter = RateLimiter(RateLimitRepository(self.session_factory))
            return LookupLimits(limiter, per_sender=Rule("lookup_sender", 2, 3600))

    services = Limited(settings, session_factory=session_factory)
    services.sent = []
    form = ValidateDataRequestForm(services)
    web = tracker(channel="socketio", sender="web-spam")
    for _ in range(2):
        await form.validate_data_request_email("a@contoh.go.id", CollectingDispatcher(), web, {})
    dispatcher = CollectingDispatcher()

    result = await form.validate_data_request_email("b@contoh.go.id", dispatcher, web, {})

    assert responses(dispatcher) == ["utter_lookup_limited"] and result["form_stopped"] is True
    assert len(services.sent) == 2

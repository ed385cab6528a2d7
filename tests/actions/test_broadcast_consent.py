"""BERHENTI / MULAI in the chat: recorded for the WhatsApp number and confirmed."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.broadcast_consent import ActionBroadcastConsent
from tests.actions.conftest import make_tracker, responses

PHONE = "6281234567890"


def tracker(intent: str, *, channel: str = "whatsapp", sender: str = PHONE):
    events = [{"event": "user", "text": "x", "parse_data": {}, "input_channel": channel}]
    return make_tracker("x", intent=intent, events=events, sender_id=sender)


async def run(services, intent: str, **kwargs) -> tuple[list, list]:
    dispatcher = CollectingDispatcher()
    events = await ActionBroadcastConsent(services).run(dispatcher, tracker(intent, **kwargs), {})
    return responses(dispatcher), events


async def test_berhenti_then_mulai(services) -> None:
    said, _ = await run(services, "broadcast_opt_out")
    assert said == ["utter_broadcast_opted_out"]
    assert services.broadcasts.opted_out(PHONE)
    said, _ = await run(services, "broadcast_opt_in")
    assert said == ["utter_broadcast_opted_in"]
    assert not services.broadcasts.opted_out(PHONE)


async def test_mulai_from_a_number_that_never_stopped_shows_the_menu(services) -> None:
    said, events = await run(services, "broadcast_opt_in")
    assert said == [] and events[0]["name"] == "action_show_menu"
    assert services.broadcasts.repository.consent(PHONE) is None


@pytest.mark.parametrize("channel", ["socketio", "telegram", "rest"])
async def test_other_channels_are_sent_to_whatsapp(services, channel: str) -> None:
    said, _ = await run(services, "broadcast_opt_out", channel=channel, sender="abc-123")
    assert said == ["utter_broadcast_whatsapp_only"]

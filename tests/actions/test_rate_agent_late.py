"""A tap on the agent-rating template in a later session: stored once for the latest resolved
handoff, refused politely when there is none to rate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import update

from actions.rate_agent_late import ActionRateAgentLate
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import CsatRating, Handoff
from tests.actions.conftest import make_tracker, responses
from tests.actions.test_handoff_end import SENDER, resolved


async def tap(services, number: str | None = "4", text: str = '/rate_agent{"number":"4"}'):
    entities = [{"entity": "number", "value": number}] if number else []
    tracker = make_tracker(text, intent="rate_agent", entities=entities, sender_id=SENDER)
    dispatcher = CollectingDispatcher()
    await ActionRateAgentLate(services).run(dispatcher, tracker, {})
    return dispatcher


def ratings(services) -> list[tuple[int, str, int | None]]:
    with session_scope(services.session_factory) as session:
        rows = session.query(CsatRating).all()
        return [(r.rating, r.kind, r.handoff_id) for r in rows]


async def test_a_late_tap_rates_the_latest_resolved_handoff_once(services) -> None:
    handoff_id = resolved(services)
    dispatcher = await tap(services)
    assert responses(dispatcher) == ["utter_csat_thanks_agent"]
    assert dispatcher.messages[0]["rating_label"] == "4 - Puas"
    await tap(services, "5")  # a second tap: thanked, not counted again
    assert ratings(services) == [(4, "agent", handoff_id)]


async def test_nothing_to_rate_without_a_recent_resolved_handoff(services) -> None:
    assert responses(await tap(services)) == ["utter_agent_rating_nothing_to_rate"]
    handoff_id = resolved(services)
    with session_scope(services.session_factory) as session:
        session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id)
            .values(ended_at=datetime.now(timezone.utc) - timedelta(days=9))
        )
    assert responses(await tap(services)) == ["utter_agent_rating_nothing_to_rate"]
    assert ratings(services) == []


async def test_a_typed_rating_without_a_number_asks_for_one(services) -> None:
    resolved(services)
    dispatcher = await tap(services, None, "mau kasih rating ke petugas")
    assert responses(dispatcher) == ["utter_ask_agent_rating"]
    assert ratings(services) == []

"""The human handoff seen from the citizen's web chat, in headless Chromium.

A citizen on the web chat page asks for an officer and is told their place in the queue;
while queued the bot stays silent. The agent's side is played through the helpdesk database
(take, reply, resolve, as the desk's views do), and the desk's worker delivers: the agent's
reply appears in the open page without reloading (Rasa's HTTP API, `output_channel=latest`,
back over socket.io), then the bot's thanks and the 1-5 agent rating question with buttons;
the citizen's click on "5" is stored as an agent rating of that handoff.

The whole assistant runs (tests/support/stack.py with `desk=True`): backend simulator, action
server, Rasa server with the socket.io and web chat channels, and `helpdesk desk serve` with its
worker. Office hours are always open here, so the test does not depend on the time it runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.browser.conftest import CREDENTIALS
from tests.browser.test_webchat_browser import (
    PHONE,
    bot_texts,
    open_fresh,
    say,
    session_id,
    set_viewport,
    type_message,
    user_texts,
    wait_for_bot,
    wait_until,
)
from tests.support.handoff_play import (
    create_agent,
    csat_ratings,
    desk_services,
    handoff_env,
    tracker_events,
)

pytestmark = pytest.mark.browser

AGENT = ("sari", "Sari Petugas", "sandi-rahasia-sari-1")


@pytest.fixture(scope="module")
def handoff_stack(browser_prerequisites: None) -> Iterator[Any]:
    from tests.support.stack import Stack

    with Stack(rasa=True, desk=True, env=handoff_env(), credentials=CREDENTIALS) as running:
        yield running


@pytest.fixture(scope="module")
def services(handoff_stack: Any) -> Iterator[Any]:
    """The helpdesk services on the stack's database, as the desk process builds them."""
    with desk_services(handoff_stack) as built:
        yield built


@pytest.fixture(scope="module")
def agent_id(services: Any) -> int:
    """An agent (offline: the worker does not assign to them, they take by hand)."""
    return create_agent(services, *AGENT).id


def open_handoff(services: Any, sender: str) -> Any:
    return services.handoffs.open_for(sender)


def events_after_user_text(stack: Any, sender: str, text: str) -> list[dict[str, Any]] | None:
    """The tracker's events from the citizen's message `text` on, or None before it is logged."""
    events = tracker_events(stack, sender)
    starts = [i for i, e in enumerate(events) if e["event"] == "user" and e.get("text") == text]
    return events[starts[-1] :] if starts else None


def chip_groups(driver) -> list[Any]:
    return driver.find_elements("css selector", "#chat-log .chips")


def test_agent_reply_and_rating_reach_the_web_chat(
    driver, handoff_stack, services, agent_id, screenshot_dir: Path
) -> None:
    set_viewport(driver, PHONE)
    driver.get_log("browser")  # drop earlier entries
    open_fresh(driver, handoff_stack)
    sender = session_id(driver)
    assert sender

    # The citizen asks for an officer and is told their place in the queue.
    queued = say(driver, "bicara dengan petugas", "antrean")
    assert "nomor 1" in queued, queued
    handoff = wait_until(
        lambda: open_handoff(services, sender), 10, "no open handoff for the web chat session"
    )
    assert handoff.status == "waiting"
    assert handoff.channel == "socketio"

    # Queued: what the citizen types gets no reply from the bot (but Rasa logs it).
    waiting_text = "SP2D kami nomor 260011301000123 belum masuk rekening"
    before = len(bot_texts(driver))
    type_message(driver, waiting_text)
    wait_until(
        lambda: user_texts(driver)[-1:] == [waiting_text], 5, "the message is not shown as sent"
    )
    # Rasa saves the tracker once the message is fully handled (any answer already emitted).
    logged = wait_until(
        lambda: events_after_user_text(handoff_stack, sender, waiting_text),
        15,
        "the queued message never reached the tracker",
    )
    assert [e for e in logged if e["event"] == "bot"] == [], "the bot answered while queued"
    time.sleep(1)  # grace for a socket.io emit still on its way
    assert bot_texts(driver)[before:] == [], "the bot answered while the citizen was queued"
    assert open_handoff(services, sender).status == "waiting", "the message left the queue"

    # The agent takes the conversation and replies; the worker delivers the reply to the page.
    service = services.handoff
    taken = service.take(handoff.id, agent_id, max_conversations=3)
    assert taken.status == "assigned" and taken.agent_id == agent_id
    reply = "Baik Bapak/Ibu, kami cek ke KPPN dan kabari dalam 10 menit."
    before = len(bot_texts(driver))
    message = service.reply(handoff.id, agent_id, reply)
    wait_for_bot(driver, reply, after=before)
    # The page may show the reply a moment before the worker records it as sent.
    wait_until(
        lambda: services.handoff_messages.get(message.id).status == "sent", 10, "not marked sent"
    )
    assert bot_texts(driver)[before:] == [reply], "only the agent's reply, once"

    # Resolve: the bot comes back, thanks the citizen and asks for the agent rating.
    assert service.resolve(handoff.id)
    after_reply = len(bot_texts(driver))
    wait_for_bot(driver, "telah selesai", after=after_reply)
    question = wait_for_bot(driver, "layanan petugas", after=after_reply)
    assert "1 sampai 5" in question
    rating_chips = chip_groups(driver)[-1]
    titles = [chip.text for chip in rating_chips.find_elements("css selector", "button")]
    assert [t.split(" ", 1)[0] for t in titles] == ["1", "2", "3", "4", "5"], titles
    driver.save_screenshot(str(screenshot_dir / "webchat-handoff-rating.png"))

    # The citizen clicks "5": thanked for rating the officer, stored as an agent rating.
    before = len(bot_texts(driver))
    five = next(c for c in rating_chips.find_elements("css selector", "button") if c.text[0] == "5")
    five.click()
    thanks = wait_for_bot(driver, "Terima kasih atas penilaian", after=before)
    assert "petugas" in thanks, thanks
    assert user_texts(driver)[-1] == titles[4], "the chosen title is shown as the citizen's"
    ratings = wait_until(
        lambda: csat_ratings(services, sender), 10, "no rating row for the citizen"
    )
    assert ratings == [(5, "agent", handoff.id)]
    ended = services.handoffs.get(handoff.id)
    assert ended.status == "resolved" and ended.bot_resumed_at is not None

    # The bot answers again.
    say(driver, "menu", "Silakan pilih layanan")

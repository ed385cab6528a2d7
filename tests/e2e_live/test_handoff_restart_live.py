"""No message lost or duplicated between citizen, queue and agent across process restarts.

The whole assistant runs (tests/support/stack.py with `desk=True`: backend simulator, action server,
Rasa server, agent desk with its worker), office hours always open, a long handoff timeout.
The test plays the citizen over the REST channel and the agent on the helpdesk database (the
same `HandoffService` calls the desk's views make), then reads the citizen's conversation
through Rasa's HTTP API. Each test stops or restarts one process at the worst moment:

1. Rasa down while the agent replies (or resolves): the replies wait in the outbox and arrive
   once, in order; the bot resumes once Rasa is back.
2. Desk (worker) down while the agent replies and resolves: on its return the reply arrives
   once, the bot resumes once (thanks + rating question) and the rating is saved.
3. Desk down while the queued citizen writes: nothing is lost, the desk shows the messages.
4. Action server restarted while queued: the conversation stays paused (no greeting).

The tests share one stack and leave every process running, in any order.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Iterator

import pytest
import requests

from tests.support.handoff_play import (
    create_agent,
    csat_ratings,
    desk_services,
    handoff_env,
    say,
    texts,
    tracker_events,
    wait_for,
)
from tests.support.stack import MODEL, Stack

pytestmark = pytest.mark.live

PASSWORD = "kata-sandi-petugas-uji"
#: The desk worker's pass interval (helpdesk/handoff/worker.py `build_worker`).
WORKER_INTERVAL = 2.0
RESOLVED_TEXT = "Percakapan dengan petugas kami telah selesai"
RATING_QUESTION = "Seberapa puas Anda dengan layanan petugas kami"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    with Stack(rasa=True, desk=True, env=handoff_env()) as running:
        yield running


@pytest.fixture(scope="module")
def services(stack: Stack) -> Iterator[Any]:
    """The helpdesk services on the stack's database (the agent's side)."""
    with desk_services(stack) as built:
        yield built


@pytest.fixture()
def agent(services: Any) -> Any:
    """A new agent (offline: the worker does not auto-assign; the test takes by hand)."""
    name = f"petugas-{uuid.uuid4().hex[:8]}"
    return create_agent(services, name, "Petugas Uji", PASSWORD, max_conversations=5)


@pytest.fixture()
def running(stack: Stack) -> Iterator[Stack]:
    """The stack, with every process brought back up after the test whatever happened."""
    yield stack
    for name, proc in list(stack.procs):
        if proc.poll() is not None:
            stack.restart(name)


# --- helpers ---------------------------------------------------------------------------------


def new_sender() -> str:
    return "62813" + str(uuid.uuid4().int)[:8]


def bot_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "bot"]


def relayed(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(handoff_message_id, text) of every agent reply logged in the tracker, in order."""
    return [
        ((e.get("metadata") or {})["handoff_message_id"], e.get("text") or "")
        for e in bot_events(events)
        if "handoff_message_id" in (e.get("metadata") or {})
    ]


def queue(stack: Stack, services: Any, sender: str) -> Any:
    """The citizen asks for an agent; returns their waiting handoff."""
    say(stack, sender, "halo")
    assert "antrean" in texts(say(stack, sender, "saya mau bicara dengan petugas")).lower()
    handoff = services.handoffs.open_for(sender)
    assert handoff is not None and handoff.status == "waiting"
    return handoff


def queued_and_taken(stack: Stack, services: Any, agent: Any, sender: str) -> Any:
    handoff = queue(stack, services, sender)
    taken = services.handoff.take(handoff.id, agent.id, agent.max_conversations)
    assert taken.status == "assigned" and taken.agent_id == agent.id
    return taken


def desk_login(stack: Stack, username: str) -> requests.Session:
    """A browser-like session logged in to the desk through its login form."""
    http = requests.Session()
    page = http.get(f"{stack.desk_url}/login", timeout=10)
    page.raise_for_status()
    token = CSRF_FIELD.search(page.text)
    assert token, "no csrf_token field on the login page"
    done = http.post(
        f"{stack.desk_url}/login",
        data={
            "csrf_token": token.group(1),
            "next": "/",
            "username": username,
            "password": PASSWORD,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303, done.text[:500]
    assert "desk_session" in http.cookies
    return http


# --- tests -----------------------------------------------------------------------------------


def test_replies_wait_while_rasa_is_down_and_arrive_once_in_order(running, services, agent):
    stack = running
    sender = new_sender()
    handoff = queued_and_taken(stack, services, agent, sender)

    stack.stop("rasa")
    down_at = time.monotonic()
    first = services.handoff.reply(handoff.id, agent.id, "Selamat siang, saya periksa dahulu.")
    second = services.handoff.reply(handoff.id, agent.id, "Data Anda sudah kami perbaiki.")

    # The worker tries, fails (connection refused) and keeps the replies in the outbox.
    wait_for(
        lambda: services.handoff_messages.get(first.id).attempts >= 2,
        6 * WORKER_INTERVAL,
        "two failed delivery attempts",
    )
    assert services.handoff_messages.get(first.id).status == "pending"
    assert services.handoff_messages.get(second.id).status == "pending"

    stack.restart("rasa")
    restart_seconds = time.monotonic() - down_at

    def both_sent() -> bool:
        rows = [services.handoff_messages.get(m.id) for m in (first, second)]
        if any(r.status == "failed" for r in rows):
            raise AssertionError(
                f"a reply was given up after Rasa was down {restart_seconds:.0f} s: "
                + ", ".join(f"#{r.id} {r.status} after {r.attempts} attempts" for r in rows)
            )
        return all(r.status == "sent" for r in rows)

    wait_for(both_sent, 40, "both replies to be marked sent")  # backoff: at most 15 s
    # A few more passes: nothing may be sent again.
    time.sleep(2 * WORKER_INTERVAL + 1)
    events = tracker_events(stack, sender)
    assert relayed(events) == [(first.id, first.text), (second.id, second.text)]
    for event in bot_events(events):
        metadata = event.get("metadata") or {}
        if "handoff_message_id" in metadata:
            assert metadata["handoff_id"] == handoff.id
    assert all(services.handoff_messages.get(m.id).sent_at for m in (first, second))


def test_resolve_while_rasa_is_down_resumes_the_bot_once_it_is_back(running, services, agent):
    stack = running
    sender = new_sender()
    handoff = queued_and_taken(stack, services, agent, sender)

    stack.stop("rasa")
    down_at = time.monotonic()
    assert services.handoff.resolve(handoff.id)
    wait_for(
        lambda: services.handoffs.get(handoff.id).resume_attempts >= 2,
        6 * WORKER_INTERVAL,
        "two failed attempts to resume the bot",
    )
    stack.restart("rasa")
    restart_seconds = time.monotonic() - down_at
    # Attempts made while Rasa was down depend on how long its restart took (a minute and
    # more on a loaded machine); what matters is that tries after it is back succeed.
    attempts_when_back = services.handoffs.get(handoff.id).resume_attempts

    def resumed() -> bool:
        stored = services.handoffs.get(handoff.id)
        if stored.bot_resumed_at is None and stored.resume_attempts - attempts_when_back >= 3:
            raise AssertionError(
                f"the bot was not resumed although Rasa is back (down {restart_seconds:.0f} s): "
                f"{stored.resume_attempts - attempts_when_back} failed attempts since, "
                "the citizen's conversation stays paused"
            )
        return stored.bot_resumed_at is not None

    wait_for(resumed, 40, "the bot to resume the conversation")  # backoff: at most 15 s
    time.sleep(2 * WORKER_INTERVAL + 1)
    events = tracker_events(stack, sender)
    assert sum(e.get("event") == "resume" for e in events) == 1
    bot_texts = [e.get("text") or "" for e in bot_events(events)]
    assert sum(RESOLVED_TEXT in t for t in bot_texts) == 1
    assert sum(RATING_QUESTION in t for t in bot_texts) == 1


def test_reply_and_resolve_while_the_desk_is_down(running, services, agent):
    stack = running
    sender = new_sender()
    handoff = queued_and_taken(stack, services, agent, sender)

    stack.stop("desk")
    reply = services.handoff.reply(handoff.id, agent.id, "Masalah Anda sudah selesai kami tangani.")
    assert services.handoff.resolve(handoff.id)
    time.sleep(WORKER_INTERVAL)  # nothing runs them while the desk is down
    assert relayed(tracker_events(stack, sender)) == []
    assert services.handoff_messages.get(reply.id).status == "pending"

    stack.restart("desk")

    def resumed() -> list[dict[str, Any]] | None:
        events = tracker_events(stack, sender)
        return events if any(e.get("event") == "resume" for e in events) else None

    wait_for(resumed, 40, "the bot to resume the conversation")  # backoff: at most 15 s
    time.sleep(2 * WORKER_INTERVAL + 1)  # a few more passes: nothing may run twice
    events = tracker_events(stack, sender)

    assert relayed(events) == [(reply.id, reply.text)]
    assert sum(e.get("event") == "resume" for e in events) == 1
    ends = [
        i
        for i, e in enumerate(events)
        if e.get("event") == "action" and e.get("name") == "action_handoff_end"
    ]
    assert len(ends) == 1
    reply_at = next(
        i
        for i, e in enumerate(events)
        if (e.get("metadata") or {}).get("handoff_message_id") == reply.id
    )
    assert reply_at < ends[0], "the agent's reply must come before the bot resumes"
    bot_after_end = [e.get("text") or "" for e in bot_events(events[ends[0] :])]
    assert sum(RESOLVED_TEXT in t for t in bot_after_end) == 1, bot_after_end
    assert sum(RATING_QUESTION in t for t in bot_after_end) == 1, bot_after_end
    stored = services.handoffs.get(handoff.id)
    assert stored.status == "resolved" and stored.bot_resumed_at is not None

    answer = texts(say(stack, sender, "5"))
    assert answer, "the bot answers the rating"
    assert csat_ratings(services, sender) == [(5, "agent", handoff.id)]


def test_citizen_messages_while_the_desk_is_down_reach_the_agent(running, services, agent):
    stack = running
    sender = new_sender()
    handoff = queue(stack, services, sender)

    stack.stop("desk")
    written = ["nomor SP2D saya 123456", "tolong dibantu secepatnya"]
    for text in written:
        assert say(stack, sender, text) == []  # queued: the bot stays silent
    stack.restart("desk")

    http = desk_login(stack, agent.username)
    response = http.get(
        f"{stack.desk_url}/api/conversations/{handoff.id}/events",
        params={"after": "0"},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    response.raise_for_status()
    body = response.json()
    citizen = [item["text"] for item in body["items"] if item["kind"] == "citizen"]
    for text in written:
        assert citizen.count(text) == 1, citizen
    assert citizen.index(written[0]) < citizen.index(written[1])
    assert body["handoff"]["id"] == handoff.id
    assert body["handoff"]["status"] == "waiting"
    assert services.handoffs.get(handoff.id).status == "waiting"


def test_action_server_restart_while_queued_keeps_the_bot_silent(running, services):
    stack = running
    sender = new_sender()
    handoff = queue(stack, services, sender)
    before = len(bot_events(tracker_events(stack, sender)))

    stack.restart("actions")

    assert say(stack, sender, "apakah masih ada yang menunggu?") == []
    events = tracker_events(stack, sender)
    assert len(bot_events(events)) == before
    assert not any(e.get("event") == "resume" for e in events)
    assert any(
        e.get("event") == "user" and e.get("text") == "apakah masih ada yang menunggu?"
        for e in events
    )
    assert services.handoffs.get(handoff.id).status == "waiting"

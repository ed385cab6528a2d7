"""The queue and the conversation pages: who may see and do what, the transcript read from
Rasa's tracker store, live updates, replies through the outbox, contacts.

Served by the conftest's real desk server; the tracker store is a SQLite file with Rasa's
`events` table filled with Rasa-shaped events.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from helpdesk.rasa_bridge.events import RASA_EVENTS
from helpdesk.storage.canned_responses import CannedResponseRepository
from helpdesk.storage.contacts import (
    MAX_TAGS,
    ContactRepository,
    ContactValidationError,
    split_tags,
)
from helpdesk.storage.db import session_scope
from helpdesk.storage.desk_users import DeskUserRepository
from helpdesk.storage.models import Handoff, InboundMessage, QuestionLog

SENDER = "6281234567890"


# -- fixtures and helpers -------------------------------------------------------------------------
def add_event(engine: Engine, sender: str, type_name: str, ts: float, **data: Any) -> int:
    """Store one tracker event the way Rasa's SQLTrackerStore does; returns its row id."""
    payload = {"event": type_name, "timestamp": ts, **data}
    with engine.begin() as connection:
        result = connection.execute(
            RASA_EVENTS.insert().values(
                sender_id=sender,
                type_name=type_name,
                timestamp=ts,
                action_name=data.get("name"),
                data=json.dumps(payload),
            )
        )
        return int(result.inserted_primary_key[0])


def user_event(engine: Engine, sender: str, ts: float, text: str, intent: str = "ask", **meta):
    return add_event(
        engine,
        sender,
        "user",
        ts,
        text=text,
        parse_data={"intent": {"name": intent, "confidence": 0.9}},
        metadata=meta,
    )


def bot_event(engine: Engine, sender: str, ts: float, text: str, buttons=None, metadata=None):
    return add_event(
        engine,
        sender,
        "bot",
        ts,
        text=text,
        data={"buttons": buttons or []},
        metadata=metadata or {},
    )


def queue(services, sender: str = SENDER, **fields: Any):
    """Put a conversation in the queue (as action_handoff does)."""
    fields.setdefault("channel", "whatsapp")
    fields.setdefault("name", "Budi Santoso")
    fields.setdefault("question", "Bagaimana cara reset password SAKTI?")
    return services.handoff.request(sender, **fields).handoff


def set_created(services, handoff_id: int, when: datetime) -> None:
    with session_scope(services.session_factory) as session:
        session.execute(update(Handoff).where(Handoff.id == handoff_id).values(created_at=when))


async def json_of(client, path: str) -> Any:
    page = await client.get(path)
    assert page.status == 200, page.text
    return json.loads(page.text)


# -- the queue ------------------------------------------------------------------------------------
async def test_queue_lists_waiting_conversations_in_order(desk, services):
    now = datetime.now(timezone.utc)
    first = queue(services, "111", name="Ani", channel="telegram", question="SP2D belum cair")
    second = queue(services, "222", name="Budi <b>", channel="socketio", question="Lupa sandi")
    set_created(services, first.id, now - timedelta(minutes=4, seconds=10))
    set_created(services, second.id, now - timedelta(minutes=1))
    client, _ = await desk.client_for("agent")

    page = await client.get("/")
    assert page.status == 200
    assert page.text.index("Ani") < page.text.index("Budi &lt;b&gt;")
    assert "menunggu 4 mnt" in page.text and "menunggu 1 mnt" in page.text
    assert "Telegram" in page.text and "Web chat" in page.text
    assert "SP2D belum cair" in page.text
    assert f'action="/conversations/{first.id}/take"' in page.text
    assert "/assign" not in page.text  # agents take; only supervisors assign
    assert 'src="/static/desk.js"' in page.text and "<script>" not in page.text

    state = await json_of(client, "/api/queue")
    waiting = state["waiting"]
    assert [w["id"] for w in waiting] == [first.id, second.id]
    assert [w["position"] for w in waiting] == [1, 2]
    assert waiting[0]["wait_label"] == "menunggu 4 mnt"
    assert waiting[0]["channel_label"] == "Telegram"
    assert waiting[1]["name"] == "Budi <b>"  # raw in JSON; desk.js inserts it as text
    assert state["mine"] == [] and state["assigned"] == [] and state["agents"] == []


async def test_queue_api_needs_a_login(desk):
    client = await desk.client()
    page = await client.get("/api/queue")
    assert page.status == 401
    assert (await client.get("/")).status == 302


async def test_agent_takes_within_the_limit_and_is_refused_at_it(desk, services):
    handoffs = [queue(services, f"80{i}") for i in range(3)]
    client, agent = await desk.client_for("agent", max_conversations=2)

    for handoff in handoffs[:2]:
        page = await client.post(f"/conversations/{handoff.id}/take")
        assert page.status == 303 and page.location == f"/conversations/{handoff.id}"
    refused = await client.post(f"/conversations/{handoffs[2].id}/take")
    assert refused.status == 303 and refused.location == "/"
    assert services.handoffs.get(handoffs[2].id).status == "waiting"
    home = await client.get("/")
    assert "Anda sudah menangani 2 percakapan" in home.text

    state = await json_of(client, "/api/queue")
    assert [m["id"] for m in state["mine"]] == [h.id for h in handoffs[:2]]
    assert [w["id"] for w in state["waiting"]] == [handoffs[2].id]
    assert state["user"]["open_count"] == 2


async def test_second_agent_cannot_take_an_assigned_conversation(desk, services):
    handoff = queue(services)
    first, ani = await desk.client_for("agent")
    second, _ = await desk.client_for("agent")
    assert (await first.post(f"/conversations/{handoff.id}/take")).status == 303

    page = await second.post(f"/conversations/{handoff.id}/take")
    assert page.status == 403  # no longer waiting and not theirs: not even visible
    assert services.handoffs.get(handoff.id).agent_id == ani.id


async def test_agent_cannot_open_or_act_on_another_agents_conversation(desk, services, tracker):
    handoff = queue(services)
    owner, ani = await desk.client_for("agent")
    other, _ = await desk.client_for("agent")
    # While it waits, any agent may look at it.
    assert (await other.get(f"/conversations/{handoff.id}")).status == 200
    assert (await owner.post(f"/conversations/{handoff.id}/take")).status == 303

    base = f"/conversations/{handoff.id}"
    assert (await other.get(base)).status == 403
    assert (await other.get(f"/api/conversations/{handoff.id}/events?after=0")).status == 403
    assert (await other.post(base + "/reply", {"text": "Halo"})).status == 403
    assert (await other.post(base + "/resolve")).status == 403
    assert (await other.post(base + "/contact", {"notes": "x", "tags": ""})).status == 403
    assert services.handoff_messages.for_handoff(handoff.id) == []
    assert services.handoffs.get(handoff.id).status == "assigned"

    # Ended by its agent, it stays theirs: the other agent still may not open it.
    assert (await owner.post(base + "/resolve")).status == 303
    assert (await owner.get(base)).status == 200
    assert (await other.get(base)).status == 403
    supervisor, _ = await desk.client_for("supervisor")
    assert (await supervisor.get(base)).status == 200
    assert (await other.get("/conversations/99999")).status == 404


async def test_supervisor_assigns_and_reassigns(desk, services, make_user):
    handoff = queue(services)
    ani = make_user("agent", display_name="Ani Petugas")
    budi = make_user("agent", display_name="Budi Petugas")
    supervisor, _ = await desk.client_for("supervisor")

    page = await supervisor.get("/")
    assert f'action="/conversations/{handoff.id}/assign"' in page.text
    assert "Ani Petugas (offline, 0/3)" in page.text

    page = await supervisor.post(f"/conversations/{handoff.id}/assign", {"agent_id": ani.id})
    assert page.status == 303
    assert services.handoffs.get(handoff.id).agent_id == ani.id
    state = await json_of(supervisor, "/api/queue")
    assert [(a["id"], a["agent_name"]) for a in state["assigned"]] == [(handoff.id, "Ani Petugas")]

    page = await supervisor.post(
        f"/conversations/{handoff.id}/assign",
        {"agent_id": budi.id, "next": f"/conversations/{handoff.id}"},
    )
    assert page.location == f"/conversations/{handoff.id}"
    assert services.handoffs.get(handoff.id).agent_id == budi.id

    bad = await supervisor.post(f"/conversations/{handoff.id}/assign", {"agent_id": "abc"})
    assert bad.status == 303 and services.handoffs.get(handoff.id).agent_id == budi.id

    agent, _ = await desk.client_for("agent")
    page = await agent.post(f"/conversations/{handoff.id}/assign", {"agent_id": ani.id})
    assert page.status == 403
    assert services.handoffs.get(handoff.id).agent_id == budi.id


async def test_online_toggle(desk, services):
    client, agent = await desk.client_for("agent")
    users = DeskUserRepository(services.session_factory)
    page = await client.post("/agents/me/status", {"online": "1", "next": "/tickets"})
    assert page.status == 303 and page.location == "/tickets"
    assert users.get(agent.id).online is True
    assert "Online" in (await client.get("/")).text
    assert (await json_of(client, "/api/queue"))["user"]["online"] is True
    await client.post("/agents/me/status", {"online": "0"})
    assert users.get(agent.id).online is False
    await client.post("/agents/me/status")  # no value: flips
    assert users.get(agent.id).online is True


# -- replies and resolving ------------------------------------------------------------------------
async def test_reply_goes_to_the_outbox_and_wakes_the_relay(desk, services):
    handoff = queue(services)
    client, agent = await desk.client_for("agent")
    relay = desk.app.ctx.relay
    base = f"/conversations/{handoff.id}"

    # Not taken yet: the reply box is disabled and a reply is refused.
    page = await client.get(base)
    assert 'name="text"' not in page.text and "Ambil percakapan" in page.text
    page = await client.post(base + "/reply", {"text": "Halo"})
    assert page.status == 303
    assert services.handoff_messages.for_handoff(handoff.id) == []

    await client.post(base + "/take")
    assert 'name="text"' in (await client.get(base)).text
    calls = relay.calls
    page = await client.post(base + "/reply", {"text": "  Selamat pagi, Pak Budi.  "})
    assert page.status == 303 and page.location == base
    [message] = services.handoff_messages.for_handoff(handoff.id)
    assert (message.text, message.status, message.agent_id) == (
        "Selamat pagi, Pak Budi.",
        "pending",
        agent.id,
    )
    assert relay.calls == calls + 1
    assert services.handoffs.get(handoff.id).first_response_at is not None

    # The page's script posts with Accept: application/json.
    page = await client.post(
        base + "/reply", {"text": "Mohon ditunggu."}, headers={"Accept": "application/json"}
    )
    assert page.status == 200 and json.loads(page.text)["ok"] is True
    page = await client.post(
        base + "/reply", {"text": "   "}, headers={"Accept": "application/json"}
    )
    assert page.status == 400 and "tidak boleh kosong" in json.loads(page.text)["message"]
    page = await client.post(base + "/reply", {"text": "x" * 4001})
    # Refused without the script: the page comes back with the reply still in the box.
    assert page.status == 400 and "maksimal 4000 karakter" in page.text
    assert ">" + "x" * 4001 + "</textarea>" in page.text
    assert len(services.handoff_messages.for_handoff(handoff.id)) == 2


async def test_resolve_ends_the_conversation_and_wakes_the_relay(desk, services):
    handoff = queue(services)
    client, _ = await desk.client_for("agent")
    base = f"/conversations/{handoff.id}"
    page = await client.post(base + "/resolve")
    assert page.status == 303
    assert services.handoffs.get(handoff.id).status == "waiting"  # waiting: nothing to resolve

    await client.post(base + "/take")
    page = await client.get(base)
    assert 'data-action="resolve"' in page.text and 'data-action="confirm-resolve"' in page.text
    calls = desk.app.ctx.relay.calls
    page = await client.post(base + "/resolve")
    assert page.status == 303 and page.location == base
    ended = services.handoffs.get(handoff.id)
    assert ended.status == "resolved" and ended.ended_at is not None
    assert desk.app.ctx.relay.calls == calls + 1
    page = await client.get(base)
    assert "Percakapan diselesaikan petugas" in page.text
    assert 'name="text"' not in page.text  # ended: no reply box


async def test_supervisor_may_resolve_an_agents_conversation(desk, services):
    handoff = queue(services)
    agent, _ = await desk.client_for("agent")
    await agent.post(f"/conversations/{handoff.id}/take")
    supervisor, _ = await desk.client_for("supervisor")
    page = await supervisor.get(f"/conversations/{handoff.id}")
    assert 'name="text"' not in page.text  # only the assigned agent replies
    assert (await supervisor.post(f"/conversations/{handoff.id}/resolve")).status == 303
    assert services.handoffs.get(handoff.id).status == "resolved"


async def test_csrf_is_required_on_every_post(desk, services):
    handoff = queue(services)
    client, agent = await desk.client_for("supervisor")
    base = f"/conversations/{handoff.id}"
    for path, data in [
        (base + "/take", {}),
        (base + "/assign", {"agent_id": agent.id}),
        (base + "/reply", {"text": "Halo"}),
        (base + "/resolve", {}),
        (base + "/contact", {"notes": "n", "tags": "t"}),
        ("/agents/me/status", {"online": "1"}),
    ]:
        assert (await client.post(path, data, csrf=False)).status == 403, path
        assert (await client.post(path, data, csrf="salah-token")).status == 403, path
    assert services.handoffs.get(handoff.id).status == "waiting"
    assert DeskUserRepository(services.session_factory).get(agent.id).online is False
    # The header works as well as the form field (desk.js sends the header).
    page = await client.post(
        base + "/take", csrf=False, headers={"X-CSRF-Token": client.csrf_token or ""}
    )
    assert page.status == 303
    assert services.handoffs.get(handoff.id).agent_id == agent.id


# -- contacts -------------------------------------------------------------------------------------
async def test_notes_and_tags_persist_across_handoffs_of_the_contact(desk, services):
    first = queue(services)
    client, _ = await desk.client_for("agent")
    await client.post(f"/conversations/{first.id}/take")
    page = await client.post(
        f"/conversations/{first.id}/contact",
        {"notes": "Operator satker 123.\r\nSering lupa sandi.", "tags": "SAKTI, Prioritas,sakti"},
    )
    assert page.status == 303
    await client.post(f"/conversations/{first.id}/resolve")

    second = queue(services, name="Budi S.")
    await client.post(f"/conversations/{second.id}/take")
    page = await client.get(f"/conversations/{second.id}")
    assert "Operator satker 123.\nSering lupa sandi." in page.text
    assert 'value="sakti, prioritas"' in page.text
    # The earlier handoff is listed and can be opened (it was this agent's).
    assert f'href="/conversations/{first.id}"' in page.text
    contact = ContactRepository(services.session_factory).get(SENDER)
    assert (
        contact is not None
        and contact.name == "Budi S."
        and contact.tags
        == (
            "sakti",
            "prioritas",
        )
    )

    too_many = ",".join(f"t{i}" for i in range(MAX_TAGS + 1))
    page = await client.post(f"/conversations/{second.id}/contact", {"notes": "", "tags": too_many})
    assert page.status == 303
    assert ContactRepository(services.session_factory).get(SENDER).tags == ("sakti", "prioritas")


def test_contact_repository(session_factory):
    contacts = ContactRepository(session_factory)
    assert contacts.get("628") is None
    assert contacts.update("628", "x", "y") is None
    made = contacts.get_or_create("628", "whatsapp", None)
    assert (made.name, made.channel, made.notes, made.tags) == (None, "whatsapp", "", ())
    contacts.update("628", " catatan ", ["A", " b  c ", "a"])
    again = contacts.get_or_create("628", None, "Sari")
    assert (again.name, again.channel, again.notes, again.tags) == (
        "Sari",
        "whatsapp",
        "catatan",
        ("a", "b c"),
    )
    with pytest.raises(ContactValidationError):
        contacts.update("628", "x" * 4001, "")
    with pytest.raises(ValueError):
        contacts.get_or_create("")
    assert split_tags(" , ,") == ()


# -- the transcript -------------------------------------------------------------------------------
def seed_conversation(engine: Engine, services, now: float) -> dict[str, int]:
    """An old session, then the session of the handoff: FAQ tried, buttons, handoff, then the
    citizen writes while waiting (a photo and an attempt at HTML)."""
    ids = {}
    add_event(engine, SENDER, "session_started", now - 5000)
    user_event(engine, SENDER, now - 4990, "pesan sesi lama")
    ids["start"] = add_event(engine, SENDER, "session_started", now - 600)
    add_event(engine, SENDER, "action", now - 599, name="action_session_start")
    user_event(engine, SENDER, now - 590, "lupa password sakti", intent="ask_faq", name="Budi")
    add_event(engine, SENDER, "action", now - 589, name="action_answer_faq")
    bot_event(
        engine,
        SENDER,
        now - 588,
        "Untuk reset password SAKTI, buka menu Lupa Kata Sandi.",
        buttons=[
            {"title": "Membantu", "payload": "/affirm"},
            {"title": "Bicara dengan petugas", "payload": "/handoff"},
        ],
    )
    user_event(engine, SENDER, now - 400, "/handoff", intent="handoff")
    bot_event(engine, SENDER, now - 399, "Mohon tunggu, petugas akan segera membantu.")
    add_event(engine, SENDER, "pause", now - 398)
    ids["photo"] = user_event(
        engine,
        SENDER,
        now - 200,
        "wamid.MEDIA1",
        intent="nlu_fallback",
        media={
            "type": "image",
            "id": "wamid.MEDIA1",
            "mime_type": "image/jpeg",
            "caption": "Layar error <b>",
            "filename": None,
        },
    )
    ids["script"] = user_event(engine, SENDER, now - 100, "<script>alert('x')</script> tolong")
    return ids


def log_question(services, question, answered, faq_id, score, created_at):
    with session_scope(services.session_factory) as session:
        session.add(
            QuestionLog(
                sender_id=SENDER,
                question=question,
                answered=answered,
                faq_id=faq_id,
                score=score,
                created_at=created_at,
            )
        )


async def test_conversation_page_shows_the_session_transcript(desk, services, tracker):
    now = time.time()
    ids = seed_conversation(tracker, services, now)
    handoff = queue(services, since_ts=now - 400)
    utc_now = datetime.now(timezone.utc)
    log_question(services, "pertanyaan sesi lama", False, None, None, utc_now - timedelta(hours=2))
    log_question(services, "lupa password sakti", True, "sakti-reset-password", 0.83, utc_now)
    CannedResponseRepository(services.session_factory).create("Salam", "Selamat pagi, {nama}.")
    client, _ = await desk.client_for("agent")

    page = await client.get(f"/conversations/{handoff.id}")
    assert page.status == 200
    text = page.text
    # The handoff's session only, in order.
    assert "pesan sesi lama" not in text
    order = [
        "lupa password sakti",
        "Untuk reset password SAKTI",
        "Warga meminta bicara dengan petugas",
        "Mohon tunggu, petugas",
        "Lampiran: Gambar",
        "&lt;script&gt;alert(",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    # Bot buttons, the attachment with its caption (escaped), the script escaped.
    assert "<li>Membantu</li>" in text and "<li>Bicara dengan petugas</li>" in text
    assert "image/jpeg" in text and "Keterangan: Layar error &lt;b&gt;" in text
    assert "<script>alert" not in text
    assert f'data-key="e{ids["photo"]}"' in text
    # What the bot tried: this session's question, with its FAQ and score.
    assert "sakti-reset-password" in text and "0.83" in text and "Dijawab" in text
    assert "pertanyaan sesi lama" not in text
    # Contact panel: masked number; canned response with the name filled in.
    assert "*********7890" in text and SENDER not in text
    assert "Budi Santoso" in text and "WhatsApp" in text
    await client.post(f"/conversations/{handoff.id}/take")
    page = await client.get(f"/conversations/{handoff.id}")
    assert 'value="Selamat pagi, Budi Santoso."' in page.text
    # The cursor for live updates is the last event of the session.
    cursor = int(re.search(r'data-cursor="(\d+)"', page.text).group(1))
    assert cursor == ids["script"]


async def test_events_api_gives_what_changed_after_the_cursor(desk, services, tracker):
    now = time.time()
    ids = seed_conversation(tracker, services, now)
    handoff = queue(services, since_ts=now - 400)
    client, agent = await desk.client_for("agent")
    api = f"/api/conversations/{handoff.id}/events"

    data = await json_of(client, f"{api}?after={ids['photo']}")
    assert [item["key"] for item in data["items"]] == [f"e{ids['script']}"]
    assert data["items"][0]["text"] == "<script>alert('x')</script> tolong"
    assert data["cursor"] == ids["script"]
    assert data["handoff"]["status"] == "waiting" and data["messages"] == []

    await client.post(f"/conversations/{handoff.id}/take")
    await client.post(f"/conversations/{handoff.id}/reply", {"text": "Baik, saya cek."})
    [message] = services.handoff_messages.for_handoff(handoff.id)
    # The relay delivered it: Rasa logged it as a bot event; it shows once, from the outbox.
    bot_event(
        tracker,
        SENDER,
        time.time(),
        "Baik, saya cek.",
        metadata={"handoff_message_id": message.id, "agent": agent.display_name},
    )
    services.handoff_messages.mark_sent(message.id)
    newest = user_event(tracker, SENDER, time.time() + 1, "terima kasih")

    data = await json_of(client, f"{api}?after={ids['script']}")
    assert [item["key"] for item in data["items"]] == [f"e{newest}"]
    assert data["items"][0]["kind"] == "citizen"
    assert [(m["key"], m["status"], m["status_label"]) for m in data["messages"]] == [
        (f"m{message.id}", "sent", "Terkirim")
    ]
    assert data["messages"][0]["author"] == agent.display_name
    assert data["handoff"]["status"] == "assigned" and data["handoff"]["can_reply"] is True
    assert data["cursor"] == newest

    data = await json_of(client, f"{api}?after={newest}")
    assert data["items"] == [] and data["cursor"] == newest
    assert (await client.get(f"{api}?after=abc")).status == 400

    # A new session (after the handoff ended) is not part of this transcript.
    await client.post(f"/conversations/{handoff.id}/resolve")
    add_event(tracker, SENDER, "session_started", time.time() + 10)
    user_event(tracker, SENDER, time.time() + 11, "pertanyaan baru")
    data = await json_of(client, f"{api}?after={newest}")
    assert data["items"] == [] and data["handoff"]["status"] == "resolved"


async def test_conversation_page_without_a_tracker_store(desk, services):
    handoff = queue(services)
    client, _ = await desk.client_for("agent")
    page = await client.get(f"/conversations/{handoff.id}")
    assert page.status == 200 and "belum dapat dibaca" in page.text
    data = await json_of(client, f"/api/conversations/{handoff.id}/events?after=0")
    assert data["items"] == [] and data["cursor"] == 0


async def test_the_officer_sees_what_a_guided_flow_collected(desk, services):
    services.flow_submissions.add(
        SENDER,
        flow_id="konsultasi",
        flow_title="Konsultasi Rumah Swadaya",
        data={"nama": "Siti Aminah", "alamat": "Desa Sukamaju, Bogor"},
        outcome="handoff",
    )
    services.flow_submissions.add(
        "6289999999", flow_id="konsultasi", flow_title="Lain", data={"nama": "X"}, outcome="menu"
    )
    handoff = queue(services)
    client, _ = await desk.client_for("agent")
    await client.post(f"/conversations/{handoff.id}/take")

    page = await client.get(f"/conversations/{handoff.id}")

    assert "Data dari alur" in page.text and "Konsultasi Rumah Swadaya" in page.text
    assert "<dt>alamat</dt><dd>Desa Sukamaju, Bogor</dd>" in page.text
    assert "Lain" not in page.text  # another citizen's


async def test_the_agent_is_told_when_whatsapp_no_longer_allows_a_reply(desk, services):
    handoff = queue(services)
    client, _ = await desk.client_for("agent")
    base = f"/conversations/{handoff.id}"
    await client.post(base + "/take")
    repository = services.inbound_messages
    assert repository.claim("whatsapp", "wamid.last", SENDER)
    repository.mark_done("whatsapp", "wamid.last")
    assert "data-window-notice" not in (await client.get(base)).text  # wrote just now
    with session_scope(services.session_factory) as session:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.message_id == "wamid.last")
            .values(received_at=datetime.now(timezone.utc) - timedelta(hours=25))
        )
    page = (await client.get(base)).text
    assert "data-window-notice" in page and "24 jam" in page

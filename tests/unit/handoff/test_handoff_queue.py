"""The agents' queue of helpdesk.handoff.service.HandoffService on a migrated temp SQLite database.

Real repositories and ticket service, the shipped office hours; desk users and divisions are
inserted through the models. Times that matter (request, assignment) are set on the rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from helpdesk.handoff.office_hours_loader import load_office_hours
from helpdesk.handoff.service import (
    DEFAULT_PICKUP_MINUTES,
    EXPIRED_SUBJECT,
    HandoffError,
    HandoffService,
    LeaveOutcome,
    is_leave_request,
)
from helpdesk.handoff.transcript import Turn
from helpdesk.settings import PROJECT_ROOT
from helpdesk.storage.db import session_scope
from helpdesk.storage.divisions import DivisionRepository
from helpdesk.storage.handoff_messages import HandoffMessageRepository
from helpdesk.storage.handoffs import HandoffRepository
from helpdesk.storage.models import DeskUser, Division, Handoff, Ticket, utcnow
from helpdesk.storage.tickets import TicketRepository
from helpdesk.tickets.service import TicketService

UTC = timezone.utc
WITA = ZoneInfo("Asia/Makassar")
WIB = ZoneInfo("Asia/Jakarta")
OFFICE_HOURS = load_office_hours(PROJECT_ROOT / "helpdesk" / "office_hours.yml")
T0 = datetime(2026, 11, 19, 2, 0, tzinfo=UTC)  # Thursday 10.00 WITA


# --- helpers ------------------------------------------------------------------------------


def make_service(session_factory, timeout_minutes: float = 15.0) -> HandoffService:
    divisions = DivisionRepository(session_factory)
    tickets = TicketService(
        TicketRepository(session_factory), tz=WIB, division_for_category=divisions.id_for_category
    )
    return HandoffService(
        OFFICE_HOURS,
        tickets,
        HandoffRepository(session_factory),
        HandoffMessageRepository(session_factory),
        timeout_minutes=timeout_minutes,
        division_for_category=divisions.id_for_category,
    )


@pytest.fixture
def service(session_factory) -> HandoffService:
    return make_service(session_factory)


def add_agent(
    session_factory,
    username: str,
    *,
    online: bool = True,
    active: bool = True,
    division_id: int | None = None,
    max_conversations: int = 3,
    last_assigned_at: datetime | None = None,
    role: str = "agent",
) -> int:
    with session_scope(session_factory) as session:
        user = DeskUser(
            username=username,
            display_name=username.title(),
            password_hash="scrypt$unused",
            role=role,
            division_id=division_id,
            active=active,
            online=online,
            max_conversations=max_conversations,
            last_assigned_at=last_assigned_at,
        )
        session.add(user)
        session.flush()
        return int(user.id)


def add_division(session_factory, name: str, categories: str) -> int:
    with session_scope(session_factory) as session:
        division = Division(name=name, categories=categories)
        session.add(division)
        session.flush()
        return int(division.id)


def set_handoff(session_factory, handoff_id: int, **values) -> None:
    with session_scope(session_factory) as session:
        session.execute(update(Handoff).where(Handoff.id == handoff_id).values(**values))


def add_past_pickup(session_factory, seconds: float, sender: str) -> None:
    """A resolved handoff that was assigned `seconds` after the request."""
    with session_scope(session_factory) as session:
        created = utcnow() - timedelta(hours=1)
        session.add(
            Handoff(
                sender_id=sender,
                status="resolved",
                created_at=created,
                assigned_at=created + timedelta(seconds=seconds),
                ended_at=created + timedelta(minutes=30),
                updated_at=created,
            )
        )


def agent_last_assigned(session_factory, agent_id: int) -> datetime | None:
    with session_scope(session_factory) as session:
        return session.get(DeskUser, agent_id).last_assigned_at


def statuses(service: HandoffService, *ids: int) -> list[tuple[str, int | None]]:
    return [(service.handoffs.get(i).status, service.handoffs.get(i).agent_id) for i in ids]


def queue(service: HandoffService, count: int, prefix: str = "62811000") -> list[int]:
    """`count` waiting handoffs, created a minute apart from T0 (queue order = list order)."""
    ids = []
    for index in range(count):
        place = service.request(f"{prefix}{index:04d}", channel="whatsapp")
        set_handoff(
            service.handoffs._sessions, place.handoff.id, created_at=T0 + timedelta(minutes=index)
        )
        ids.append(place.handoff.id)
    return ids


# --- request and the citizen's place -------------------------------------------------------


def test_request_queues_the_conversation_once(service):
    first = service.request(
        "6281234567890",
        channel="whatsapp",
        name="Budi",
        question="SP2D kami belum cair",
        category="SP2D",
        since_ts=1795000000.5,
    )

    assert first.created is True
    stored = first.handoff
    assert (stored.status, stored.sender_id, stored.channel) == (
        "waiting",
        "6281234567890",
        "whatsapp",
    )
    assert (stored.name, stored.question, stored.category, stored.since_ts) == (
        "Budi",
        "SP2D kami belum cair",
        "SP2D",
        1795000000.5,
    )
    assert (stored.agent_id, stored.division_id, stored.ended_at) == (None, None, None)
    assert (first.position, first.agents_online) == (1, 0)

    again = service.request("6281234567890", channel="whatsapp", question="halo?")

    assert again.created is False
    assert again.handoff.id == first.handoff.id
    assert again.handoff.question == "SP2D kami belum cair"
    assert again.position == 1
    with session_scope(service.handoffs._sessions) as session:
        assert session.execute(select(func.count(Handoff.id))).scalar_one() == 1


def test_a_new_request_after_the_handoff_ended_opens_a_new_one(service, session_factory):
    agent = add_agent(session_factory, "sari")
    first = service.request("6281234567890").handoff
    service.take(first.id, agent, 3)
    assert service.resolve(first.id) is True

    second = service.request("6281234567890")

    assert second.created is True
    assert second.handoff.id != first.id
    assert service.open_for("6281234567890").id == second.handoff.id


def test_request_with_an_empty_sender_id_is_refused(service):
    with pytest.raises(ValueError):
        service.request("")


def test_positions_follow_the_request_time_not_the_row_id(service, session_factory):
    a = service.request("62811111").handoff.id
    b = service.request("62822222").handoff.id
    c = service.request("62833333").handoff.id
    set_handoff(session_factory, a, created_at=T0 + timedelta(minutes=2))
    set_handoff(session_factory, b, created_at=T0)
    set_handoff(session_factory, c, created_at=T0 + timedelta(minutes=1))

    assert [service.handoffs.position(i) for i in (a, b, c)] == [3, 1, 2]
    assert [h.id for h in service.handoffs.waiting()] == [b, c, a]
    assert service.place(service.handoffs.get(a)).position == 3

    agent = add_agent(session_factory, "sari")
    service.take(b, agent, 3)

    assert [service.handoffs.position(i) for i in (a, b, c)] == [2, 0, 1]
    place_b = service.place(service.handoffs.get(b))
    assert (place_b.position, place_b.wait_minutes, place_b.created) == (0, 0, False)


def test_the_same_request_time_is_ordered_by_id(service, session_factory):
    a = service.request("62811111").handoff.id
    b = service.request("62822222").handoff.id
    set_handoff(session_factory, a, created_at=T0)
    set_handoff(session_factory, b, created_at=T0)

    assert [service.handoffs.position(i) for i in (a, b)] == [1, 2]


def test_request_picks_the_division_serving_the_faq_category(service, session_factory):
    sakti = add_division(session_factory, "Tim SAKTI", "SAKTI, Digit")
    sp2d = add_division(session_factory, "Tim SP2D", "sp2d")

    assert service.request("62811", category="digit").handoff.division_id == sakti
    assert service.request("62822", category=" SAKTI ").handoff.division_id == sakti
    assert service.request("62833", category="SP2D").handoff.division_id == sp2d
    assert service.request("62844", category="Pajak").handoff.division_id is None
    assert service.request("62855", category=None).handoff.division_id is None
    assert service.request("62866", category="").handoff.division_id is None


# --- the wait estimate ------------------------------------------------------------------------


def test_without_history_the_estimate_is_the_default_per_place(service, session_factory):
    assert DEFAULT_PICKUP_MINUTES == 3.0
    assert service.request("62811").wait_minutes == 3
    second = service.request("62822")
    assert (second.position, second.wait_minutes, second.agents_online) == (2, 6, 0)

    add_agent(session_factory, "sari")
    add_agent(session_factory, "budi")
    add_agent(session_factory, "tono", online=False)

    third = service.request("62833")
    assert (third.position, third.wait_minutes, third.agents_online) == (3, 5, 2)  # 9 / 2


def test_the_estimate_uses_the_median_of_recent_pickups(service, session_factory):
    for index, seconds in enumerate((60, 120, 600)):
        add_past_pickup(session_factory, seconds, f"old-{index}")

    assert sorted(service.handoffs.recent_pickup_seconds()) == [60.0, 120.0, 600.0]
    assert service.estimate_wait_minutes(1, 1) == 2
    assert service.estimate_wait_minutes(3, 2) == 3  # 2 min per place * 3 / 2 agents
    assert service.estimate_wait_minutes(1, 4) == 1  # 0.5 rounded up, at least 1
    assert service.estimate_wait_minutes(5, 0) == 10  # no agent online counts as one


def test_only_the_latest_pickups_count(service, session_factory):
    add_past_pickup(session_factory, 3600, "very-old")
    with session_scope(session_factory) as session:  # make it the oldest assignment
        session.execute(
            update(Handoff)
            .where(Handoff.sender_id == "very-old")
            .values(assigned_at=utcnow() - timedelta(days=30))
        )
    for index in range(20):
        add_past_pickup(session_factory, 240, f"recent-{index}")

    assert len(service.handoffs.recent_pickup_seconds()) == 20
    assert service.estimate_wait_minutes(1, 1) == 4


def test_the_estimate_is_capped_at_the_timeout_and_at_least_one_minute(session_factory):
    assert make_service(session_factory).estimate_wait_minutes(20, 1) == 15
    assert make_service(session_factory, timeout_minutes=5).estimate_wait_minutes(20, 1) == 5
    for index in range(3):
        add_past_pickup(session_factory, 0, f"instant-{index}")
    service = make_service(session_factory)
    assert service.estimate_wait_minutes(1, 10) == 1
    assert service.estimate_wait_minutes(4, 1) == 2  # at least half a minute per place


def test_a_timeout_must_be_positive(session_factory):
    with pytest.raises(ValueError):
        make_service(session_factory, timeout_minutes=0)


# --- automatic assignment ---------------------------------------------------------------------


def test_auto_assign_is_round_robin_never_assigned_first(service, session_factory):
    now = utcnow()
    recent = add_agent(session_factory, "recent", last_assigned_at=now - timedelta(hours=1))
    never = add_agent(session_factory, "never")
    oldest = add_agent(session_factory, "oldest", last_assigned_at=now - timedelta(hours=3))
    h1, h2, h3, h4 = queue(service, 4)

    assigned = service.auto_assign()

    assert assigned == [(h1, never), (h2, oldest), (h3, recent), (h4, never)]
    assert statuses(service, h1, h2, h3, h4) == [
        ("assigned", never),
        ("assigned", oldest),
        ("assigned", recent),
        ("assigned", never),
    ]
    assert service.handoffs.get(h1).assigned_at is not None
    assert agent_last_assigned(session_factory, oldest) > now
    assert agent_last_assigned(session_factory, recent) > now
    assert service.auto_assign() == []


def test_round_robin_continues_across_calls(service, session_factory):
    a = add_agent(session_factory, "ani")
    b = add_agent(session_factory, "bayu")
    (h1,) = queue(service, 1, prefix="111")
    assert service.auto_assign() == [(h1, a)]  # both never assigned: the lower id

    (h2,) = queue(service, 1, prefix="222")
    assert service.auto_assign() == [(h2, b)]

    (h3,) = queue(service, 1, prefix="333")
    assert service.auto_assign() == [(h3, a)]  # ani was assigned least recently


def test_auto_assign_respects_each_agents_limit(service, session_factory):
    one = add_agent(session_factory, "one", max_conversations=1)
    two = add_agent(session_factory, "two", max_conversations=2)
    ids = queue(service, 5)

    assigned = service.auto_assign()

    assert sorted(agent for _, agent in assigned) == [one, two, two]
    assert [h for h, _ in assigned] == ids[:3]
    assert service.handoffs.open_count(one) == 1
    assert service.handoffs.open_count(two) == 2
    assert [h.id for h in service.handoffs.waiting()] == ids[3:]
    assert [service.handoffs.position(i) for i in ids[3:]] == [1, 2]

    # A resolved conversation frees a place; the next one in the queue gets it.
    first_of_two = next(h for h, agent in assigned if agent == two)
    service.resolve(first_of_two)
    assert service.auto_assign() == [(ids[3], two)]


def test_conversations_already_held_count_towards_the_limit(service, session_factory):
    busy = add_agent(session_factory, "busy", max_conversations=1)
    held, waiting = queue(service, 2)
    service.take(held, busy, 1)

    assert service.auto_assign() == []
    assert statuses(service, waiting) == [("waiting", None)]


def test_offline_inactive_and_non_agent_users_never_get_a_conversation(service, session_factory):
    add_agent(session_factory, "offline", online=False)
    add_agent(session_factory, "gone", active=False, online=True)
    # Supervisors and admins online take conversations by hand, never automatically.
    add_agent(session_factory, "boss", role="supervisor")
    add_agent(session_factory, "root", role="admin")
    ids = queue(service, 2)

    assert service.auto_assign() == []
    assert statuses(service, *ids) == [("waiting", None), ("waiting", None)]
    assert service.handoffs.online_agents() == []


def test_auto_assign_prefers_the_handoffs_division(service, session_factory):
    sakti = add_division(session_factory, "Tim SAKTI", "SAKTI,DIGIT")
    specialist = add_agent(
        session_factory,
        "specialist",
        division_id=sakti,
        max_conversations=1,
        last_assigned_at=utcnow() - timedelta(minutes=1),
    )
    generalist = add_agent(session_factory, "generalist")  # never assigned: first in turn
    first = service.request("62811", category="digit").handoff.id
    second = service.request("62822", category="sakti").handoff.id
    set_handoff(session_factory, first, created_at=T0)
    set_handoff(session_factory, second, created_at=T0 + timedelta(minutes=1))

    assigned = service.auto_assign()

    # The specialist gets the first; full, the second falls back to anyone with room.
    assert assigned == [(first, specialist), (second, generalist)]


def test_a_handoff_without_division_goes_to_any_agent(service, session_factory):
    sakti = add_division(session_factory, "Tim SAKTI", "SAKTI")
    member = add_agent(session_factory, "member", division_id=sakti)
    (handoff,) = queue(service, 1)

    assert service.auto_assign() == [(handoff, member)]


def test_auto_assign_serves_the_queue_in_order(service, session_factory):
    agent = add_agent(session_factory, "solo", max_conversations=1)
    late = service.request("62811").handoff.id
    early = service.request("62822").handoff.id
    set_handoff(session_factory, late, created_at=T0 + timedelta(minutes=5))
    set_handoff(session_factory, early, created_at=T0)

    assert service.auto_assign() == [(early, agent)]
    assert statuses(service, late) == [("waiting", None)]


def test_auto_assign_without_agents_or_queue_does_nothing(service, session_factory):
    assert service.auto_assign() == []  # nobody waiting, nobody online
    add_agent(session_factory, "sari")
    assert service.auto_assign() == []  # nobody waiting


# --- taking and assigning by hand -------------------------------------------------------------


def test_take_gives_a_waiting_conversation_to_the_agent(service, session_factory):
    agent = add_agent(session_factory, "sari")
    (handoff,) = queue(service, 1)

    taken = service.take(handoff, agent, 3)

    assert (taken.status, taken.agent_id) == ("assigned", agent)
    assert taken.assigned_at is not None
    assert agent_last_assigned(session_factory, agent) is not None


def test_take_over_the_limit_is_refused(service, session_factory):
    agent = add_agent(session_factory, "sari", max_conversations=2)
    a, b, c = queue(service, 3)
    service.take(a, agent, 2)
    service.take(b, agent, 2)

    with pytest.raises(HandoffError) as error:
        service.take(c, agent, 2)

    assert str(error.value) == (
        "Anda sudah menangani 2 percakapan. Selesaikan salah satu sebelum mengambil yang baru."
    )
    assert statuses(service, c) == [("waiting", None)]


def test_take_of_an_assigned_or_ended_conversation_is_refused(service, session_factory):
    first = add_agent(session_factory, "first")
    second = add_agent(session_factory, "second")
    a, b = queue(service, 2)
    service.take(a, first, 3)
    service.cancel(b)

    for handoff in (a, b, 9999):
        with pytest.raises(HandoffError) as error:
            service.take(handoff, second, 3)
        assert str(error.value) == "Percakapan ini sudah diambil petugas lain atau sudah berakhir."
    assert statuses(service, a, b) == [("assigned", first), ("cancelled", None)]


def test_a_supervisor_assigns_and_reassigns_an_open_conversation(service, session_factory):
    first = add_agent(session_factory, "first")
    second = add_agent(session_factory, "second")
    (handoff,) = queue(service, 1)

    assigned = service.assign(handoff, first)
    assert (assigned.status, assigned.agent_id) == ("assigned", first)

    reassigned = service.assign(handoff, second)

    assert (reassigned.status, reassigned.agent_id) == ("assigned", second)
    assert reassigned.assigned_at == assigned.assigned_at  # the pickup time is the first one
    assert service.handoffs.open_count(first) == 0
    assert service.handoffs.open_count(second) == 1


def test_assigning_an_ended_conversation_is_refused(service, session_factory):
    agent = add_agent(session_factory, "sari")
    other = add_agent(session_factory, "budi")
    (handoff,) = queue(service, 1)
    service.take(handoff, agent, 3)
    service.resolve(handoff)

    with pytest.raises(HandoffError) as error:
        service.assign(handoff, other)

    assert str(error.value) == "Percakapan ini sudah berakhir."
    assert statuses(service, handoff) == [("resolved", agent)]


# --- replies, resolving, cancelling ---------------------------------------------------------


def test_only_the_assigned_agent_replies(service, session_factory):
    agent = add_agent(session_factory, "sari")
    other = add_agent(session_factory, "budi")
    (handoff,) = queue(service, 1)

    with pytest.raises(HandoffError) as waiting:
        service.reply(handoff, agent, "Halo")
    assert str(waiting.value) == "Percakapan ini tidak sedang ditangani petugas."

    service.take(handoff, agent, 3)
    with pytest.raises(HandoffError) as foreign:
        service.reply(handoff, other, "Halo")
    assert str(foreign.value) == "Percakapan ini ditangani petugas lain."

    with pytest.raises(HandoffError) as missing:
        service.reply(4242, agent, "Halo")
    assert str(missing.value) == "Percakapan tidak ditemukan."

    assert service.messages.for_handoff(handoff) == []
    assert service.handoffs.get(handoff).first_response_at is None


def test_an_empty_reply_is_refused(service, session_factory):
    agent = add_agent(session_factory, "sari")
    (handoff,) = queue(service, 1)
    service.take(handoff, agent, 3)

    for text in ("", "   \n\t"):
        with pytest.raises(HandoffError) as error:
            service.reply(handoff, agent, text)
        assert str(error.value) == "Balasan tidak boleh kosong."
    assert service.messages.for_handoff(handoff) == []


def test_replies_go_to_the_outbox_and_the_first_response_is_kept(service, session_factory):
    agent = add_agent(session_factory, "sari")
    (handoff,) = queue(service, 1)
    service.take(handoff, agent, 3)

    first = service.reply(handoff, agent, "  Selamat siang, Bapak Budi.  ")
    first_response = service.handoffs.get(handoff).first_response_at
    second = service.reply(handoff, agent, "Mohon ditunggu sebentar.")

    assert first_response is not None
    assert service.handoffs.get(handoff).first_response_at == first_response
    stored = service.messages.for_handoff(handoff)
    assert [(m.id, m.text, m.status, m.attempts, m.agent_id) for m in stored] == [
        (first.id, "Selamat siang, Bapak Budi.", "pending", 0, agent),
        (second.id, "Mohon ditunggu sebentar.", "pending", 0, agent),
    ]
    assert [m.id for m in service.messages.pending()] == [first.id, second.id]


def test_resolve_only_ends_an_assigned_conversation(service, session_factory):
    agent = add_agent(session_factory, "sari")
    waiting, held = queue(service, 2)
    service.take(held, agent, 3)

    assert service.resolve(waiting) is False
    assert service.resolve(held) is True
    assert service.resolve(held) is False
    resolved = service.handoffs.get(held)
    assert (resolved.status, resolved.ended_at is not None) == ("resolved", True)
    assert statuses(service, waiting) == [("waiting", None)]


def test_cancel_only_takes_a_waiting_conversation_out(service, session_factory):
    agent = add_agent(session_factory, "sari")
    waiting, held = queue(service, 2)
    service.take(held, agent, 3)

    assert service.cancel(held) is False
    assert service.cancel(waiting) is True
    assert service.cancel(waiting) is False
    assert statuses(service, waiting, held) == [("cancelled", None), ("assigned", agent)]
    assert service.handoffs.get(waiting).ended_at is not None


# --- the citizen leaves the queue ("batal" answered by the bot) ------------------------------


def test_leave_queue_cancels_a_waiting_handoff_and_marks_it_resumed(service):
    waiting, other = queue(service, 2)
    sender = service.handoffs.get(waiting).sender_id

    assert service.leave_queue(sender) is LeaveOutcome.LEFT

    left = service.handoffs.get(waiting)
    assert left.status == "cancelled" and left.ended_at is not None
    # One update: ended and resumed together, so the desk worker has nothing to resume.
    assert left.bot_resumed_at == left.ended_at
    assert service.handoffs.pending_resume(T0 - timedelta(days=1)) == []
    assert statuses(service, other) == [("waiting", None)]
    assert service.handoffs.position(other) == 1
    # A second "batal": nothing left to leave.
    assert service.leave_queue(sender) is LeaveOutcome.NONE


def test_leave_queue_leaves_a_held_conversation_with_its_agent(service, session_factory):
    agent = add_agent(session_factory, "sari")
    (held,) = queue(service, 1)
    service.take(held, agent, 3)

    assert service.leave_queue(service.handoffs.get(held).sender_id) is LeaveOutcome.WITH_AGENT
    assert statuses(service, held) == [("assigned", agent)]
    assert service.handoffs.get(held).bot_resumed_at is None


def test_leave_queue_after_an_agent_took_it_an_instant_ago(service, session_factory, monkeypatch):
    agent = add_agent(session_factory, "sari")
    (handoff,) = queue(service, 1)
    sender = service.handoffs.get(handoff).sender_id
    latest_for = service.handoffs.latest_for
    # The bot reads the handoff while it waits; the agent takes it before the cancel.
    seen = latest_for(sender)
    service.take(handoff, agent, 3)
    monkeypatch.setattr(service.handoffs, "latest_for", lambda _sender: seen)

    assert service.leave_queue(sender) is LeaveOutcome.WITH_AGENT
    assert statuses(service, handoff) == [("assigned", agent)]


def test_leave_queue_of_an_ending_the_worker_has_yet_to_tell(service):
    (handoff,) = queue(service, 1)
    sender = service.handoffs.get(handoff).sender_id
    assert service.expire(handoff)

    assert service.leave_queue(sender) is LeaveOutcome.ENDING
    assert service.handoffs.get(handoff).status == "expired"

    service.handoffs.mark_resumed(handoff)
    assert service.leave_queue(sender) is LeaveOutcome.NONE


def test_leave_queue_without_a_handoff(service):
    assert service.leave_queue("6289999999999") is LeaveOutcome.NONE


@pytest.mark.parametrize(
    ("intent", "text", "leaves"),
    [
        ("cancel", "gak jadi", True),
        (None, "  Batal ", True),
        ("nlu_fallback", "keluar   antrian", True),
        ("inform", "batal dulu", False),
        (None, None, False),
    ],
)
def test_is_leave_request(intent, text, leaves):
    assert is_leave_request(intent, text) is leaves


# --- timeouts ---------------------------------------------------------------------------------


def test_overdue_uses_the_configured_timeout(session_factory):
    default = make_service(session_factory)
    a, b = queue(default, 2)  # requested at T0 and T0 + 1 min

    assert default.overdue(T0 + timedelta(minutes=14, seconds=59)) == []
    assert [h.id for h in default.overdue(T0 + timedelta(minutes=15))] == [a]
    assert [h.id for h in default.overdue(T0 + timedelta(minutes=16))] == [a, b]

    short = make_service(session_factory, timeout_minutes=5)
    assert short.overdue(T0 + timedelta(minutes=4)) == []
    assert [h.id for h in short.overdue(T0 + timedelta(minutes=5))] == [a]


def test_an_assigned_conversation_is_never_overdue(service, session_factory):
    agent = add_agent(session_factory, "sari")
    (handoff,) = queue(service, 1)
    service.take(handoff, agent, 3)

    assert service.overdue(T0 + timedelta(hours=5)) == []


def test_expire_only_ends_a_waiting_handoff(service, session_factory):
    agent = add_agent(session_factory, "sari")
    stale, taken = queue(service, 2)
    overdue = [h.id for h in service.overdue(T0 + timedelta(minutes=30))]
    assert overdue == [stale, taken]
    service.take(taken, agent, 3)  # an agent took it meanwhile

    assert service.expire(stale) is True
    assert service.expire(taken) is False
    assert service.expire(stale) is False
    assert statuses(service, stale, taken) == [("expired", None), ("assigned", agent)]
    assert service.handoffs.get(stale).ended_at is not None


TURNS = [
    Turn("user", "SP2D kami belum cair", datetime(2026, 11, 19, 2, 1, tzinfo=UTC)),
    Turn("bot", "Silakan ketik nomor SP2D.", datetime(2026, 11, 19, 2, 1, tzinfo=UTC)),
    Turn("user", "saya mau bicara dengan petugas", datetime(2026, 11, 19, 2, 3, tzinfo=UTC)),
]
CHRONOLOGY = (
    "[10.01] Warga: SP2D kami belum cair\n"
    "[10.01] Asisten: Silakan ketik nomor SP2D.\n"
    "[10.03] Warga: saya mau bicara dengan petugas"
)


def ticket_count(session_factory) -> int:
    with session_scope(session_factory) as session:
        return session.execute(select(func.count(Ticket.id))).scalar_one()


def test_an_expired_handoff_becomes_one_ticket_with_the_transcript(service, session_factory):
    handoff = service.request("6281234567890", channel="whatsapp").handoff
    service.expire(handoff.id)
    expired = service.handoffs.get(handoff.id)

    ticket_id = service.ticket_for_expired(expired, TURNS)

    stored = TicketRepository(session_factory).get(ticket_id)
    assert stored.subject == EXPIRED_SUBJECT
    assert stored.chronology == CHRONOLOGY
    assert (stored.sender_id, stored.channel, stored.email) == ("6281234567890", "whatsapp", None)
    assert service.handoffs.get(handoff.id).ticket_id == ticket_id

    assert service.ticket_for_expired(service.handoffs.get(handoff.id), TURNS) == ticket_id
    assert ticket_count(session_factory) == 1


def test_the_ticket_of_an_expired_handoff_goes_to_the_handoffs_division(service, session_factory):
    sakti = add_division(session_factory, "Tim SAKTI", "SAKTI")
    routed = service.request("62811", channel="whatsapp", category="sakti").handoff
    unrouted = service.request("62822", channel="whatsapp").handoff
    for handoff in (routed, unrouted):
        service.expire(handoff.id)

    tickets = TicketRepository(session_factory)
    routed_ticket = service.ticket_for_expired(service.handoffs.get(routed.id), TURNS)
    unrouted_ticket = service.ticket_for_expired(service.handoffs.get(unrouted.id), TURNS)

    assert tickets.get(routed_ticket).division_id == sakti
    assert tickets.get(unrouted_ticket).division_id is None


def test_an_offline_ticket_goes_to_the_division_of_the_category(service, session_factory):
    sp2d = add_division(session_factory, "Tim SP2D", "sp2d")
    closed = datetime(2026, 11, 21, 9, 0, tzinfo=WIB)  # a Saturday

    reply = service.record_offline(closed, TURNS, "62811", "whatsapp", category="SP2D")

    assert TicketRepository(session_factory).get(reply.ticket.id).division_id == sp2d


def test_a_stale_record_does_not_make_a_second_ticket(service, session_factory):
    handoff = service.request("6281234567890", channel="whatsapp").handoff
    service.expire(handoff.id)
    expired = service.handoffs.get(handoff.id)  # read before the ticket exists

    first = service.ticket_for_expired(expired, TURNS)
    second = service.ticket_for_expired(expired, TURNS)

    assert second == first
    assert ticket_count(session_factory) == 1


def test_only_an_expired_handoff_becomes_a_ticket(service, session_factory):
    handoff = service.request("6281234567890").handoff

    with pytest.raises(HandoffError):
        service.ticket_for_expired(handoff, TURNS)
    service.cancel(handoff.id)
    with pytest.raises(HandoffError):
        service.ticket_for_expired(service.handoffs.get(handoff.id), TURNS)
    assert ticket_count(session_factory) == 0

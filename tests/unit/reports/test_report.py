"""Report figures on a seeded database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk.reports.figures import MAX_DAILY_DAYS, collect_report, day_buckets
from helpdesk.reports.text import format_duration, format_report
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import (
    Conversation,
    CsatRating,
    DeskUser,
    Handoff,
    QuestionLog,
    Ticket,
)

DAY1 = datetime(2026, 4, 13, 3, 0, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def seeded(session_factory):
    with session_scope(session_factory) as s:
        for i, when in enumerate([DAY1, DAY1, DAY2]):
            s.add(Conversation(sender_id=f"u{i}", channel="rest", started_at=when))
        s.add(
            QuestionLog(
                sender_id="u0",
                question="apa itu sp2d",
                answered=True,
                faq_id="sp2d-apa",
                score=0.9,
                created_at=DAY1,
            )
        )
        s.add(
            QuestionLog(
                sender_id="u1",
                question="cara reset sakti",
                answered=True,
                faq_id="sakti-reset",
                score=0.8,
                created_at=DAY2,
            )
        )
        for q, when in [
            ("jam buka kppn sabtu", DAY1),
            ("Jam buka KPPN sabtu", DAY2),
            ("harga semen", DAY2),
        ]:
            s.add(
                QuestionLog(sender_id="u2", question=q, answered=False, score=0.1, created_at=when)
            )
        s.add(
            Ticket(
                id="20260413-AAAAAA",
                subject="s",
                chronology="c",
                email="a@b.go.id",
                status="open",
                created_at=DAY1,
                updated_at=DAY1,
            )
        )
        s.add(
            Handoff(
                sender_id="u1", channel="rest", status="waiting", created_at=DAY2, updated_at=DAY2
            )
        )
        for rating, kind, when in [
            (5, "faq", DAY1),
            (4, "faq", DAY2),
            (2, "faq", DAY2),
            (3, "agent", DAY2),
        ]:
            s.add(CsatRating(sender_id="u0", rating=rating, kind=kind, created_at=when))
    return session_factory


LEGACY_KEYS = (
    "conversations",
    "faq_answered",
    "faq_unanswered",
    "tickets_created",
    "handoffs",
    "csat_count",
    "csat_average",
    "agent_csat_count",
    "agent_csat_average",
)


def test_collect_report_all_time(seeded) -> None:
    report = collect_report(seeded)
    assert {k: report[k] for k in LEGACY_KEYS} == {
        "conversations": 3,
        "faq_answered": 2,
        "faq_unanswered": 3,
        "tickets_created": 1,
        "handoffs": 1,
        "csat_count": 3,
        "csat_average": pytest.approx(3.67, abs=0.01),
        "agent_csat_count": 1,
        "agent_csat_average": 3.0,
    }
    assert report["top_unanswered"][0]["count"] == 2
    assert report["top_unanswered"][0]["question"].lower() == "jam buka kppn sabtu"
    assert report["top_unanswered"][1] == {"question": "harga semen", "count": 1}
    json.dumps(report)  # JSON-ready for `helpdesk report --json`


def test_collect_report_window(seeded) -> None:
    report = collect_report(
        seeded, since=DAY2 - timedelta(hours=1), until=DAY2 + timedelta(hours=1)
    )
    assert report["conversations"] == 1
    assert (report["faq_answered"], report["faq_unanswered"]) == (1, 2)
    assert report["tickets_created"] == 0
    assert (report["csat_count"], report["csat_average"]) == (2, 3.0)
    assert sorted((i["question"], i["count"]) for i in report["top_unanswered"]) == [
        ("Jam buka KPPN sabtu", 1),
        ("harga semen", 1),
    ]
    with pytest.raises(ValueError):
        collect_report(seeded, since=datetime(2026, 4, 14))


def test_empty_database_has_no_average(session_factory) -> None:
    report = collect_report(session_factory)
    assert report["conversations"] == 0
    assert report["csat_count"] == 0 and report["csat_average"] is None
    assert report["agent_csat_average"] is None
    assert report["top_unanswered"] == []
    text = format_report(report)
    assert "(none)" in text


def test_format_report_is_a_readable_table(seeded) -> None:
    text = format_report(collect_report(seeded))
    lines = text.splitlines()
    assert lines[0] == "Helpdesk report"
    assert any(line.startswith("Conversations") and line.rstrip().endswith(" 3") for line in lines)
    assert any("FAQ rating average" in line and "3.67" in line for line in lines)
    assert any("Agent rating average" in line and "3.00" in line for line in lines)
    assert "[  2x] jam buka kppn sabtu" in text.lower()


# --- Handoffs, agents, containment and the daily series -----------------------------------

JAKARTA = ZoneInfo("Asia/Jakarta")
# The period: 13 and 14 April 2026 in Jakarta (UTC+7) = [12 Apr 17:00 UTC, 14 Apr 17:00 UTC).
SINCE = datetime(2026, 4, 13, tzinfo=JAKARTA)
UNTIL = datetime(2026, 4, 15, tzinfo=JAKARTA)
T0 = datetime(2026, 4, 13, 1, 0, tzinfo=timezone.utc)  # 08:00 WIB on 13 April
LATE = datetime(2026, 4, 13, 18, 30, tzinfo=timezone.utc)  # 13 April UTC, 01:30 WIB on 14 April
BEFORE = datetime(2026, 4, 12, 16, 59, tzinfo=timezone.utc)  # 23:59 WIB on 12 April
AFTER = datetime(2026, 4, 14, 17, 30, tzinfo=timezone.utc)  # 00:30 WIB on 15 April


def _at(minutes: float, base: datetime = T0) -> datetime:
    return base + timedelta(minutes=minutes)


@pytest.fixture
def desk_seeded(session_factory):
    """A helpdesk day with agents; the expected figures are worked out in each test."""
    with session_scope(session_factory) as s:
        for user_id, name, role in [
            (1, "Budi Santoso", "agent"),
            (2, "Ani", "agent"),
            (3, "Sari", "supervisor"),
            (4, "Dedi", "agent"),
        ]:
            s.add(
                DeskUser(
                    id=user_id,
                    username=f"user{user_id}",
                    display_name=name,
                    password_hash="x",
                    role=role,
                )
            )
        for sender, started in [
            ("A", _at(-30)),  # c0: A's earlier session; h1 comes after c1 starts
            ("A", _at(0)),  # c1: handoff h1 at +10 min
            ("A", _at(120)),  # c2: handoff h2 at +180 min
            ("B", _at(30)),  # c3: handoff h3
            ("C", LATE),  # c4: handoff h5 (14 April in Jakarta)
            ("F", _at(240)),  # c6: its handoff h7 comes after the period end
            ("A", _at(300)),  # c7: after h2, so no handoff of its own
            ("D", BEFORE),  # c5: before the period
        ]:
            s.add(Conversation(sender_id=sender, channel="whatsapp", started_at=started))
        handoffs = [
            # id, sender, status, agent, created, first response after (s), ended after (s)
            (1, "A", "resolved", 1, _at(10), 120, 1200),
            (2, "A", "assigned", 1, _at(180), 300, None),
            (3, "B", "expired", None, _at(60), None, 900),
            (4, "E", "resolved", 2, _at(60), 60, 600),
            (5, "C", "cancelled", None, _at(10, LATE), None, 30),
            (6, "D", "resolved", 4, BEFORE + timedelta(seconds=30), 10, 100),
            (7, "F", "waiting", None, AFTER, None, None),
        ]
        for hid, sender, status, agent, created, first, ended in handoffs:
            s.add(
                Handoff(
                    id=hid,
                    sender_id=sender,
                    channel="whatsapp",
                    status=status,
                    agent_id=agent,
                    created_at=created,
                    assigned_at=created if agent else None,
                    first_response_at=created + timedelta(seconds=first) if first else None,
                    ended_at=created + timedelta(seconds=ended) if ended else None,
                    updated_at=created,
                )
            )
        for rating, kind, handoff_id, when in [
            (5, "faq", None, _at(1)),
            (4, "faq", None, _at(2)),
            (4, "faq", None, _at(5, LATE)),
            (1, "faq", None, BEFORE),  # outside the period
            (5, "agent", 1, _at(30)),
            (4, "agent", 2, _at(200)),
            (2, "agent", 4, _at(20)),
            (3, "agent", None, _at(25)),  # no handoff: in the totals, in no agent's row
            (4, "agent", 6, _at(1)),  # a handoff of before the period, rated in it
        ]:
            s.add(
                CsatRating(
                    sender_id="x", rating=rating, kind=kind, handoff_id=handoff_id, created_at=when
                )
            )
        for question, answered, when in [
            ("apa itu sp2d", True, _at(3)),
            ("harga cabai", False, _at(1, LATE)),
            ("jam buka", False, BEFORE),
        ]:
            s.add(QuestionLog(sender_id="x", question=question, answered=answered, created_at=when))
    return session_factory


def test_containment_counts_handoffs_until_the_next_session_or_period_end(desk_seeded) -> None:
    report = collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=JAKARTA)
    # In the period: c0, c1, c2, c3, c4, c6, c7 (c5 is before it).
    assert report["conversations"] == 7
    # c1 (h1), c2 (h2), c3 (h3), c4 (h5). h1 belongs to c1, not c0; h2 to c2, not c1 or c7;
    # c6's handoff h7 comes after the period end; h4's sender E has no conversation.
    assert report["conversations_with_handoff"] == 4
    assert report["containment_rate"] == pytest.approx(3 / 7, abs=1e-4)

    everything = collect_report(desk_seeded)
    assert everything["conversations"] == 8
    # All time: c6 now had h7; c5 had h6.
    assert everything["conversations_with_handoff"] == 6
    assert everything["containment_rate"] == 0.25


def test_handoff_statuses_and_times(desk_seeded) -> None:
    report = collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=JAKARTA)
    assert report["handoffs"] == 5  # h1-h5
    assert report["handoff_status"] == {
        "waiting": 0,
        "assigned": 1,
        "resolved": 2,
        "cancelled": 1,
        "expired": 1,
    }
    # First responses of h1, h2, h4: 120, 300, 60 s (h6 is before the period).
    assert report["first_response_count"] == 3
    assert report["first_response_avg_seconds"] == 160.0
    assert report["first_response_median_seconds"] == 120.0
    # Resolved: h1 (1200 s) and h4 (600 s); expired h3 and cancelled h5 do not count.
    assert report["resolution_count"] == 2
    assert report["resolution_avg_seconds"] == 900.0
    assert report["resolution_median_seconds"] == 900.0


def test_csat_distribution_by_kind(desk_seeded) -> None:
    report = collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=JAKARTA)
    assert report["csat_distribution"] == {
        "faq": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1},
        "agent": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1},
    }
    assert (report["csat_count"], report["csat_average"]) == (3, pytest.approx(13 / 3, abs=0.01))
    assert (report["agent_csat_count"], report["agent_csat_average"]) == (5, 3.6)


def test_agent_rows(desk_seeded) -> None:
    report = collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=JAKARTA)
    assert report["agents"] == [
        {
            "agent_id": 2,
            "name": "Ani",
            "assigned": 1,
            "resolved": 1,
            "first_response_avg_seconds": 60.0,
            "resolution_avg_seconds": 600.0,
            "csat_count": 1,
            "csat_average": 2.0,
        },
        {
            "agent_id": 1,
            "name": "Budi Santoso",
            "assigned": 2,
            "resolved": 1,
            "first_response_avg_seconds": 210.0,
            "resolution_avg_seconds": 1200.0,
            "csat_count": 2,
            "csat_average": 4.5,
        },
        {  # only a rating in the period, for a handoff of before it
            "agent_id": 4,
            "name": "Dedi",
            "assigned": 0,
            "resolved": 0,
            "first_response_avg_seconds": None,
            "resolution_avg_seconds": None,
            "csat_count": 1,
            "csat_average": 4.0,
        },
    ]  # Sari (supervisor, no activity) has no row


def test_daily_series_uses_the_helpdesk_time_zone(desk_seeded) -> None:
    report = collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=JAKARTA)
    assert report["daily"] == [
        # c0, c1, c2, c3, c6, c7; h1-h4; "apa itu sp2d"
        {
            "date": "2026-04-13",
            "conversations": 6,
            "handoffs": 4,
            "faq_answered": 1,
            "faq_unanswered": 0,
        },
        # 18:30 UTC on 13 April is 01:30 on 14 April in Jakarta: c4, h5, "harga cabai".
        {
            "date": "2026-04-14",
            "conversations": 1,
            "handoffs": 1,
            "faq_answered": 0,
            "faq_unanswered": 1,
        },
    ]
    assert report["timezone"] == "Asia/Jakarta"

    # The same instants cut into UTC days: the period starts at 17:00 on 12 April.
    utc = collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=timezone.utc)
    assert [(d["date"], d["conversations"], d["handoffs"]) for d in utc["daily"]] == [
        ("2026-04-12", 0, 0),
        ("2026-04-13", 7, 5),
        ("2026-04-14", 0, 0),
    ]


def test_daily_series_without_bounds_spans_the_data(desk_seeded) -> None:
    daily = collect_report(desk_seeded, tz=JAKARTA)["daily"]
    # From c5 (23:59 on 12 April, Jakarta) to h7 (00:30 on 15 April, Jakarta).
    assert [d["date"] for d in daily] == ["2026-04-12", "2026-04-13", "2026-04-14", "2026-04-15"]
    assert [d["conversations"] for d in daily] == [1, 6, 1, 0]
    assert [d["handoffs"] for d in daily] == [1, 4, 1, 1]
    assert collect_report(desk_seeded, tz=JAKARTA)["handoffs"] == 7


def test_period_bounds_are_inclusive_then_exclusive(session_factory) -> None:
    with session_scope(session_factory) as s:
        for sender, when in [
            ("at-since", SINCE),
            ("just-before", SINCE - timedelta(microseconds=1)),
            ("just-before-until", UNTIL - timedelta(seconds=1)),
            ("at-until", UNTIL),
        ]:
            s.add(Conversation(sender_id=sender, started_at=when))
            s.add(Handoff(sender_id=sender, status="waiting", created_at=when, updated_at=when))
    report = collect_report(session_factory, since=SINCE, until=UNTIL, tz=JAKARTA)
    assert report["conversations"] == 2
    assert report["handoffs"] == 2
    # A handoff at the very instant of its session start belongs to that conversation.
    assert report["conversations_with_handoff"] == 2
    assert report["containment_rate"] == 0.0
    assert [(d["date"], d["conversations"]) for d in report["daily"]] == [
        ("2026-04-13", 1),
        ("2026-04-14", 1),
    ]


def test_session_starts_at_the_same_instant_claim_one_handoff(session_factory) -> None:
    with session_scope(session_factory) as s:
        s.add(Conversation(sender_id="A", started_at=T0))
        s.add(Conversation(sender_id="A", started_at=T0))
        s.add(Handoff(sender_id="A", status="waiting", created_at=_at(1), updated_at=_at(1)))
    report = collect_report(session_factory)
    assert report["conversations"] == 2
    assert report["conversations_with_handoff"] == 1
    assert report["containment_rate"] == 0.5


def test_day_buckets_keep_the_last_days_of_a_long_period() -> None:
    buckets = day_buckets(SINCE, SINCE + timedelta(days=MAX_DAILY_DAYS + 10), JAKARTA)
    assert len(buckets) == MAX_DAILY_DAYS
    assert buckets[-1].end == SINCE + timedelta(days=MAX_DAILY_DAYS + 10)
    assert buckets[0].start == datetime.combine(buckets[0].day, datetime.min.time(), JAKARTA)
    assert day_buckets(SINCE, SINCE, JAKARTA) == []


def test_empty_period_has_no_rates_or_times(session_factory) -> None:
    report = collect_report(session_factory, since=SINCE, until=UNTIL, tz=JAKARTA)
    assert report["containment_rate"] is None
    assert report["first_response_avg_seconds"] is None
    assert report["resolution_median_seconds"] is None
    assert report["agents"] == []
    assert report["handoff_status"] == dict.fromkeys(
        ("waiting", "assigned", "resolved", "cancelled", "expired"), 0
    )
    assert [d["conversations"] for d in report["daily"]] == [0, 0]
    assert "(none)" in format_report(report)


def test_format_report_shows_the_new_sections(desk_seeded) -> None:
    text = format_report(collect_report(desk_seeded, since=SINCE, until=UNTIL, tz=JAKARTA))
    lines = text.splitlines()
    assert any(line.startswith("Contained by the bot") and "42.9%" in line for line in lines)
    assert any(
        line.startswith("First response time, average") and "2m 40s" in line for line in lines
    )
    assert any(line.startswith("Resolution time, median") and "15m 00s" in line for line in lines)
    assert any("Expired into a ticket" in line and line.rstrip().endswith(" 1") for line in lines)
    assert any(line.split()[:3] == ["Budi", "Santoso", "2"] for line in lines)
    assert "  2026-04-14              1         1         0           1" in lines
    json.dumps(collect_report(desk_seeded, tz=JAKARTA))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (59.6, "1m 00s"),
        (200, "3m 20s"),
        (3900, "1h 05m"),
        (183600, "2d 3h"),
    ],
)
def test_format_duration(seconds, text) -> None:
    assert format_duration(seconds) == text

"""Report figures on a seeded database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk.report import collect_report, format_report
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import (
    Conversation,
    CsatRating,
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


def test_collect_report_all_time(seeded) -> None:
    report = collect_report(seeded)
    assert {k: report[k] for k in report if k not in ("top_unanswered", "since", "until")} == {
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

"""`helpdesk report` end to end: a seeded SQLite database, the figures printed."""

from __future__ import annotations

import json

from helpdesk.cli import main
from helpdesk.services import Services
from helpdesk.settings import Settings


def _seed(var_dir) -> None:
    services = Services(Settings.from_env({"HELPDESK_VAR_DIR": str(var_dir)}))
    services.conversations.record_session_start("6281200000001", "whatsapp")
    services.conversations.record_session_start("web-2", "socketio")
    services.questions.record("6281200000001", "apa itu sp2d", answered=True, faq_id="sp2d")
    services.questions.record("web-2", "jadwal samsat keliling", answered=False)
    services.questions.record("web-3", "jadwal samsat keliling", answered=False)
    services.csat.add("6281200000001", 4, question="apa itu sp2d", faq_id="sp2d")
    services.csat.add("web-2", 5, question="apa itu kppn", faq_id="kppn")


def test_report_json_counts_seeded_rows(tmp_path, monkeypatch, capsys):
    _seed(tmp_path)
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)

    assert main(["report", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["conversations"] == 2
    assert report["faq_answered"] == 1
    assert report["faq_unanswered"] == 2
    assert report["tickets_created"] == 0
    assert report["handoffs"] == 0
    assert report["csat_count"] == 2
    assert report["csat_average"] == 4.5
    assert report["top_unanswered"][0] == {"question": "jadwal samsat keliling", "count": 2}


def test_report_text_and_bad_date(tmp_path, monkeypatch, capsys):
    _seed(tmp_path)
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)

    assert main(["report"]) == 0
    assert "jadwal samsat keliling" in capsys.readouterr().out

    assert main(["report", "--since", "2026-13-01"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_report_date_window_excludes_other_days(tmp_path, monkeypatch, capsys):
    _seed(tmp_path)
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)

    assert main(["report", "--json", "--since", "2000-01-01", "--until", "2000-01-02"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["conversations"] == 0
    assert report["csat_count"] == 0


def test_report_days_follow_the_helpdesk_time_zone(tmp_path, monkeypatch, capsys):
    from datetime import datetime, timezone

    from helpdesk.storage.db import session_scope
    from helpdesk.storage.models import Conversation, Handoff

    services = Services(Settings.from_env({"HELPDESK_VAR_DIR": str(tmp_path)}))
    late = datetime(2026, 4, 13, 18, 30, tzinfo=timezone.utc)  # 14 April, 01:30 in Jakarta
    with session_scope(services.session_factory) as s:
        s.add(Conversation(sender_id="web-9", channel="socketio", started_at=late))
        s.add(Handoff(sender_id="web-9", status="expired", created_at=late, updated_at=late))
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HELPDESK_TIMEZONE", "Asia/Jakarta")
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)

    assert main(["report", "--json", "--since", "2026-04-14", "--until", "2026-04-14"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["conversations"] == 1
    assert report["containment_rate"] == 0.0
    assert report["handoff_status"]["expired"] == 1
    assert report["daily"] == [
        {
            "date": "2026-04-14",
            "conversations": 1,
            "handoffs": 1,
            "faq_answered": 0,
            "faq_unanswered": 0,
        }
    ]

    assert main(["report", "--since", "2026-04-13", "--until", "2026-04-13"]) == 0
    text = capsys.readouterr().out
    assert "Handoffs by status" in text
    assert "Contained by the bot (no handoff)" in text

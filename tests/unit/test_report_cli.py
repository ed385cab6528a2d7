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

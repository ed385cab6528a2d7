"""`helpdesk privacy purge [--dry-run]` and `helpdesk privacy map` on a SQLite database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.cli import main
from helpdesk.services import Services
from helpdesk.settings import Settings
from helpdesk.storage.audit import AuditFilter
from helpdesk.storage.models import QuestionLog, utcnow


@pytest.fixture
def services(tmp_path, monkeypatch) -> Services:
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    for name in ("HELPDESK_DATABASE_URL", "HELPDESK_TRACKER_STORE_URL", "HELPDESK_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    services = Services(Settings.from_env({"HELPDESK_VAR_DIR": str(tmp_path)}))
    with services.session_factory() as session:
        old = utcnow() - timedelta(days=400)
        session.add_all(
            [
                QuestionLog(
                    sender_id="6281234567890", question="lama", answered=True, created_at=old
                ),
                QuestionLog(sender_id="6281234567890", question="baru", answered=True),
            ]
        )
        session.commit()
    return services


def test_a_dry_run_says_what_would_go_and_changes_nothing(services, capsys) -> None:
    assert main(["privacy", "purge", "--dry-run"]) == 0

    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("question_log"))
    assert line.split()[1:3] == ["anonymise", "365"] and line.split()[-1] == "1"
    assert "dry run: 1 record(s) would be dealt with" in out
    assert services.audit.repository.count() == 0
    assert main(["privacy", "purge", "--dry-run"]) == 0
    assert "dry run: 1 record(s)" in capsys.readouterr().out


def test_a_purge_anonymises_and_is_recorded_in_the_audit_trail(services, capsys) -> None:
    assert main(["privacy", "purge", "--batch", "1"]) == 0

    assert "1 record(s) deleted or anonymised" in capsys.readouterr().out
    with services.session_factory() as session:
        senders = sorted(q.sender_id for q in session.query(QuestionLog))
    assert senders == ["6281234567890", "anonim"]
    (record,) = services.audit.repository.search(AuditFilter(action="privacy.purge"))
    assert record.detail == {"question_log": 1}
    assert main(["privacy", "purge", "--batch", "0"]) == 2


def test_the_map_lists_every_store_with_its_period(services, capsys) -> None:
    assert main(["privacy", "map"]) == 0
    out = capsys.readouterr().out
    assert "tracker_events   delete    90 days" in out and "`ticket`" in out

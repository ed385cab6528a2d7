"""`helpdesk audit verify` and `helpdesk audit export` on a SQLite database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from helpdesk.cli import main
from helpdesk.services import Services
from helpdesk.settings import Settings
from helpdesk.storage.audit import AuditFilter

NIK = "3201234567890001"


@pytest.fixture
def services(tmp_path, monkeypatch) -> Services:
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)
    services = Services(Settings.from_env({"HELPDESK_VAR_DIR": str(tmp_path)}))
    for result in ("found", "not_found", "found"):
        services.audit.lookup("whatsapp", "6281234567890", "nik", NIK, result)
    return services


def test_verify_says_ok_then_broken_after_a_record_is_altered(services, capsys) -> None:
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK: 3 records")

    engine = create_engine(services.settings.effective_database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET result = 'refused' WHERE id = 2"))

    assert main(["audit", "verify"]) == 1
    assert "BROKEN at record 2" in capsys.readouterr().out


def test_export_writes_verifiable_masked_lines_and_is_itself_recorded(
    services, tmp_path, capsys
) -> None:
    out = tmp_path / "audit.jsonl"

    assert main(["audit", "export", "--out", str(out), "--action", "lookup"]) == 0

    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and NIK not in out.read_text(encoding="utf-8")
    assert json.loads(lines[0])["target"] == "nik:3201********0001"
    assert main(["audit", "verify", "--file", str(out)]) == 0
    (export,) = services.audit.repository.search(AuditFilter(action="audit"))
    assert export.action == "audit.export" and export.detail["records"] == 3

    lines[1] = lines[1].replace("not_found", "found")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["audit", "verify", "--file", str(out)]) == 1


def test_a_bad_date_is_a_user_error(services, tmp_path, capsys) -> None:
    assert main(["audit", "export", "--out", str(tmp_path / "x"), "--since", "2026-13-01"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err

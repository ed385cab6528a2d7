"""The desk's acts in the audit trail, and the admins' page of it."""

from __future__ import annotations

import json

from sqlalchemy import text

from helpdesk.security.audit import read_export, verify_records
from helpdesk.storage.audit import AuditFilter
from helpdesk.storage.divisions import DivisionRepository


def acts(services, prefix: str = "desk") -> list:
    """The desk's records, oldest first."""
    return list(reversed(services.audit.repository.search(AuditFilter(action=prefix), limit=500)))


async def test_logins_and_admin_changes_are_recorded_with_their_result(desk, services):
    admin, user = await desk.client_for("admin")
    outsider = await desk.client()
    await outsider.login(user.username, "salah-sekali-12345")

    page = await admin.post(
        "/admin/divisions", {"name": "Tim SAKTI", "categories": "SAKTI", "note": "3201234567890001"}
    )
    assert page.status == 303
    (division,) = DivisionRepository(services.session_factory).list()
    await admin.post(f"/admin/divisions/{division.id}/delete")

    records = acts(services)
    logins = [r for r in records if r.action == "desk.auth.login"]
    assert [r.result for r in logins][:1] == ["ok"] and logins[-1].result != "ok"
    assert logins[-1].actor == f"desk:{user.username} (belum masuk)"
    create, delete = [r for r in records if r.action.startswith("desk.admin_divisions")]
    assert (create.actor, create.result, create.target) == (f"desk:{user.username}", "ok", "")
    assert (delete.target, delete.result) == (f"division:{division.id}", "ok")
    assert "3201234567890001" not in json.dumps([r.as_dict() for r in records])
    assert services.audit.verify().ok


async def test_a_refused_act_is_recorded_as_denied(desk, services):
    agent, user = await desk.client_for("agent")

    page = await agent.post("/admin/divisions", {"name": "Tim X"})

    assert page.status == 403
    (record,) = [r for r in acts(services) if r.action.startswith("desk.admin_divisions")]
    assert (record.actor, record.result) == (f"desk:{user.username}", "denied")


async def test_only_admins_see_the_audit_page_and_it_filters(desk, services):
    services.audit.lookup("whatsapp", "6281234567890", "nik", "3201234567890001", "found")
    services.audit.lookup("whatsapp", "6281234567890", "sp2d", "260011301000123", "not_found")
    agent, _ = await desk.client_for("agent")
    assert (await agent.get("/admin/audit")).status == 403
    admin, _ = await desk.client_for("admin")

    page = await admin.get("/admin/audit?action=lookup.nik")

    assert page.status == 200
    assert "nik:3201********0001" in page.text and "whatsapp:62812****7890" in page.text
    assert "sp2d:" not in page.text and "3201234567890001" not in page.text
    page = await admin.get("/admin/audit?result=not_found")
    assert "sp2d:2600*******0123" in page.text and '"Objek">nik:' not in page.text
    bad = await admin.get("/admin/audit?from=2026-02-31")
    assert bad.status == 400 and "TTTT-BB-HH" in bad.text


async def test_the_page_pages_back_through_older_records(desk, services):
    for number in range(60):
        services.audit.record("desk:x", "desk.queue.take", result="ok", target=f"handoff:{number}")
    admin, _ = await desk.client_for("admin")

    first = await admin.get("/admin/audit?action=desk.queue")
    assert "handoff:59" in first.text and "handoff:9<" not in first.text
    assert "Lebih lama" in first.text
    older = await admin.get("/admin/audit?action=desk.queue&before=11")
    assert "handoff:9<" in older.text and "Lebih lama" not in older.text


async def test_verify_shows_an_intact_then_a_broken_chain(desk, services, engine):
    services.audit.lookup("whatsapp", "6281234567890", "nik", "3201234567890001", "found")
    admin, _ = await desk.client_for("admin")

    page = await admin.post("/admin/audit/verify")
    assert page.status == 200 and "Rantai utuh" in page.text

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET result = 'refused' WHERE id = 1"))
    page = await admin.post("/admin/audit/verify")
    assert "Rantai RUSAK pada catatan #1" in page.text


async def test_the_download_verifies_and_is_itself_recorded(desk, services):
    services.audit.lookup("whatsapp", "6281234567890", "nik", "3201234567890001", "found")
    admin, user = await desk.client_for("admin")

    page = await admin.get("/admin/audit.jsonl?action=lookup")

    assert page.status == 200 and "attachment" in page.headers["Content-Disposition"]
    records = list(read_export(page.text.splitlines()))
    assert len(records) == 1 and verify_records(records).ok
    (download,) = [r for r in acts(services) if r.action.endswith("audit_export")]
    assert download.actor == f"desk:{user.username}" and download.detail["query"] == "action=lookup"

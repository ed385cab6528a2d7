"""Citizens' data requests in the desk: supervisors see, decide and hand over the copy."""

from __future__ import annotations

import json

from helpdesk.storage.audit import AuditFilter

PHONE = "6281234567890"


def open_request(services, kind: str = "erasure"):
    services.questions.record(PHONE, "cara reset sakti", answered=True, faq_id="sakti")
    return services.data_requests.open(kind, PHONE, "whatsapp", verified_by="whatsapp").request


async def test_agents_cannot_see_requests(desk, services):
    record = open_request(services)
    agent, _ = await desk.client_for("agent")
    assert (await agent.get("/privacy/requests")).status == 403
    assert (await agent.get(f"/privacy/requests/{record.id}")).status == 403
    assert (
        await agent.post(f"/privacy/requests/{record.id}/decide", {"decision": "approve"})
    ).status == 403


async def test_a_supervisor_sees_what_is_held_and_approves(desk, services):
    record = open_request(services)
    supervisor, user = await desk.client_for("supervisor")

    listing = await supervisor.get("/privacy/requests")
    assert listing.status == 200 and record.reference in listing.text
    assert PHONE not in listing.text
    page = await supervisor.get(f"/privacy/requests/{record.id}")
    assert "Menunggu persetujuan" in page.text and "1 pertanyaan yang Anda ajukan" in page.text

    refused = await supervisor.post(f"/privacy/requests/{record.id}/decide", {"decision": "reject"})
    assert refused.status == 400 and "wajib disertai alasannya" in refused.text
    approved = await supervisor.post(
        f"/privacy/requests/{record.id}/decide", {"decision": "approve"}
    )
    assert approved.status == 303
    assert services.data_requests.repository.get(record.id).status == "approved"
    again = await supervisor.post(f"/privacy/requests/{record.id}/decide", {"decision": "approve"})
    assert again.status == 303  # already decided: said on the page, nothing changes
    (decided,) = [
        r
        for r in services.audit.repository.search(AuditFilter(action="desk.privacy"))
        if r.result == "ok" and r.target == f"request:{record.id}"
    ][-1:]
    assert decided.actor == f"desk:{user.username}"


async def test_the_copy_downloads_as_json_and_is_audited(desk, services):
    record = open_request(services, "access")
    supervisor, _ = await desk.client_for("supervisor")

    page = await supervisor.get(f"/privacy/requests/{record.id}/copy.json")

    assert page.status == 200 and "attachment" in page.headers["Content-Disposition"]
    copy = json.loads(page.text)
    assert copy["question_log"][0]["question"] == "cara reset sakti"
    downloads = services.audit.repository.search(AuditFilter(action="desk.privacy.request_copy"))
    assert len(downloads) == 1


async def test_a_refusal_keeps_its_reason(desk, services):
    record = open_request(services)
    supervisor, user = await desk.client_for("supervisor")

    await supervisor.post(
        f"/privacy/requests/{record.id}/decide",
        {"decision": "reject", "note": "Dikecualikan: arsip penyelenggaraan negara"},
    )

    refused = services.data_requests.repository.get(record.id)
    assert refused.status == "rejected" and refused.decided_by == user.username
    page = await supervisor.get(f"/privacy/requests/{record.id}")
    assert "Dikecualikan: arsip penyelenggaraan negara" in page.text and "Ditolak" in page.text

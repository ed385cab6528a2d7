"""Identifiers in a conversation are masked in the desk; the assigned officer, supervisors and
admins may show them in full, and every such view is in the audit trail."""

from __future__ import annotations

import time

from helpdesk.desk.masked_view import UNMASKED_VIEW
from helpdesk.storage.audit import AuditFilter
from tests.unit.desk.test_conversations import SENDER, add_event, queue, user_event

NIK = "3201234567890001"
EMAIL = "budi.santoso@kemenkeu.go.id"


def seed(engine, services):
    now = time.time()
    add_event(engine, SENDER, "session_started", now - 60)
    user_event(engine, SENDER, now - 50, f"nik saya {NIK} email {EMAIL}")
    return queue(services, since_ts=now - 55, question=f"reset sakti nik {NIK}")


def unmasked_views(services) -> list:
    return services.audit.repository.search(AuditFilter(action=UNMASKED_VIEW))


async def test_an_agent_sees_identifiers_masked_until_assigned_and_revealing(
    desk, services, tracker
):
    handoff = seed(tracker, services)
    agent, user = await desk.client_for("agent")

    page = await agent.get(f"/conversations/{handoff.id}")
    assert NIK not in page.text and EMAIL not in page.text
    assert "************0001" in page.text and "bu***@ke***.go.id" in page.text
    assert "Tampilkan data lengkap" not in page.text  # not theirs yet
    asked = await agent.get(f"/conversations/{handoff.id}?lengkap=1")
    assert NIK not in asked.text and unmasked_views(services) == []

    await agent.post(f"/conversations/{handoff.id}/take")
    page = await agent.get(f"/conversations/{handoff.id}")
    assert NIK not in page.text and "Tampilkan data lengkap" in page.text
    revealed = await agent.get(f"/conversations/{handoff.id}?lengkap=1")

    assert NIK in revealed.text and EMAIL in revealed.text
    assert "tercatat di log audit" in revealed.text
    assert "events?lengkap=1" in revealed.text  # live updates stay in full
    (view,) = unmasked_views(services)
    assert view.actor == f"desk:{user.username}" and view.target == f"handoff:{handoff.id}"


async def test_the_live_updates_are_masked_and_a_full_one_is_recorded(desk, services, tracker):
    handoff = seed(tracker, services)
    supervisor, _ = await desk.client_for("supervisor")

    masked = await supervisor.get(f"/api/conversations/{handoff.id}/events?after=0")
    assert NIK not in masked.text and "************0001" in masked.text
    assert unmasked_views(services) == []
    full = await supervisor.get(f"/api/conversations/{handoff.id}/events?lengkap=1&after=0")
    assert NIK in full.text
    assert len(unmasked_views(services)) == 1
    cursor = full.text.split('"cursor":')[1].split(",")[0].strip()
    nothing_new = await supervisor.get(
        f"/api/conversations/{handoff.id}/events?lengkap=1&after={cursor}"
    )
    assert nothing_new.status == 200
    assert len(unmasked_views(services)) == 1  # nothing delivered, nothing recorded

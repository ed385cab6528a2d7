"""The desk never answers malformed input with a 5xx: huge ids, long URLs, odd numbers."""

from __future__ import annotations

import pytest

HUGE = "9" * 20  # past a 64-bit integer: SQLite raises OverflowError, Postgres "out of range"
TOO_BIG_FOR_POSTGRES = str(2**31)  # an INTEGER column on Postgres is 32-bit


@pytest.mark.parametrize("number", [HUGE, TOO_BIG_FOR_POSTGRES, "0"])
@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/{n}",
        "/admin/divisions/{n}",
        "/admin/canned/{n}",
        "/conversations/{n}",
        "/api/conversations/{n}/events",
    ],
)
async def test_an_id_out_of_range_is_not_found(desk, path: str, number: str) -> None:
    client, _ = await desk.client_for("admin")
    page = await client.get(path.format(n=number))
    assert page.status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/{n}",
        "/admin/users/{n}/password",
        "/admin/users/{n}/active",
        "/admin/divisions/{n}",
        "/admin/divisions/{n}/delete",
        "/admin/canned/{n}",
        "/admin/canned/{n}/delete",
        "/conversations/{n}/take",
        "/conversations/{n}/assign",
        "/conversations/{n}/reply",
        "/conversations/{n}/resolve",
        "/conversations/{n}/contact",
    ],
)
async def test_a_form_post_to_an_id_out_of_range_is_not_found(desk, path: str) -> None:
    client, _ = await desk.client_for("admin")
    page = await client.post(path.format(n=HUGE), {"text": "halo"})
    assert page.status == 404


async def test_a_huge_page_number_is_not_an_error(desk) -> None:
    client, _ = await desk.client_for("supervisor")
    page = await client.get(f"/tickets?halaman={HUGE}")
    assert page.status == 200


async def test_huge_numbers_in_forms_are_refused_politely(desk, services) -> None:
    client, _ = await desk.client_for("admin")
    page = await client.post(
        "/admin/users/new",
        {
            "username": "budi",
            "display_name": "Budi",
            "role": "agent",
            "division_id": HUGE,
            "max_conversations": HUGE,
            "password": "rahasia-panjang-123",
        },
    )
    assert page.status < 500
    assert "Divisi tidak ditemukan" in page.text


async def test_a_huge_event_cursor_is_a_bad_request(desk, services) -> None:
    from helpdesk.storage.handoffs import HandoffRepository

    client, user = await desk.client_for("supervisor")
    handoff, _ = HandoffRepository(services.session_factory).open(
        "6281234567890", channel="whatsapp"
    )
    page = await client.get(f"/api/conversations/{handoff.id}/events?after={HUGE}")
    assert page.status == 400


async def test_a_huge_agent_id_is_refused_politely(desk, services) -> None:
    from helpdesk.storage.handoffs import HandoffRepository

    client, _ = await desk.client_for("supervisor")
    handoff, _ = HandoffRepository(services.session_factory).open(
        "6281234567890", channel="whatsapp"
    )
    page = await client.post(f"/conversations/{handoff.id}/assign", {"agent_id": HUGE})
    assert page.status == 303


async def test_a_url_over_8_kb_gets_414_with_the_indonesian_page(desk) -> None:
    client, _ = await desk.client_for("agent")
    page = await client.get("/tickets?q=" + "a" * 9000)
    assert page.status == 414
    assert "terlalu panjang" in page.text


async def test_a_nul_character_in_a_question_does_not_break_the_csv(desk, services) -> None:
    from datetime import datetime, timezone

    from helpdesk.storage.db import session_scope
    from helpdesk.storage.models import QuestionLog

    now = datetime.now(timezone.utc)
    with session_scope(services.session_factory) as session:
        session.add(
            QuestionLog(
                sender_id="A", question="jam\x00 buka\x1b kppn", answered=False, created_at=now
            )
        )
        session.add(QuestionLog(sender_id="B", question="=1+1\x00", answered=False, created_at=now))
    client, _ = await desk.client_for("supervisor")
    page = await client.get("/reports.csv")
    assert page.status == 200
    assert "jam buka kppn" in page.text
    assert "'=1+1" in page.text
    assert "\x00" not in page.text


def test_csv_cells_of_lone_surrogates_and_controls_are_cleaned() -> None:
    from helpdesk.reports.csv_export import csv_cell as _cell
    from helpdesk.reports.csv_export import export_text

    assert export_text("halo\x00 pak\ud800\x07") == "halo pak\ufffd"
    assert export_text("baris satu\nbaris\tdua") == "baris satu\nbaris\tdua"
    assert _cell("\x00=HYPERLINK()") == "'=HYPERLINK()"
    assert _cell("\ud83d") == "\ufffd"
    assert _cell(None) == "" and _cell(3) == 3

"""Tickets on the desk: list filters and paging, the detail page, status and public reply."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk.desk.views.tickets import (
    MSG_BAD_DATE,
    MSG_BAD_STATUS,
    MSG_DATE_ORDER,
    parse_list_query,
)
from helpdesk.storage.desk_queries import DeskQueries, TicketFilter
from helpdesk.tickets import TicketService

JAKARTA = ZoneInfo("Asia/Jakarta")


def add_ticket(services, ticket_id, subject, *, status="open", created_at=None, **fields):
    return services.ticket_repository.add(
        ticket_id=ticket_id,
        subject=subject,
        chronology=fields.pop("chronology", "Kronologi singkat."),
        email=fields.pop("email", "warga@example.go.id"),
        status=status,
        created_at=created_at,
        **fields,
    )


def ticket_ids(text: str) -> list[str]:
    return re.findall(r'href="/tickets/([0-9]{8}-[A-Z]{6})"', text)


@pytest.fixture
def tickets(services):
    """Three tickets on 13, 14 and 15 April 2026 (Jakarta time), newest last."""
    base = datetime(2026, 4, 13, 9, 0, tzinfo=JAKARTA)
    return [
        add_ticket(services, "20260413-AAAAAA", "Reset password SAKTI", created_at=base),
        add_ticket(
            services,
            "20260414-BBBBBB",
            "SP2D belum cair",
            status="in_progress",
            created_at=base + timedelta(days=1),
        ),
        add_ticket(
            services,
            "20260415-CCCCCC",
            "Akun DIGIT terkunci",
            status="resolved",
            created_at=base + timedelta(days=2, hours=14),  # 23.00 WIB on the 15th
        ),
    ]


async def test_ticket_list_filters(desk, services, tickets):
    client, _ = await desk.client_for("agent")
    page = await client.get("/tickets")
    assert page.status == 200
    assert ticket_ids(page.text) == ["20260415-CCCCCC", "20260414-BBBBBB", "20260413-AAAAAA"]

    page = await client.get("/tickets?status=in_progress")
    assert ticket_ids(page.text) == ["20260414-BBBBBB"]
    page = await client.get("/tickets?q=sakti")
    assert ticket_ids(page.text) == ["20260413-AAAAAA"]
    page = await client.get("/tickets?q=0415")  # part of the id
    assert ticket_ids(page.text) == ["20260415-CCCCCC"]
    page = await client.get("/tickets?q=20260414+bbbbbb")  # typed the way citizens do
    assert ticket_ids(page.text) == ["20260414-BBBBBB"]
    page = await client.get("/tickets?q=100%25")  # LIKE wildcards are taken literally
    assert ticket_ids(page.text) == []
    # Dates are the helpdesk's local days: 23.00 WIB on the 15th belongs to the 15th.
    page = await client.get("/tickets?dari=2026-04-14&sampai=2026-04-15")
    assert ticket_ids(page.text) == ["20260415-CCCCCC", "20260414-BBBBBB"]
    page = await client.get("/tickets?sampai=2026-04-13")
    assert ticket_ids(page.text) == ["20260413-AAAAAA"]


async def test_ticket_list_validation_errors_are_indonesian(desk, tickets):
    client, _ = await desk.client_for("agent")
    page = await client.get("/tickets?dari=14-04-2026&status=kacau")
    assert page.status == 400
    assert "Tanggal awal tidak valid" in page.text and "Status tiket tidak dikenal." in page.text
    assert len(ticket_ids(page.text)) == 3  # the bad filters are ignored, the list still shows
    page = await client.get("/tickets?dari=2026-04-15&sampai=2026-04-13")
    assert page.status == 400 and MSG_DATE_ORDER in page.text


async def test_ticket_list_paging_keeps_the_filters(desk, services):
    base = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)
    for n in range(30):
        add_ticket(
            services, f"202604{n + 1:02d}-ABCDEF", f"Tiket {n}", created_at=base + timedelta(days=n)
        )
    add_ticket(services, "20260401-ZZZZZZ", "Lain", status="closed", created_at=base)
    client, _ = await desk.client_for("agent")

    first = await client.get("/tickets?status=open")
    assert len(ticket_ids(first.text)) == 25 and "Halaman 1 dari 2" in first.text
    assert 'href="/tickets?status=open&amp;halaman=2"' in first.text
    second = await client.get("/tickets?status=open&halaman=2")
    assert len(ticket_ids(second.text)) == 5
    assert "20260401-ZZZZZZ" not in second.text
    beyond = await client.get("/tickets?status=open&halaman=9")
    assert ticket_ids(beyond.text) == ticket_ids(second.text)


async def test_ticket_detail_and_update(desk, services, tickets):
    add_ticket(
        services,
        "20260416-DDDDDD",
        "Lampiran <b>tebal</b>",
        chronology="[09.31] Warga: <script>x</script>\n[09.32] Asisten: baik",
        attachment="wamid.MEDIA9",
        email=None,
        sender_id="6281234567890",
        channel="whatsapp",
    )
    client, _ = await desk.client_for("agent")
    page = await client.get("/tickets/20260416-dddddd")  # any accepted spelling
    assert page.status == 200
    assert "Lampiran &lt;b&gt;tebal&lt;/b&gt;" in page.text
    assert "&lt;script&gt;x&lt;/script&gt;\n[09.32] Asisten: baik" in page.text
    assert "<script>x" not in page.text
    assert "wamid.MEDIA9" in page.text and "WhatsApp" in page.text
    assert "*********7890" in page.text

    page = await client.post(
        "/tickets/20260416-DDDDDD",
        {"status": "in_progress", "public_reply": "Sedang kami periksa, mohon ditunggu."},
    )
    assert page.status == 303 and page.location == "/tickets/20260416-DDDDDD"
    # What the citizen's status check reads.
    info = TicketService(services.ticket_repository, tz=JAKARTA).get_status("20260416-DDDDDD")
    assert info is not None
    assert (info.status, info.public_reply) == (
        "in_progress",
        "Sedang kami periksa, mohon ditunggu.",
    )

    page = await client.post("/tickets/20260416-DDDDDD", {"status": "resolved", "public_reply": ""})
    assert page.status == 303
    record = services.ticket_repository.get("20260416-DDDDDD")
    assert (record.status, record.public_reply) == ("resolved", "")

    page = await client.post("/tickets/20260416-DDDDDD", {"status": "hilang", "public_reply": "x"})
    assert page.status == 400 and MSG_BAD_STATUS in page.text
    page = await client.post(
        "/tickets/20260416-DDDDDD", {"status": "closed", "public_reply": "x" * 2001}
    )
    assert page.status == 400 and "maksimal 2000 karakter" in page.text
    assert services.ticket_repository.get("20260416-DDDDDD").status == "resolved"

    assert (await client.get("/tickets/20990101-ZZZZZZ")).status == 404
    assert (await client.get("/tickets/bukan-tiket")).status == 404
    assert (await client.post("/tickets/20990101-ZZZZZZ", {"status": "closed"})).status == 404


async def test_ticket_update_needs_csrf_and_a_login(desk, services, tickets):
    client, _ = await desk.client_for("agent")
    page = await client.post(
        "/tickets/20260413-AAAAAA", {"status": "closed", "public_reply": "x"}, csrf=False
    )
    assert page.status == 403
    assert services.ticket_repository.get("20260413-AAAAAA").status == "open"
    anonymous = await desk.client()
    assert (await anonymous.get("/tickets")).status == 302


def test_parse_list_query():
    query = parse_list_query(
        {"dari": "2026-04-14", "sampai": "2026-04-14", "halaman": "x"}, JAKARTA
    )
    assert query.page == 1 and query.errors == []
    assert query.filter.since == datetime(2026, 4, 14, tzinfo=JAKARTA)
    assert query.filter.until == datetime(2026, 4, 15, tzinfo=JAKARTA)
    bad = parse_list_query({"dari": "kemarin", "status": "open"}, JAKARTA)
    assert bad.errors == [MSG_BAD_DATE.format(label="awal")]
    assert bad.filter == TicketFilter(status="open")
    assert parse_list_query({"q": "a" * 101}, JAKARTA).errors


def test_search_tickets_rejects_bad_arguments(session_factory):
    queries = DeskQueries(session_factory)
    with pytest.raises(ValueError):
        queries.search_tickets(TicketFilter(status="lost"))
    with pytest.raises(ValueError):
        queries.search_tickets(TicketFilter(since=datetime(2026, 4, 1)))
    with pytest.raises(ValueError):
        queries.search_tickets(TicketFilter(), page=0)
    empty = queries.search_tickets(TicketFilter())
    assert (empty.total, empty.pages, empty.has_next, empty.has_previous) == (0, 1, False, False)

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
from helpdesk.storage.desk_queries import (
    OWNER_ME,
    OWNER_NONE,
    DeskQueries,
    TicketFilter,
    may_view_ticket,
)
from helpdesk.storage.desk_users import DeskUserRepository
from helpdesk.storage.divisions import DivisionRepository
from helpdesk.tickets.service import TicketService

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
    client, _ = await desk.client_for("supervisor")
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
    client, _ = await desk.client_for("supervisor")
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
    client, _ = await desk.client_for("supervisor")

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
    division = DivisionRepository(services.session_factory).create("Tim SAKTI", "SAKTI")
    services.ticket_repository.set_owner(
        "20260416-DDDDDD", division_id=division.id, assignee_id=None
    )
    client, _ = await desk.client_for("agent", division_id=division.id)  # of the division
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
    client, _ = await desk.client_for("supervisor")
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
    with pytest.raises(ValueError):
        queries.search_tickets(TicketFilter(owner="someone"))
    empty = queries.search_tickets(TicketFilter())
    assert (empty.total, empty.pages, empty.has_next, empty.has_previous) == (0, 1, False, False)


# -- who sees which ticket --------------------------------------------------------------------

NIK = "3201234567890001"
EMAIL = "siti.aminah@contoh.go.id"


@pytest.fixture
def owned(services, make_user):
    """Two divisions, an agent of each, and tickets of each, one assigned, one nobody's."""
    divisions = DivisionRepository(services.session_factory)
    sakti, digit = divisions.create("Tim SAKTI", "SAKTI"), divisions.create("Tim DIGIT", "DIGIT")
    rina = make_user("agent", username="rina", division_id=sakti.id)
    agus = make_user("agent", username="agus", division_id=digit.id)
    base = datetime(2026, 4, 14, 9, 0, tzinfo=JAKARTA)
    repo = services.ticket_repository
    for n, (ticket_id, division, assignee) in enumerate(
        [
            ("20260414-SAKTIA", sakti.id, None),
            ("20260414-DIGITA", digit.id, None),
            ("20260414-DIGITB", digit.id, rina.id),  # another division's, given to rina
            ("20260414-NOBODY", None, None),
        ]
    ):
        add_ticket(
            services,
            ticket_id,
            f"Tiket {ticket_id}",
            chronology=f"NIK saya {NIK}, e-mail {EMAIL}.",
            email=EMAIL,
            created_at=base + timedelta(minutes=n),
        )
        repo.set_owner(ticket_id, division_id=division, assignee_id=assignee)
    return {"sakti": sakti, "digit": digit, "rina": rina, "agus": agus}


async def test_agents_list_only_their_divisions_and_their_own_tickets(desk, owned):
    rina = await desk.client()
    await rina.login("rina")
    agus = await desk.client()
    await agus.login("agus")
    supervisor, _ = await desk.client_for("supervisor")

    assert ticket_ids((await rina.get("/tickets")).text) == ["20260414-DIGITB", "20260414-SAKTIA"]
    assert ticket_ids((await agus.get("/tickets")).text) == ["20260414-DIGITB", "20260414-DIGITA"]
    assert ticket_ids((await supervisor.get("/tickets")).text) == [
        "20260414-NOBODY",
        "20260414-DIGITB",
        "20260414-DIGITA",
        "20260414-SAKTIA",
    ]
    # A search cannot reach past the permissions either.
    assert ticket_ids((await rina.get("/tickets?q=DIGITA")).text) == []


@pytest.mark.parametrize("ticket_id", ["20260414-DIGITA", "20260414-NOBODY"])
async def test_an_agent_cannot_read_or_change_a_ticket_that_is_not_theirs(
    desk, services, owned, ticket_id
):
    client = await desk.client()
    await client.login("rina")

    page = await client.get(f"/tickets/{ticket_id}")

    assert page.status == 403
    assert (
        "Akses ditolak" in page.text
        and "Tiket ini ditangani divisi atau petugas lain." in page.text
    )
    for secret in (NIK, EMAIL, "siti.aminah"):
        assert secret not in page.text
    page = await client.post(
        f"/tickets/{ticket_id}", {"status": "closed", "public_reply": "Ditutup oleh saya."}
    )
    assert page.status == 403
    assert NIK not in page.text
    page = await client.post(f"/tickets/{ticket_id}/owner", {"division_id": str(owned["sakti"].id)})
    assert page.status == 403
    record = services.ticket_repository.get(ticket_id)
    assert (record.status, record.public_reply) == ("open", None)
    assert record.division_id != owned["sakti"].id or ticket_id == "20260414-SAKTIA"


async def test_an_agent_works_on_the_tickets_of_the_division_and_assigned_ones(
    desk, services, owned
):
    client = await desk.client()
    await client.login("rina")
    for ticket_id in ("20260414-SAKTIA", "20260414-DIGITB"):
        page = await client.get(f"/tickets/{ticket_id}")
        assert page.status == 200 and EMAIL not in page.text  # masked until asked for
        assert "si***@co***.go.id" in page.text
        assert "Penanganan" not in page.text  # only supervisors give tickets out
        full = await client.get(f"/tickets/{ticket_id}?lengkap=1")
        assert f'href="mailto:{EMAIL}"' in full.text and "tercatat di log audit" in full.text
        page = await client.post(f"/tickets/{ticket_id}", {"status": "in_progress"})
        assert page.status == 303
        assert services.ticket_repository.get(ticket_id).status == "in_progress"


async def test_ticket_views_in_full_are_in_the_audit_trail(desk, services, owned):
    from helpdesk.storage.audit import AuditFilter

    client = await desk.client()
    await client.login("rina")
    await client.get("/tickets/20260414-SAKTIA")
    await client.get("/tickets/20260414-SAKTIA?lengkap=1")

    (view,) = services.audit.repository.search(AuditFilter(action="desk.tickets.unmasked_view"))
    assert (view.actor, view.target) == ("desk:rina", "ticket:20260414-SAKTIA")


async def test_a_moved_agent_loses_the_old_divisions_tickets(desk, services, owned):
    client = await desk.client()
    await client.login("rina")
    assert (await client.get("/tickets/20260414-SAKTIA")).status == 200
    DeskUserRepository(services.session_factory).update(owned["rina"].id, division_id=None)
    assert (await client.get("/tickets/20260414-SAKTIA")).status == 403
    assert (await client.get("/tickets/20260414-DIGITB")).status == 200  # still assigned


async def test_a_supervisor_gives_a_ticket_to_a_division_and_an_agent(desk, services, owned):
    supervisor, _ = await desk.client_for("supervisor")
    page = await supervisor.get("/tickets/20260414-NOBODY")
    assert page.status == 200
    assert (
        "Belum ditentukan" in page.text and 'action="/tickets/20260414-NOBODY/owner"' in page.text
    )
    nobody = await supervisor.get("/tickets?pemilik=tanpa")
    assert ticket_ids(nobody.text) == ["20260414-NOBODY"]

    page = await supervisor.post(
        "/tickets/20260414-NOBODY/owner",
        {"division_id": str(owned["digit"].id), "assignee_id": str(owned["rina"].id)},
    )

    assert page.status == 303 and page.location == "/tickets/20260414-NOBODY"
    record = services.ticket_repository.get("20260414-NOBODY")
    assert (record.division_id, record.assignee_id) == (owned["digit"].id, owned["rina"].id)
    rina = await desk.client()
    await rina.login("rina")
    assert (await rina.get("/tickets/20260414-NOBODY")).status == 200
    mine = await rina.get("/tickets?pemilik=saya")
    assert ticket_ids(mine.text) == ["20260414-NOBODY", "20260414-DIGITB"]
    assert ticket_ids((await supervisor.get("/tickets?pemilik=tanpa")).text) == []
    detail = await supervisor.get("/tickets/20260414-NOBODY")
    assert "Tim DIGIT" in detail.text and "Petugas Rina" in detail.text


@pytest.mark.parametrize(
    "form",
    [
        {"division_id": "999"},
        {"division_id": "abc"},
        {"division_id": "9" * 25},
        {"assignee_id": "999"},
        {"assignee_id": "-1"},
    ],
)
async def test_a_ticket_is_given_only_to_a_known_division_and_an_active_user(
    desk, services, owned, form
):
    supervisor, _ = await desk.client_for("supervisor")
    page = await supervisor.post("/tickets/20260414-NOBODY/owner", form)
    assert page.status == 303
    record = services.ticket_repository.get("20260414-NOBODY")
    assert (record.division_id, record.assignee_id) == (None, None)
    flash = await supervisor.get(page.location)
    assert "tidak ditemukan" in flash.text


async def test_an_inactive_user_is_not_given_tickets(desk, services, owned, make_user):
    gone = make_user("agent", active=False)
    supervisor, _ = await desk.client_for("supervisor")
    await supervisor.post("/tickets/20260414-NOBODY/owner", {"assignee_id": str(gone.id)})
    assert services.ticket_repository.get("20260414-NOBODY").assignee_id is None


async def test_the_owner_filter_is_checked(desk, owned):
    supervisor, _ = await desk.client_for("supervisor")
    page = await supervisor.get("/tickets?pemilik=semua-orang")
    assert page.status == 400 and "Pilihan pemilik tiket tidak dikenal." in page.text


def test_the_sql_and_the_python_rule_agree(services, owned, make_user):
    queries = DeskQueries(services.session_factory)
    supervisor = make_user("supervisor")
    loner = make_user("agent")  # no division, nothing assigned
    every = queries.search_tickets(TicketFilter()).tickets
    for user in (owned["rina"], owned["agus"], supervisor, loner):
        listed = {t.id for t in queries.search_tickets(TicketFilter(), viewer=user).tickets}
        assert listed == {t.id for t in every if may_view_ticket(user, t)}, user.username
    assert queries.search_tickets(TicketFilter(), viewer=loner).total == 0
    assert queries.search_tickets(TicketFilter(owner=OWNER_NONE), viewer=supervisor).total == 1
    rina_mine = queries.search_tickets(TicketFilter(owner=OWNER_ME), viewer=owned["rina"])
    assert [t.id for t in rina_mine.tickets] == ["20260414-DIGITB"]


async def test_a_new_ticket_goes_to_the_division_serving_its_category(desk, services, owned):
    """A citizen's ticket after a SAKTI answer reaches the SAKTI team's agents at once, not
    only once a supervisor gives it out; one with no known category stays with supervisors."""
    from helpdesk.tickets.service import TicketDraft

    routed = services.tickets.create(
        TicketDraft(
            subject="Password SAKTI tidak bisa direset",
            chronology=f"NIK {NIK}.",
            email=EMAIL,
            sender_id="6281200000001",
            channel="whatsapp",
            category="sakti",  # categories match whatever their case
        )
    )
    unrouted = services.tickets.create(
        TicketDraft(
            subject="Pertanyaan lain",
            chronology="Tidak ada kategori.",
            email=EMAIL,
            sender_id="6281200000002",
            channel="whatsapp",
            category="Kategori yang tidak dilayani divisi mana pun",
        )
    )

    assert services.ticket_repository.get(routed.id).division_id == owned["sakti"].id
    assert services.ticket_repository.get(unrouted.id).division_id is None
    rina = await desk.client()
    await rina.login("rina")
    agus = await desk.client()
    await agus.login("agus")
    assert routed.id in ticket_ids((await rina.get("/tickets")).text)
    assert (await rina.get(f"/tickets/{routed.id}")).status == 200
    assert routed.id not in ticket_ids((await agus.get("/tickets")).text)
    assert (await agus.get(f"/tickets/{routed.id}")).status == 403
    assert unrouted.id not in ticket_ids((await rina.get("/tickets")).text)

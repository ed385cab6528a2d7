"""Citizens' media on the desk: fetched from the (fake) WhatsApp Graph API, checked, stored
with the citizen as sender, and served to the users who may see the ticket or conversation."""

from __future__ import annotations

import time

import pytest

from helpdesk.desk import whatsapp_media
from helpdesk.desk.media import MediaRefused, MediaUnavailable, open_attachment
from helpdesk.desk.whatsapp_media import WhatsAppMedia
from helpdesk.storage.attachments import AttachmentFiles
from helpdesk.storage.audit import AuditFilter
from helpdesk.storage.divisions import DivisionRepository
from tests.support.fake_whatsapp import FakeGraph
from tests.unit.desk.test_conversations import queue, user_event

PHONE = "6281234567890"
PDF = b"%PDF-1.4 surat keterangan"
PNG = b"PNG-bukti-transfer"


@pytest.fixture
def graph():
    fake = FakeGraph()
    fake.add_media("111222333", PDF, "application/pdf")
    fake.add_media("444555666", PNG, "image/png")
    fake.add_media("777888999", b"MZ\x90\x00", "application/x-msdownload")
    yield fake
    fake.close()


@pytest.fixture
def source(graph):
    return WhatsAppMedia(graph.token, graph.url, timeout=5)


# -- the download -----------------------------------------------------------------------------
def test_fetch_reads_the_json_then_the_bytes_with_the_token(graph, source):
    media = source.fetch("111222333")
    assert (media.data, media.content_type) == (PDF, "application/pdf")
    assert graph.media_gets == ["/v20.0/111222333", "/v20.0/media-bytes/111222333"]
    with pytest.raises(MediaUnavailable):  # a wrong token: 401
        WhatsAppMedia("wrong", graph.url, timeout=5).fetch("111222333")
    with pytest.raises(MediaUnavailable):  # unknown media: 404
        source.fetch("000000")


def test_a_platform_error_is_media_unavailable(graph, source):
    graph.media_status = 500
    with pytest.raises(MediaUnavailable):
        source.fetch("111222333")


def test_a_file_too_large_is_refused_before_its_bytes(graph, source, monkeypatch):
    monkeypatch.setattr(whatsapp_media, "MAX_BYTES", len(PDF) - 1)
    with pytest.raises(MediaRefused) as refused:
        source.fetch("111222333")
    assert refused.value.reason == "too large"
    assert graph.media_gets == ["/v20.0/111222333"]


def test_open_attachment_checks_stores_once_with_the_citizen(graph, source, tmp_path):
    files = AttachmentFiles(tmp_path / "files")
    sources = {"whatsapp": source}
    stored = open_attachment(
        files, "111222333", channel="whatsapp", sender_id=PHONE, sources=sources
    )
    assert stored is not None and stored.path.read_bytes() == PDF
    assert stored.content_type == "application/pdf" and not stored.is_image
    again = open_attachment(
        files, "111222333", channel="whatsapp", sender_id=PHONE, sources=sources
    )
    assert again == stored
    assert len(graph.media_gets) == 2  # fetched once, then read from the store
    assert [f["type"] for f in files.of_sender(PHONE)] == ["application/pdf"]

    with pytest.raises(MediaRefused) as refused:
        open_attachment(files, "777888999", channel="whatsapp", sender_id=PHONE, sources=sources)
    assert refused.value.reason == "type not accepted"
    assert len(files.of_sender(PHONE)) == 1
    # No source for the channel: nothing to open.
    assert open_attachment(files, "1", channel="telegram", sender_id=PHONE, sources=sources) is None

    # Erased by a privacy request, it is fetched again on the next opening.
    assert files.forget_sender(PHONE) == 1
    before = len(graph.media_gets)
    open_attachment(files, "111222333", channel="whatsapp", sender_id=PHONE, sources=sources)
    assert len(graph.media_gets) == before + 2
    assert len(files.of_sender(PHONE)) == 1


# -- the desk routes --------------------------------------------------------------------------
def add_ticket(services, ticket_id, attachment, **fields):
    return services.ticket_repository.add(
        ticket_id=ticket_id,
        subject="Bukti pembayaran",
        chronology="Terlampir.",
        email=None,
        attachment=attachment,
        sender_id=PHONE,
        channel="whatsapp",
        **fields,
    )


@pytest.fixture
def wired(desk, source):
    desk.app.ctx.media_sources = {"whatsapp": source}
    return desk


async def test_ticket_attachment_is_served_to_those_who_see_the_ticket(wired, services):
    sakti = DivisionRepository(services.session_factory).create("SAKTI")
    digit = DivisionRepository(services.session_factory).create("DIGIT")
    add_ticket(services, "20260414-MEDIAA", "111222333", division_id=sakti.id)
    add_ticket(services, "20260414-MEDIAB", "444555666", division_id=sakti.id)
    url = "/tickets/20260414-MEDIAA/lampiran"

    anonymous = await wired.client()
    page = await anonymous.get(url)
    assert page.status in (302, 303) and "/login" in (page.location or "")

    stranger, _ = await wired.client_for("agent", division_id=digit.id)
    assert (await stranger.get(url)).status == 403

    agent, _ = await wired.client_for("agent", division_id=sakti.id)
    detail = await agent.get("/tickets/20260414-MEDIAA")
    assert f'href="{url}"' in detail.text and "Lihat lampiran" in detail.text
    page = await agent.get(url)
    assert page.status == 200 and page.text == PDF.decode()
    assert page.headers["Content-Type"] == "application/pdf"
    assert page.headers["Content-Disposition"].startswith("attachment;")
    assert page.headers["X-Content-Type-Options"] == "nosniff"

    image = await agent.get("/tickets/20260414-MEDIAB/lampiran")
    assert image.status == 200 and image.text == PNG.decode()
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Disposition"].startswith("inline;")
    assert image.headers["X-Content-Type-Options"] == "nosniff"

    audit = services.audit.repository
    (inline,) = audit.search(AuditFilter(action="desk.media.inline_view"))
    assert inline.target == "ticket:20260414-MEDIAB"
    (download,) = audit.search(AuditFilter(action="desk.tickets.ticket_attachment"))
    assert download.result == "ok"


async def test_platform_down_or_a_refused_file_gives_a_polite_page(wired, services, graph):
    add_ticket(services, "20260414-MEDIAC", "777888999")
    add_ticket(services, "20260414-MEDIAD", "111222333")
    client, _ = await wired.client_for("supervisor")
    page = await client.get("/tickets/20260414-MEDIAC/lampiran")
    assert page.status == 422 and "Jenis berkas lampiran tidak didukung" in page.text
    graph.media_status = 503
    page = await client.get("/tickets/20260414-MEDIAD/lampiran")
    assert page.status == 502 and "coba lagi" in page.text
    assert "Content-Disposition" not in page.headers


async def test_an_email_attachment_is_served_from_the_store(wired, services):
    reference = services.attachment_files.put(
        b"isi,data\n1,2\n", "laporan.csv", "text/csv", "warga@example.go.id#abc"
    )
    services.ticket_repository.add(
        ticket_id="20260414-MEDIAE",
        subject="Laporan",
        chronology="Terlampir.",
        email="warga@example.go.id",
        attachment=reference,
        channel="email",
    )
    client, _ = await wired.client_for("supervisor")
    page = await client.get("/tickets/20260414-MEDIAE/lampiran")
    assert page.status == 200 and page.text == "isi,data\n1,2\n"
    assert page.headers["Content-Type"].startswith("text/csv")
    assert 'filename="laporan.csv"' in page.headers["Content-Disposition"]
    # A ticket without an attachment has no file.
    add_ticket(services, "20260414-MEDIAF", None)
    assert (await client.get("/tickets/20260414-MEDIAF/lampiran")).status == 404


async def test_transcript_media_is_served_only_when_in_the_conversation(wired, services, tracker):
    user_event(
        tracker,
        PHONE,
        time.time() - 30,
        "111222333",
        media={"type": "document", "id": "111222333", "filename": "surat.pdf"},
    )
    handoff = queue(services, PHONE)
    owner, _ = await wired.client_for("agent")
    base = f"/conversations/{handoff.id}"
    page = await owner.get(base)
    assert f"{base}/lampiran?media=111222333" in page.text
    served = await owner.get(f"{base}/lampiran?media=111222333")
    assert served.status == 200 and served.text == PDF.decode()
    # Media that is not in this conversation (another citizen's) is not opened.
    assert (await owner.get(f"{base}/lampiran?media=444555666")).status == 404
    assert (await owner.post(f"{base}/take")).status == 303
    other, _ = await wired.client_for("agent")
    assert (await other.get(f"{base}/lampiran?media=111222333")).status == 403

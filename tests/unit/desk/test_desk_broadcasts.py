"""Supervisors' WhatsApp broadcasts on the desk: upload a CSV for an approved template, see the
preview, send, pause, resume, cancel and export; agents are kept out; every act is audited."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk.broadcasts.recipients import Problem
from helpdesk.broadcasts.service import Upload
from helpdesk.conversation.message_templates import load_registry
from helpdesk.desk.views.broadcasts import parse_local_time, upload_summary
from helpdesk.storage.audit import AuditFilter

REGISTRY = """\
version: 1
templates:
  - name: info_layanan
    language: id
    category: UTILITY
    variables: [nama, tanggal]
    body: "Yth. {{1}}, layanan SP2D tutup pada {{2}} karena pemeliharaan sistem. Terima kasih."
"""
#: Two sendable rows, a bad number (line 3) and the first number again in another form.
CSV = (
    "nomor;nama;tanggal\n"
    "0812-3456-7890;Budi Santoso;1 Mei 2026\n"
    "12345;Ani;2 Mei 2026\n"
    "+62 812 3456 7890;Budi lagi;3 Mei 2026\n"
    "081298765432;Siti Aminah;4 Mei 2026\n"
)
CONSENT = "Mendaftar layanan notifikasi di loket KPPN dan menandatangani formulir persetujuan."


def text_of(page) -> str:
    return html.unescape(page.text)


@pytest.fixture
def templates(services, tmp_path, monkeypatch):
    """The WhatsApp template registry of the test: one template, written to a file."""
    path = tmp_path / "whatsapp_templates.yml"
    path.write_text(REGISTRY, encoding="utf-8")
    monkeypatch.setattr(services, "whatsapp_templates", lambda: load_registry(path))
    return path


def csv_file(text: str = CSV, name: str = "penerima.csv") -> io.BytesIO:
    upload = io.BytesIO(text.encode("utf-8"))
    upload.name = name
    return upload


async def upload(client, **fields) -> object:
    form = {
        "name": "Pemeliharaan SP2D",
        "template_name": "info_layanan",
        "consent_note": CONSENT,
        "file": csv_file(),
    }
    form.update(fields)
    return await client.post("/broadcasts/new", form)


def broadcast_id(page) -> int:
    match = re.fullmatch(r"/broadcasts/(\d+)", page.location or "")
    assert match, (page.status, page.location)
    return int(match.group(1))


def flash_of(page) -> str:
    match = re.search(r'<div class="flash flash-\w+" role="status">(.*?)</div>', page.text)
    assert match, "no flash message"
    return html.unescape(match.group(1))


async def act(client, bid: int, action: str, **form) -> str:
    """POST an action; follow the redirect; the flash message shown there."""
    page = await client.post(f"/broadcasts/{bid}/{action}", form)
    assert page.status == 303 and page.location == f"/broadcasts/{bid}", page.status
    return flash_of(await client.get(page.location))


# -- access ------------------------------------------------------------------------------------
async def test_agents_get_403_and_do_not_see_the_link(desk, templates) -> None:
    agent, _ = await desk.client_for("agent")
    for path in ("/broadcasts", "/broadcasts/new"):
        assert (await agent.get(path)).status == 403
    refused = await upload(agent)
    assert refused.status == 403
    assert desk.app.ctx.services.broadcasts.latest() == []
    assert 'href="/broadcasts"' not in (await agent.get("/tickets")).text

    supervisor, _ = await desk.client_for("supervisor")
    page = await supervisor.get("/broadcasts")
    assert page.status == 200 and 'href="/broadcasts/new"' in page.text
    assert 'href="/broadcasts" class="active"' in page.text  # the nav link
    admin, _ = await desk.client_for("admin")
    assert (await admin.get("/broadcasts/new")).status == 200


async def test_the_form_shows_each_template_and_its_columns(desk, templates) -> None:
    client, _ = await desk.client_for("supervisor")
    page = text_of(await client.get("/broadcasts/new"))
    assert '<option value="info_layanan"' in page
    assert "layanan SP2D tutup pada {{2}}" in page
    assert "<code>{{1}}</code> = <code>nama</code>" in page
    assert "Kolom CSV: <code>nomor</code>, <code>nama</code>, <code>tanggal</code>" in page
    assert 'enctype="multipart/form-data"' in page
    assert "Bagaimana penerima menyatakan bersedia" in page


# -- upload --------------------------------------------------------------------------------------
async def test_an_upload_makes_a_draft_and_reports_bad_rows_and_duplicates(desk, templates) -> None:
    client, supervisor = await desk.client_for("supervisor")

    page = await upload(client)

    assert page.status == 303
    bid = broadcast_id(page)
    detail = await client.get(page.location)
    message = flash_of(detail)
    assert "Siaran dibuat dengan 2 penerima." in message
    assert "1 nomor ganda hanya dimasukkan sekali." in message
    assert "1 baris dilewati: baris 3 (nomor WhatsApp tidak valid)." in message
    shown = text_of(detail)
    assert "Yth. Budi Santoso, layanan SP2D tutup pada 1 Mei 2026" in shown
    assert "Yth. Siti Aminah, layanan SP2D tutup pada 4 Mei 2026" in shown
    assert "6281*****7890" in shown  # masked in the preview and the table
    assert "6281234567890" not in shown and "81298765432" not in shown
    assert "Kirim sekarang" in shown and "Lanjutkan" not in shown
    assert 'http-equiv="refresh"' not in detail.text  # a draft does not change by itself

    broadcast = desk.app.ctx.services.broadcasts.get(bid)
    assert (broadcast.status, broadcast.created_by) == ("draft", supervisor.username)
    assert broadcast.consent_note == CONSENT

    listing = text_of(await client.get("/broadcasts"))
    assert "Pemeliharaan SP2D" in listing and "draf" in listing
    (made,) = desk.app.ctx.services.audit.repository.search(
        AuditFilter(action="desk.broadcasts.broadcast_create")
    )
    assert made.result == "ok" and made.actor == f"desk:{supervisor.username}"


async def test_a_refused_upload_shows_the_form_again_with_what_was_typed(desk, templates) -> None:
    client, _ = await desk.client_for("supervisor")

    page = await upload(client, consent_note="  ")
    assert page.status == 400
    shown = text_of(page)
    assert "Jelaskan bagaimana penerima menyatakan bersedia" in shown
    assert 'value="Pemeliharaan SP2D"' in shown
    assert '<option value="info_layanan" selected>' in shown

    page = await upload(client, file=csv_file("nomor;nama\n081234567890;Budi\n"))
    assert page.status == 400
    assert "Kolom untuk variabel templat tidak ditemukan: tanggal." in text_of(page)
    assert CONSENT in text_of(page)

    page = await upload(client, template_name="tidak_ada")
    assert page.status == 400
    assert "Templat tidak ditemukan" in text_of(page)
    assert desk.app.ctx.services.broadcasts.latest() == []


async def test_without_the_csrf_token_nothing_is_made_or_sent(desk, templates) -> None:
    client, _ = await desk.client_for("supervisor")
    page = await client.post(
        "/broadcasts/new",
        {"name": "X", "template_name": "info_layanan", "consent_note": CONSENT, "file": csv_file()},
        csrf=False,
    )
    assert page.status == 403
    assert desk.app.ctx.services.broadcasts.latest() == []

    bid = broadcast_id(await upload(client))
    assert (await client.post(f"/broadcasts/{bid}/send", csrf="salah")).status == 403
    assert desk.app.ctx.services.broadcasts.get(bid).status == "draft"


# -- the actions ---------------------------------------------------------------------------------
async def test_send_pause_resume_cancel_and_their_refusals(desk, templates) -> None:
    client, supervisor = await desk.client_for("supervisor")
    service = desk.app.ctx.services.broadcasts
    bid = broadcast_id(await upload(client))

    assert "mulai dikirim" in await act(client, bid, "send")
    assert service.get(bid).status == "sending"
    page = await client.get(f"/broadcasts/{bid}")
    assert '<meta http-equiv="refresh" content="10">' in page.text
    assert "Jeda" in page.text and "Kirim sekarang" not in page.text

    assert "tidak dapat dikirim lagi" in await act(client, bid, "send")
    assert "Hanya siaran yang dijeda" in await act(client, bid, "resume")

    assert "Siaran dijeda" in await act(client, bid, "pause")
    assert service.get(bid).status == "paused"
    assert "Hanya siaran yang sedang dikirim atau terjadwal" in await act(client, bid, "pause")

    assert "Siaran dilanjutkan" in await act(client, bid, "resume")
    assert service.get(bid).status == "sending"

    assert "Siaran dibatalkan" in await act(client, bid, "cancel")
    assert service.get(bid).status == "cancelled"
    assert "sudah selesai atau dibatalkan" in await act(client, bid, "cancel")
    assert "Hanya siaran yang dijeda" in await act(client, bid, "resume")
    assert "tidak ada tindakan lagi" in text_of(await client.get(f"/broadcasts/{bid}"))

    trail = desk.app.ctx.services.audit.repository.search(AuditFilter(action="desk.broadcasts"))
    acts = [r.action.rsplit(".", 1)[-1] for r in trail]
    for action in ("send", "pause", "resume", "cancel"):
        assert f"broadcast_{action}" in acts
    acted = [r for r in trail if r.action != "desk.broadcasts.broadcast_create"]
    assert acted and all(r.target == f"broadcast:{bid}" for r in acted)

    assert (await client.post("/broadcasts/999/pause")).status == 404


async def test_scheduling_reads_the_helpdesk_time_zone(desk, templates) -> None:
    client, _ = await desk.client_for("supervisor")
    service = desk.app.ctx.services.broadcasts
    tz = desk.app.ctx.services.settings.tz
    bid = broadcast_id(await upload(client))

    later = (datetime.now(tz) + timedelta(days=2)).replace(second=0, microsecond=0)
    message = await act(client, bid, "schedule", scheduled_at=f"{later:%Y-%m-%dT%H:%M}")
    assert f"dijadwalkan pada {later:%d-%m-%Y %H.%M}" in message
    broadcast = service.get(bid)
    assert broadcast.status == "scheduled" and broadcast.scheduled_at == later

    earlier = datetime.now(tz) - timedelta(hours=1)
    refusal = await act(client, bid, "schedule", scheduled_at=f"{earlier:%Y-%m-%dT%H:%M}")
    assert "harus di masa mendatang" in refusal
    assert "Isi tanggal dan jam" in await act(client, bid, "schedule", scheduled_at="besok")
    assert service.get(bid).scheduled_at == later

    assert "Siaran dijeda" in await act(client, bid, "pause")  # a scheduled one can be paused


# -- export --------------------------------------------------------------------------------------
async def test_the_export_is_a_csv_line_per_recipient(desk, templates) -> None:
    client, supervisor = await desk.client_for("supervisor")
    bid = broadcast_id(await upload(client))

    page = await client.get(f"/broadcasts/{bid}/export.csv")

    assert page.status == 200
    assert page.headers["Content-Disposition"] == f'attachment; filename="siaran-{bid}.csv"'
    assert page.headers["Content-Type"].startswith("text/csv")
    assert page.headers["Cache-Control"] == "no-store"  # the desk's headers on the stream too
    rows = list(csv.reader(io.StringIO(page.text.lstrip("\ufeff"))))
    assert rows[0] == [
        "phone",
        "name",
        "status",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "error",
    ]
    assert [row[:3] for row in rows[1:]] == [
        ["6281234567890", "Budi Santoso", "menunggu"],
        ["6281298765432", "Siti Aminah", "menunggu"],
    ]
    (download,) = desk.app.ctx.services.audit.repository.search(
        AuditFilter(action="desk.broadcasts.broadcast_export")
    )
    assert download.actor == f"desk:{supervisor.username}" and download.target == f"broadcast:{bid}"

    agent, _ = await desk.client_for("agent")
    assert (await agent.get(f"/broadcasts/{bid}/export.csv")).status == 403
    assert (await client.get("/broadcasts/999/export.csv")).status == 404


async def test_the_recipients_table_filters_by_status(desk, templates) -> None:
    client, _ = await desk.client_for("supervisor")
    bid = broadcast_id(await upload(client))

    pending = text_of(await client.get(f"/broadcasts/{bid}?status=pending"))
    assert pending.count('<td data-label="Nomor">') == 2
    failed = text_of(await client.get(f"/broadcasts/{bid}?status=failed"))
    assert "Tidak ada penerima dengan status ini." in failed
    assert (await client.get("/broadcasts/999")).status == 404


# -- pure helpers --------------------------------------------------------------------------------
def test_a_local_time_is_read_in_the_helpdesk_zone() -> None:
    wita = ZoneInfo("Asia/Makassar")
    at = parse_local_time("2026-05-04T09:30", wita)
    assert at == datetime(2026, 5, 4, 1, 30, tzinfo=ZoneInfo("UTC"))
    for bad in ("", "besok", "2026-05-04T09:30+07:00", "9" * 40):
        assert parse_local_time(bad, wita) is None


def test_the_upload_summary_fits_the_flash_and_counts_the_rest() -> None:
    problems = [
        Problem(line, "nilai tidak sesuai templat (terlalu panjang)") for line in range(2, 52)
    ]
    made = Upload(
        broadcast=None,
        recipients=7,
        problems=problems,
        problem_count=60,
        duplicates=0,
    )
    message, kind = upload_summary(made)
    assert kind == "info" and len(message) <= 480
    assert message.startswith("Siaran dibuat dengan 7 penerima. 60 baris dilewati: baris 2 (")
    shown = message.count("baris ") - 2  # "60 baris dilewati", "dan N baris lainnya"
    assert f"dan {60 - shown} baris lainnya." in message
    assert "nomor ganda" not in message

    clean = Upload(broadcast=None, recipients=3, problems=[], problem_count=0, duplicates=0)
    assert upload_summary(clean) == (
        "Siaran dibuat dengan 3 penerima. Periksa pratinjau sebelum mengirim.",
        "success",
    )

"""Admin pages: users, divisions, canned responses, office hours; and the effective hours."""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from helpdesk.desk.auth import SESSION_COOKIE
from helpdesk.handoff.desk_settings import (
    OFFICE_HOURS_KEY,
    UPCOMING_LIMIT,
    OfficeHoursProvider,
    effective_office_hours,
    parse_office_hours_text,
    strip_yaml_comments,
    summarise_office_hours,
)
from helpdesk.handoff.office_hours import OfficeHoursError
from helpdesk.handoff.office_hours_loader import load_office_hours
from helpdesk.storage.canned_responses import CannedResponseRepository, fill_placeholder
from helpdesk.storage.desk_sessions import DeskSessionRepository
from helpdesk.storage.desk_settings import DeskSettingRepository
from helpdesk.storage.desk_users import DeskUserRepository
from helpdesk.storage.divisions import DivisionRepository
from tests.unit.desk.conftest import PASSWORD

NEW_PASSWORD = "sandi-baru-yang-kuat"

VALID_HOURS = """\
version: 1
timezone: WIB
weekly:
  senin-kamis: ["07:30-15:00"]
  jumat: ["07:30-11:00"]
"""

#: Hours with a past holiday, far-future holidays and a special day (independent of today).
HOURS_WITH_DATES = """\
version: 1
timezone: WIB
weekly:
  senin-kamis: ["07:30-15:00"]
  jumat: ["07:30-11:00"]
holidays:
  - {date: 2020-01-01, name: Tahun Baru 2020 Masehi}
  - {date: 2098-08-17, name: Hari Kemerdekaan Republik Indonesia}
  - {date: 2098-12-25, name: Hari Raya Natal}
special_days:
  - {date: 2098-12-31, hours: ["08:00-12:00"], name: Layanan setengah hari akhir tahun}
  - {date: 2098-12-25, hours: ["09:00-10:00"]}
"""

_TEXTAREA = re.compile(r'<textarea id="office_hours"[^>]*>(.*?)</textarea>', re.DOTALL)


def editor_text(page_text: str) -> str:
    """The YAML in the office-hours editor of a page, unescaped."""
    match = _TEXTAREA.search(page_text)
    assert match, "no office-hours editor on the page"
    return html.unescape(match.group(1))


def new_user_form(**overrides):
    form = {
        "username": "Siti.Aminah",
        "display_name": "Siti Aminah",
        "role": "agent",
        "division_id": "",
        "max_conversations": "4",
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
    }
    form.update(overrides)
    return form


# -- users ------------------------------------------------------------------------------------


async def test_admin_creates_a_user_who_can_log_in(desk, services):
    division = DivisionRepository(services.session_factory).create("Tim SAKTI", "SAKTI")
    admin, _ = await desk.client_for("admin")

    page = await admin.post("/admin/users/new", new_user_form(division_id=str(division.id)))

    assert page.status == 303 and page.location == "/admin/users"
    listing = await admin.get("/admin/users")
    assert "Pengguna Siti Aminah dibuat." in listing.text
    assert "siti.aminah" in listing.text and "Tim SAKTI" in listing.text
    user = DeskUserRepository(services.session_factory).get_by_username("siti.aminah")
    assert (user.role, user.division_id, user.max_conversations) == ("agent", division.id, 4)
    newcomer = await desk.client()
    assert (await newcomer.login("siti.aminah", NEW_PASSWORD)).status == 303


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "pendek", "password_confirm": "pendek"}, "Kata sandi minimal 10 karakter."),
        ({"password_confirm": "sandi-lain-sekali"}, "Konfirmasi kata sandi tidak sama."),
        ({"username": "a b"}, "Nama pengguna 3-64 karakter"),
        ({"role": "raja"}, "Pilih peran"),
        ({"max_conversations": "0"}, "Batas percakapan harus angka 1 sampai 50."),
        ({"division_id": "999"}, "Divisi tidak ditemukan."),
        ({"display_name": " "}, "Nama lengkap wajib diisi."),
    ],
)
async def test_bad_user_form_is_shown_again_with_the_error(desk, services, overrides, message):
    admin, _ = await desk.client_for("admin")
    page = await admin.post("/admin/users/new", new_user_form(**overrides))
    assert page.status == 400
    assert message in page.text
    assert DeskUserRepository(services.session_factory).get_by_username("siti.aminah") is None


async def test_duplicate_username_is_refused(desk, services, make_user):
    make_user("agent", username="siti.aminah")
    admin, _ = await desk.client_for("admin")
    page = await admin.post("/admin/users/new", new_user_form())
    assert page.status == 400
    assert "Nama pengguna sudah dipakai." in page.text


async def test_admin_edits_role_division_and_limit(desk, services, make_user):
    agent = make_user("agent")
    division = DivisionRepository(services.session_factory).create("Tim DIGIT", "DIGIT")
    admin, _ = await desk.client_for("admin")
    assert agent.display_name in (await admin.get(f"/admin/users/{agent.id}")).text

    page = await admin.post(
        f"/admin/users/{agent.id}",
        {
            "display_name": "Agus Baru",
            "role": "supervisor",
            "division_id": str(division.id),
            "max_conversations": "6",
        },
    )

    assert page.status == 303
    user = DeskUserRepository(services.session_factory).get(agent.id)
    assert (user.display_name, user.role, user.division_id, user.max_conversations) == (
        "Agus Baru",
        "supervisor",
        division.id,
        6,
    )
    assert (await admin.get("/admin/users/9999")).status == 404


async def test_deactivating_ends_the_users_sessions(desk, services):
    agent_client, agent = await desk.client_for("agent")
    admin, _ = await desk.client_for("admin")

    page = await admin.post(f"/admin/users/{agent.id}/active", {"active": "0"})

    assert page.status == 303
    assert not DeskUserRepository(services.session_factory).get(agent.id).active
    assert (await agent_client.get("/admin")).status == 302  # session gone: to the login page
    assert (await (await desk.client()).login(agent.username)).status == 401
    await admin.post(f"/admin/users/{agent.id}/active", {"active": "1"})
    assert (await (await desk.client()).login(agent.username)).status == 303


async def test_admin_cannot_lock_themselves_out(desk, services):
    admin, me = await desk.client_for("admin")
    page = await admin.post(f"/admin/users/{me.id}/active", {"active": "0"})
    assert page.status == 303
    assert "tidak dapat menonaktifkan akun Anda sendiri" in (await admin.get(page.location)).text
    page = await admin.post(
        f"/admin/users/{me.id}",
        {"display_name": me.display_name, "role": "agent", "max_conversations": "3"},
    )
    assert page.status == 400
    assert "minimal satu admin yang aktif" in page.text
    assert DeskUserRepository(services.session_factory).get(me.id).role == "admin"


async def test_password_reset_replaces_the_password_and_ends_sessions(desk, services):
    agent_client, agent = await desk.client_for("agent")
    admin, _ = await desk.client_for("admin")

    short = await admin.post(
        f"/admin/users/{agent.id}/password", {"password": "x", "password_confirm": "x"}
    )
    assert short.status == 400
    page = await admin.post(
        f"/admin/users/{agent.id}/password",
        {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )

    assert page.status == 303
    token = agent_client.cookie(SESSION_COOKIE)
    assert DeskSessionRepository(services.session_factory).get_valid(token) is None
    assert (await (await desk.client()).login(agent.username, PASSWORD)).status == 401
    assert (await (await desk.client()).login(agent.username, NEW_PASSWORD)).status == 303


async def test_agent_cannot_create_users(desk, services):
    agent, _ = await desk.client_for("agent")
    page = await agent.post("/admin/users/new", new_user_form(role="admin"))
    assert page.status == 403
    assert DeskUserRepository(services.session_factory).get_by_username("siti.aminah") is None


# -- divisions --------------------------------------------------------------------------------


async def test_divisions_create_edit_delete(desk, services, make_user):
    divisions = DivisionRepository(services.session_factory)
    admin, _ = await desk.client_for("admin")

    page = await admin.post(
        "/admin/divisions", {"name": "Tim SAKTI", "categories": "SAKTI, sakti,DIGIT"}
    )
    assert page.status == 303
    (division,) = divisions.list()
    assert division.categories == ("SAKTI", "DIGIT")
    assert "SAKTI, DIGIT" in (await admin.get("/admin/divisions")).text
    assert divisions.for_category("digit").id == division.id

    duplicate = await admin.post("/admin/divisions", {"name": "tim sakti", "categories": ""})
    assert duplicate.status == 400 and "Nama divisi sudah dipakai." in duplicate.text

    page = await admin.post(
        f"/admin/divisions/{division.id}", {"name": "Tim Aplikasi", "categories": "SAKTI"}
    )
    assert page.status == 303
    assert divisions.get(division.id).name == "Tim Aplikasi"

    agent = make_user("agent", division_id=division.id)
    page = await admin.post(f"/admin/divisions/{division.id}/delete")
    assert page.status == 303
    assert divisions.list() == []
    assert DeskUserRepository(services.session_factory).get(agent.id).division_id is None


# -- canned responses -------------------------------------------------------------------------


def test_placeholder_is_filled_plainly():
    assert fill_placeholder("Halo {nama}, {x} tetap.", "Budi") == "Halo Budi, {x} tetap."
    assert fill_placeholder("Halo {nama}.", None) == "Halo Bapak/Ibu."
    assert fill_placeholder("Halo {nama}.", "  ") == "Halo Bapak/Ibu."


async def test_canned_response_preview_then_save(desk, services):
    canned = CannedResponseRepository(services.session_factory)
    admin, _ = await desk.client_for("admin")
    form = {"title": "Salam", "body": "Selamat pagi {nama}, <b>ada</b> yang bisa dibantu?"}

    preview = await admin.post("/admin/canned/new", {**form, "action": "preview"})
    assert preview.status == 200
    assert "Selamat pagi Budi, &lt;b&gt;ada&lt;/b&gt;" in preview.text  # escaped
    assert canned.list() == []

    saved = await admin.post("/admin/canned/new", {**form, "action": "save"})
    assert saved.status == 303
    (response,) = canned.list()
    assert response.fill("Siti") == "Selamat pagi Siti, <b>ada</b> yang bisa dibantu?"
    assert "Selamat pagi Budi" in (await admin.get("/admin/canned")).text

    await admin.post(f"/admin/canned/{response.id}", {"title": "Salam pagi", "body": "Halo {nama}"})
    assert canned.get(response.id).title == "Salam pagi"
    empty = await admin.post(f"/admin/canned/{response.id}", {"title": "", "body": ""})
    assert empty.status == 400 and "Judul wajib diisi." in empty.text
    await admin.post(f"/admin/canned/{response.id}/delete")
    assert canned.list() == []


# -- office hours -----------------------------------------------------------------------------


async def test_office_hours_validation_error_is_shown(desk, services):
    admin, _ = await desk.client_for("admin")
    bad = VALID_HOURS.replace("07:30-15:00", "25:00-26:00")

    page = await admin.post("/admin/office-hours", {"office_hours": bad, "action": "save"})

    assert page.status == 400
    assert "Jam layanan tidak valid:" in page.text
    assert "bad time" in page.text and "weekly.senin-kamis" in page.text
    assert "office_hours_" not in page.text  # no temporary file name leaks
    assert "25:00-26:00" in page.text  # the admin's text is kept for correction
    assert DeskSettingRepository(services.session_factory).get(OFFICE_HOURS_KEY) is None


async def test_office_hours_saved_in_the_desk_win_over_the_file(desk, services):
    settings = services.settings
    file_hours = load_office_hours(settings.office_hours_file)
    assert effective_office_hours(settings, services.session_factory) == file_hours
    admin, _ = await desk.client_for("admin")

    page = await admin.post("/admin/office-hours", {"office_hours": VALID_HOURS, "action": "save"})

    assert page.status == 303
    shown = await admin.get("/admin/office-hours")
    assert "Senin-Kamis 07.30-15.00 WIB" in shown.text
    hours = effective_office_hours(settings, services.session_factory)
    assert hours.describe() == "Senin-Kamis 07.30-15.00 WIB, Jumat 07.30-11.00 WIB"
    assert hours.is_open(datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta")))

    await admin.post("/admin/office-hours", {"action": "reset"})
    assert effective_office_hours(settings, services.session_factory) == file_hours


def test_provider_caches_and_falls_back_on_a_broken_setting(services):
    provider = OfficeHoursProvider(services.settings, services.session_factory)
    store = DeskSettingRepository(services.session_factory)
    store.set(OFFICE_HOURS_KEY, VALID_HOURS)
    first = provider.snapshot()
    assert first.source == "desk"
    assert provider.snapshot() is first  # unchanged setting: no re-parse
    store.set(OFFICE_HOURS_KEY, "timezone: [")  # edited behind the desk's back
    fallback = provider.snapshot()
    assert fallback.source == "file"
    assert fallback.hours == load_office_hours(services.settings.office_hours_file)


def test_parse_office_hours_text_reports_the_field():
    with pytest.raises(OfficeHoursError, match=r"^timezone: unknown time zone"):
        parse_office_hours_text("timezone: Mars/Base\nweekly: {}\n")
    assert parse_office_hours_text(VALID_HOURS).zone_label == "WIB"


async def test_office_hours_page_shows_the_file_without_its_english_comments(desk, services):
    file_path = Path(services.settings.office_hours_file)
    file_text = file_path.read_text(encoding="utf-8")
    comments = [
        line.strip().lstrip("#").strip()
        for line in file_text.splitlines()
        if line.strip().startswith("#")
    ]
    prose = [comment for comment in comments if len(comment.split()) >= 4]
    assert prose  # the shipped file explains itself to operators, in English
    admin, _ = await desk.client_for("admin")

    page = await admin.get("/admin/office-hours")

    assert page.status == 200
    shown = editor_text(page.text)
    assert "#" not in shown
    assert not [comment for comment in prose if comment in html.unescape(page.text)]
    assert parse_office_hours_text(shown) == load_office_hours(file_path)  # same schedule
    assert "  - {date: 2026-12-25, name: Hari Raya Natal}" in shown.splitlines()  # layout kept
    # The page explains, in Indonesian and above the editor, the format and who wins.
    explanation = page.text[: page.text.index('<textarea id="office_hours"')]
    assert "menggantikan berkas konfigurasi" in explanation
    assert "Kembali ke berkas konfigurasi" in explanation
    for key in ("timezone", "weekly", "holidays", "special_days"):
        assert f"<code>{key}</code>" in explanation
    assert "Hari libur: kantor tutup sepanjang hari." in explanation
    assert "Tanggal dengan jam berbeda dari jadwal mingguan" in explanation


async def test_office_hours_summary_lists_special_days_and_upcoming_holidays(desk, services):
    admin, _ = await desk.client_for("admin")
    saved = await admin.post(
        "/admin/office-hours", {"office_hours": HOURS_WITH_DATES, "action": "save"}
    )
    assert saved.status == 303

    page = await admin.get("/admin/office-hours")

    summary = html.unescape(page.text[: page.text.index("Ubah jam layanan")])
    assert "Senin-Kamis 07.30-15.00 WIB, Jumat 07.30-11.00 WIB" in summary
    assert "Zona waktu: WIB (Asia/Jakarta)" in summary
    assert "Minggu, 17 Agustus 2098" in summary
    assert "Hari Kemerdekaan Republik Indonesia" in summary
    assert "Rabu, 31 Desember 2098" in summary
    assert "Layanan setengah hari akhir tahun" in summary and "08.00-12.00 WIB" in summary
    # A special day on a holiday: named as the holiday, with its own hours.
    assert "Kamis, 25 Desember 2098" in summary
    assert "Hari libur dengan jam khusus" in summary and "09.00-10.00 WIB" in summary
    assert "Tahun Baru 2020" not in summary  # past dates are not listed
    assert '<td data-label="Jam buka">tutup</td>' in page.text  # Saturday and Sunday
    # The admin's own text is shown as written.
    assert editor_text(page.text) == HOURS_WITH_DATES


async def test_office_hours_shown_file_text_can_be_saved_and_reset(desk, services):
    settings = services.settings
    store = DeskSettingRepository(services.session_factory)
    admin, _ = await desk.client_for("admin")
    shown = editor_text((await admin.get("/admin/office-hours")).text)
    own_text = shown.replace("version: 1", "version: 1  # catatan admin: cek ulang Januari")

    saved = await admin.post("/admin/office-hours", {"office_hours": own_text, "action": "save"})

    assert saved.status == 303 and saved.location == "/admin/office-hours"
    assert store.get(OFFICE_HOURS_KEY).value == own_text
    page = await admin.get("/admin/office-hours")
    assert "Jam layanan disimpan: Senin-Kamis 08.00-16.00 WITA" in page.text
    assert editor_text(page.text) == own_text  # the admin's comment stays
    assert 'value="reset"' in page.text
    assert effective_office_hours(settings, services.session_factory) == load_office_hours(
        settings.office_hours_file
    )

    reset = await admin.post("/admin/office-hours", {"action": "reset"})

    assert reset.status == 303
    assert store.get(OFFICE_HOURS_KEY) is None
    page = await admin.get("/admin/office-hours")
    assert "Jam layanan kembali mengikuti berkas konfigurasi." in page.text
    assert editor_text(page.text) == shown
    assert 'value="reset"' not in page.text


def test_summary_of_the_shipped_hours_at_the_end_of_2026(services):
    hours = load_office_hours(services.settings.office_hours_file)
    wita = ZoneInfo("Asia/Makassar")

    summary = summarise_office_hours(hours, datetime(2026, 12, 4, 10, 0, tzinfo=wita))

    assert summary.weekly == "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA"
    assert summary.days[4] == ("Jumat", "08.00-11.30") and summary.days[5] == ("Sabtu", "tutup")
    assert summary.zone == "WITA (Asia/Makassar)"
    assert summary.now == "Jumat, 4 Desember 2026 pukul 10.00 WITA"
    assert summary.status == "Buka sekarang, sampai Jumat, 4 Desember 2026 pukul 11.30 WITA."
    assert [(day.date, day.name, day.kind, day.hours) for day in summary.upcoming] == [
        (
            "Kamis, 24 Desember 2026",
            "Cuti Bersama Hari Raya Natal",
            "Hari libur",
            "Tutup sepanjang hari",
        ),
        ("Jumat, 25 Desember 2026", "Hari Raya Natal", "Hari libur", "Tutup sepanjang hari"),
    ]
    assert summary.more == 0
    assert "Hari libur hanya tercatat sampai 25 Desember 2026" in summary.warning

    christmas = summarise_office_hours(hours, datetime(2026, 12, 25, 10, 0, tzinfo=wita))
    assert christmas.status == (
        "Tutup sekarang (Hari Raya Natal); buka lagi Senin, 28 Desember 2026 pukul 08.00 WITA."
    )
    after = summarise_office_hours(hours, datetime(2027, 1, 4, 10, 0, tzinfo=wita))
    assert after.upcoming == () and "Belum ada hari libur yang tercatat" in after.warning


def test_summary_lists_a_limited_number_of_upcoming_dates(services):
    hours = load_office_hours(services.settings.office_hours_file)
    now = datetime(2026, 3, 17, 10, 0, tzinfo=ZoneInfo("Asia/Makassar"))

    summary = summarise_office_hours(hours, now)

    listed = hours.upcoming_days(date(2026, 3, 17))
    assert len(summary.upcoming) == UPCOMING_LIMIT < len(listed)
    assert summary.more == len(listed) - UPCOMING_LIMIT
    assert summary.upcoming[0].date == "Rabu, 18 Maret 2026"
    assert summary.upcoming[0].name == "Cuti Bersama Hari Suci Nyepi"
    assert summary.warning == ""
    with pytest.raises(ValueError, match="timezone-aware"):
        summarise_office_hours(hours, datetime(2026, 3, 17, 10, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# intro\n\nversion: 1  # trailing\n\n\n\nweekly: {}\n", "version: 1\n\nweekly: {}\n"),
        ("name: 'A # B'  # c\n", "name: 'A # B'\n"),
        ('name: "A \\" # B" # c\n', 'name: "A \\" # B"\n'),
        ("name: Jum'at libur # c\n", "name: Jum'at libur\n"),
        ("tag: a#b\n", "tag: a#b\n"),
        ("# only comments\n", ""),
        # Not YAML at all: only whole-line comments go; the admin sees the error elsewhere.
        ("# c\nweekly: [\n", "weekly: [\n"),
    ],
)
def test_strip_yaml_comments(text, expected):
    assert strip_yaml_comments(text) == expected


def test_strip_yaml_comments_dumps_the_data_when_the_line_scan_would_change_it():
    text = "note: |\n  # not a comment\nversion: 1 # c\n"
    stripped = strip_yaml_comments(text)
    assert yaml.safe_load(stripped) == {"note": "# not a comment\n", "version": 1}
    assert "# c" not in stripped

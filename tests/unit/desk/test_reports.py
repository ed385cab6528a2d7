"""The reports page: charts, the period form, the CSV export and who may see them."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk.desk import charts
from helpdesk.desk.views.reports import (
    MSG_BAD_DATE,
    MSG_REVERSED,
    MSG_TOO_LONG,
    ReportRange,
    build_tiles,
    format_duration_id,
    format_percent_id,
    parse_range,
    report_csv,
)
from helpdesk.reports.figures import collect_report
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import Conversation, CsatRating, DeskUser, Handoff, QuestionLog

SVG = "{http://www.w3.org/2000/svg}"
JAKARTA = ZoneInfo("Asia/Jakarta")


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


# -- charts ---------------------------------------------------------------------------------


def test_bar_chart_is_accessible_and_shows_values() -> None:
    svg = charts.bar_chart([("Nilai 5", 3), ("Nilai 4", 1.5)], title="Sebaran nilai")
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("aria-label") == "Sebaran nilai. Nilai 5: 3; Nilai 4: 1.5"
    assert root.findtext(f"{SVG}title") == "Sebaran nilai"
    assert {"Nilai 5", "3", "Nilai 4", "1.5"} <= set(_texts(root))
    # The largest value fills the bar's track; half of it, half.
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == charts.BLUE]
    widths = [float(r.get("width", "0")) for r in bars]
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1)
    assert "style=" not in svg and "<script" not in svg


def test_chart_text_is_escaped() -> None:
    evil = '<script>alert("x")</script> & "Budi"'
    for svg in (
        charts.bar_chart([(evil, 1)], title=evil),
        charts.column_chart([evil], [charts.Series(evil, [2])], title=evil),
        charts.donut_chart(0.5, title=evil, caption=evil),
    ):
        assert "<script>" not in svg
        assert "&lt;script&gt;" in svg
        root = _parse(svg)
        assert evil in root.get("aria-label", "")


def test_bar_chart_with_nothing_to_draw() -> None:
    empty = _parse(charts.bar_chart([], title="Per agen"))
    assert charts.NO_DATA in _texts(empty)
    zeros = _parse(charts.bar_chart([("Ani", 0)], title="Per agen"))
    assert all(float(r.get("width", "0")) >= 0 for r in zeros.iter(f"{SVG}rect"))
    assert "0" in _texts(zeros)


def test_column_chart_labels_values_and_legend() -> None:
    svg = charts.column_chart(
        ["13/4", "14/4"],
        [charts.Series("Percakapan", [5, 1]), charts.Series("Pengalihan", [4, 0], "#c2410c")],
        title="Per hari",
    )
    root = _parse(svg)
    texts = _texts(root)
    assert "Percakapan (6)" in texts and "Pengalihan (4)" in texts
    assert {"13/4", "14/4", "5", "1", "4", "0"} <= set(texts)
    assert (
        root.get("aria-label")
        == "Per hari. 13/4: Percakapan 5, Pengalihan 4; 14/4: Percakapan 1, Pengalihan 0"
    )
    tooltips = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert "14/4 \u2013 Percakapan: 1" in tooltips
    with pytest.raises(ValueError):
        charts.column_chart(["a"], [charts.Series("x", [1, 2])], title="t")


def test_column_chart_thins_labels_of_a_long_period() -> None:
    labels = [f"{d}/5" for d in range(1, 32)]
    root = _parse(charts.column_chart(labels, [charts.Series("P", [1] * 31)], title="Mei"))
    shown = [t for t in _texts(root) if t in labels]
    assert 8 <= len(shown) <= 11
    # Values are in the tooltips, not written over 31 columns.
    assert len([t for t in root.iter(f"{SVG}title")]) == 32


def test_donut_chart_share() -> None:
    root = _parse(charts.donut_chart(3 / 7, title="Bot", caption="tanpa pengalihan"))
    assert "42,9%" in _texts(root)
    share = [c for c in root.iter(f"{SVG}circle") if c.get("stroke") == charts.GREEN]
    assert share[0].get("stroke-dasharray") == "42.86 57.14"
    empty = _parse(charts.donut_chart(None, title="Bot", caption="tanpa pengalihan"))
    assert "-" in _texts(empty)
    assert not [c for c in empty.iter(f"{SVG}circle") if c.get("stroke") == charts.GREEN]


# -- the period form ------------------------------------------------------------------------

TODAY = date(2026, 4, 14)


@pytest.mark.parametrize(
    ("args", "expected", "error"),
    [
        ({}, ReportRange(date(2026, 4, 8), TODAY), None),
        (
            {"dari": "2026-04-01", "sampai": "2026-04-03"},
            ReportRange(date(2026, 4, 1), date(2026, 4, 3)),
            None,
        ),
        ({"dari": "2026-04-10"}, ReportRange(date(2026, 4, 10), TODAY), None),
        ({"sampai": "2026-04-03"}, ReportRange(date(2026, 3, 28), date(2026, 4, 3)), None),
        (
            {"dari": "2026-04-03", "sampai": "2026-04-03"},
            ReportRange(date(2026, 4, 3), date(2026, 4, 3)),
            None,
        ),
        ({"dari": "13-04-2026"}, ReportRange(date(2026, 4, 8), TODAY), MSG_BAD_DATE),
        ({"dari": "2026-02-30"}, ReportRange(date(2026, 4, 8), TODAY), MSG_BAD_DATE),
        ({"sampai": "kemarin"}, ReportRange(date(2026, 4, 8), TODAY), MSG_BAD_DATE),
        (
            {"dari": "2026-04-05", "sampai": "2026-04-01"},
            ReportRange(date(2026, 4, 8), TODAY),
            MSG_REVERSED,
        ),
        (
            {"dari": "2025-01-01", "sampai": "2026-04-01"},
            ReportRange(date(2026, 4, 8), TODAY),
            MSG_TOO_LONG,
        ),
    ],
)
def test_parse_range(args, expected, error) -> None:
    assert parse_range(args, TODAY) == (expected, error)


def test_range_bounds_are_midnights_in_the_helpdesk_zone() -> None:
    since, until = ReportRange(date(2026, 4, 13), date(2026, 4, 14)).bounds(JAKARTA)
    assert since == datetime(2026, 4, 12, 17, 0, tzinfo=timezone.utc)
    assert until == datetime(2026, 4, 14, 17, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 dtk"),
        (45.4, "45 dtk"),
        (200, "3 mnt 20 dtk"),
        (180, "3 mnt"),
        (3900, "1 jam 5 mnt"),
        (7200, "2 jam"),
        (183600, "2 hari 3 jam"),
    ],
)
def test_format_duration_id(seconds, text) -> None:
    assert format_duration_id(seconds) == text


def test_percent_uses_a_decimal_comma() -> None:
    assert format_percent_id(3 / 7) == "42,9%"
    assert format_percent_id(None) == "-"


# -- a seeded helpdesk ------------------------------------------------------------------------

T0 = datetime(2026, 4, 13, 1, 0, tzinfo=timezone.utc)  # 08:00 on 13 April in Jakarta


def seed_report_data(session_factory) -> None:
    """Two days in Jakarta: 3 conversations (one handed to Budi), ratings, questions."""
    with session_scope(session_factory) as s:
        s.add(
            DeskUser(
                id=901, username="budi-r", display_name="=Budi <b>", password_hash="x", role="agent"
            )
        )
        s.add(Conversation(sender_id="A", started_at=T0))
        s.add(Conversation(sender_id="B", started_at=T0 + timedelta(minutes=5)))
        # 18:30 UTC on 13 April is 01:30 on 14 April in Jakarta.
        s.add(
            Conversation(
                sender_id="C", started_at=datetime(2026, 4, 13, 18, 30, tzinfo=timezone.utc)
            )
        )
        created = T0 + timedelta(minutes=10)
        s.add(
            Handoff(
                id=1,
                sender_id="A",
                status="resolved",
                agent_id=901,
                created_at=created,
                assigned_at=created,
                first_response_at=created + timedelta(seconds=200),
                ended_at=created + timedelta(seconds=3900),
                updated_at=created,
            )
        )
        s.add(
            CsatRating(
                sender_id="A",
                rating=4,
                kind="agent",
                handoff_id=1,
                created_at=T0 + timedelta(hours=2),
            )
        )
        s.add(CsatRating(sender_id="B", rating=5, kind="faq", created_at=T0 + timedelta(minutes=6)))
        for question in ('=HYPERLINK("http://x")', "jam buka kppn", "Jam buka KPPN"):
            s.add(QuestionLog(sender_id="B", question=question, answered=False, created_at=T0))
        s.add(QuestionLog(sender_id="B", question="apa itu sp2d", answered=True, created_at=T0))


PERIOD = ReportRange(date(2026, 4, 13), date(2026, 4, 14))


def _sections(text: str) -> dict[str, list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    sections: dict[str, list[list[str]]] = {}
    current = "head"
    sections[current] = []
    fresh = False
    for row in rows:
        if not row:
            fresh = True
            continue
        if fresh:
            current, fresh = row[0], False
            sections[current] = []
            continue
        sections[current].append(row)
    return sections


def test_report_csv_sections(session_factory) -> None:
    seed_report_data(session_factory)
    since, until = PERIOD.bounds(JAKARTA)
    report = collect_report(session_factory, since=since, until=until, tz=JAKARTA)
    sections = _sections(report_csv(report, PERIOD))

    assert sections["head"] == [
        ["Laporan helpdesk"],
        ["Periode", "2026-04-13", "2026-04-14"],
        ["Zona waktu", "Asia/Jakarta"],
    ]
    summary = {row[0]: row[1:] for row in sections["Ringkasan"]}
    assert summary["Metrik"] == ["Nilai", "Satuan"]
    assert summary["Percakapan"] == ["3", "percakapan"]
    assert summary["Percakapan dengan pengalihan ke agen"] == ["1", "percakapan"]
    assert summary["Tingkat penyelesaian oleh bot"] == ["66.7", "persen"]
    assert summary["Waktu respons pertama, rata-rata"] == ["200", "detik"]
    assert summary["Waktu penyelesaian, median"] == ["3900", "detik"]
    assert summary["Pertanyaan FAQ tidak terjawab"] == ["3", "pertanyaan"]
    assert summary["Rata-rata kepuasan layanan agen"] == ["4.0", "skala 1-5"]
    assert sections["Status pengalihan"][0] == ["Status", "Jumlah"]
    assert ["Selesai", "1"] in sections["Status pengalihan"]
    assert sections["Sebaran nilai kepuasan"] == [
        ["Nilai", "FAQ", "Agen"],
        ["1", "0", "0"],
        ["2", "0", "0"],
        ["3", "0", "0"],
        ["4", "0", "1"],
        ["5", "1", "0"],
    ]
    # A name or question that starts like a formula is kept as text.
    assert sections["Per agen"][1] == ["'=Budi <b>", "1", "1", "200", "3900", "1", "4.0"]
    assert sections["Per hari"] == [
        ["Tanggal", "Percakapan", "Pengalihan", "FAQ terjawab", "FAQ tidak terjawab"],
        ["2026-04-13", "2", "1", "1", "3"],
        ["2026-04-14", "1", "0", "0", "0"],
    ]
    top = sections["Pertanyaan tidak terjawab teratas"]
    assert top[0] == ["Pertanyaan", "Jumlah"]
    assert top[1][1] == "2" and top[1][0].lower() == "jam buka kppn"
    assert top[2] == ['\'=HYPERLINK("http://x")', "1"]


def test_tiles_label_the_figures(session_factory) -> None:
    seed_report_data(session_factory)
    since, until = PERIOD.bounds(JAKARTA)
    tiles = {
        t["label"]: t
        for t in build_tiles(collect_report(session_factory, since=since, until=until, tz=JAKARTA))
    }
    assert tiles["Percakapan"]["value"] == "3"
    assert tiles["Tingkat penyelesaian oleh bot"]["value"] == "66,7%"
    assert tiles["Waktu respons pertama"]["value"] == "3 mnt 20 dtk"
    assert tiles["Waktu penyelesaian"]["value"] == "1 jam 5 mnt"
    assert tiles["Kepuasan layanan agen"]["value"] == "4,00"
    assert re.search(r"dari 1 penilaian", tiles["Kepuasan jawaban FAQ"]["note"])


# -- the pages ------------------------------------------------------------------------------


def _tile(html: str, label: str) -> str:
    match = re.search(
        rf'<span class="report-tile-label">{re.escape(label)}</span>\s*'
        r'<strong class="report-tile-value">([^<]*)</strong>',
        html,
    )
    assert match, f"no tile {label!r}"
    return match.group(1)


async def test_supervisor_sees_the_figures_of_the_period(desk, services) -> None:
    seed_report_data(services.session_factory)
    client, _ = await desk.client_for("supervisor")
    page = await client.get("/reports?dari=2026-04-13&sampai=2026-04-14")
    assert page.status == 200
    html = page.text
    assert _tile(html, "Percakapan") == "3"
    assert _tile(html, "Tingkat penyelesaian oleh bot") == "66,7%"
    assert _tile(html, "Waktu respons pertama") == "3 mnt 20 dtk"
    assert _tile(html, "Waktu penyelesaian") == "1 jam 5 mnt"
    assert 'value="2026-04-13"' in html and 'value="2026-04-14"' in html
    assert html.count("<svg") == 7
    assert 'href="/reports.csv?dari=2026-04-13&amp;sampai=2026-04-14"' in html
    # Names and questions are escaped, in the tables and in the charts.
    assert "=Budi <b>" not in html and "=Budi &lt;b&gt;" in html
    assert "3 mnt 20 dtk" in html.split("Kinerja agen", 1)[1]
    assert "Jam buka KPPN" in html or "jam buka kppn" in html
    assert "Mohon maaf" not in html


async def test_admin_sees_reports_too(desk) -> None:
    client, _ = await desk.client_for("admin")
    assert (await client.get("/reports")).status == 200
    assert (await client.get("/reports.csv")).status == 200


async def test_agents_and_strangers_are_kept_out(desk) -> None:
    agent, _ = await desk.client_for("agent")
    for path in ("/reports", "/reports.csv"):
        assert (await agent.get(path)).status == 403
    stranger = await desk.client()
    for path in ("/reports", "/reports.csv?dari=2026-04-13"):
        page = await stranger.get(path)
        assert page.status == 302
        assert (page.location or "").startswith("/login?next=")


async def test_invalid_dates_show_a_polite_message_and_the_last_7_days(desk, services) -> None:
    now = datetime.now(timezone.utc)
    with session_scope(services.session_factory) as s:
        s.add(Conversation(sender_id="today", started_at=now))
        s.add(Conversation(sender_id="long-ago", started_at=now - timedelta(days=8)))
    today = datetime.now(JAKARTA).date()
    client, _ = await desk.client_for("supervisor")

    page = await client.get("/reports?dari=13%2F04%2F2026&sampai=2026-04-14")
    assert page.status == 200
    assert MSG_BAD_DATE in page.text.replace("&#39;", "'")
    assert f'value="{(today - timedelta(days=6)).isoformat()}"' in page.text
    assert f'value="{today.isoformat()}"' in page.text
    assert _tile(page.text, "Percakapan") == "1"

    reversed_page = await client.get("/reports?dari=2026-04-14&sampai=2026-04-01")
    assert MSG_REVERSED in reversed_page.text

    default = await client.get("/reports")
    assert _tile(default.text, "Percakapan") == "1"
    assert "Mohon maaf" not in default.text


async def test_csv_download(desk, services) -> None:
    seed_report_data(services.session_factory)
    client, _ = await desk.client_for("supervisor")
    page = await client.get("/reports.csv?dari=2026-04-13&sampai=2026-04-14")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        page.headers["Content-Disposition"]
        == 'attachment; filename="laporan-2026-04-13_2026-04-14.csv"'
    )
    assert page.text.startswith("\ufeffLaporan helpdesk\r\n")
    sections = _sections(page.text.lstrip("\ufeff"))
    assert ["Percakapan", "3", "percakapan"] in sections["Ringkasan"]
    assert sections["Per hari"][1:] == [
        ["2026-04-13", "2", "1", "1", "3"],
        ["2026-04-14", "1", "0", "0", "0"],
    ]

    fallback = await client.get("/reports.csv?dari=salah")
    today = datetime.now(JAKARTA).date()
    first = (today - timedelta(days=6)).isoformat()
    assert (
        f'filename="laporan-{first}_{today.isoformat()}.csv"'
        in fallback.headers["Content-Disposition"]
    )

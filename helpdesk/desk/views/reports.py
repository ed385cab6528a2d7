"""Reports for supervisors: `/reports` (figures, charts, tables) and `/reports.csv`.

Both take the period as GET `dari` and `sampai` (YYYY-MM-DD, days in the helpdesk time zone,
both inclusive); without them, or when they are not valid, the last 7 days up to today.
The figures are those of `helpdesk.reports.report.collect_report` (see there what each one means).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Mapping
from urllib.parse import urlencode

from markupsafe import Markup
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk import charts
from helpdesk.desk.auth import SUPERVISOR_ROLES, login_required, render
from helpdesk.reports.report import CSAT_SCALE, collect_report, export_text, split_duration

bp = Blueprint("reports")

#: Days shown when no (valid) period is asked for: today and the 6 days before.
DEFAULT_DAYS = 7
#: The longest period one report covers, in days.
MAX_RANGE_DAYS = 366
#: How many unanswered questions the report lists.
TOP_UNANSWERED = 20

MSG_BAD_DATE = (
    "Mohon maaf, tanggal harus ditulis dengan format TTTT-BB-HH (contoh: 2026-04-13). "
    "Laporan di bawah menampilkan 7 hari terakhir."
)
MSG_REVERSED = (
    "Mohon maaf, tanggal awal tidak boleh setelah tanggal akhir. "
    "Laporan di bawah menampilkan 7 hari terakhir."
)
MSG_TOO_LONG = (
    f"Mohon maaf, rentang laporan paling panjang {MAX_RANGE_DAYS} hari. "
    "Laporan di bawah menampilkan 7 hari terakhir."
)

#: Handoff statuses as the desk names them.
STATUS_LABELS = {
    "waiting": "Menunggu di antrean",
    "assigned": "Ditangani agen",
    "resolved": "Selesai",
    "cancelled": "Dibatalkan warga",
    "expired": "Kedaluwarsa (jadi tiket)",
}


@dataclass(frozen=True)
class ReportRange:
    """A period of whole days in the helpdesk time zone, both ends inclusive."""

    first: date
    last: date

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """`[since, until)`: midnight of the first day to midnight after the last, in `tz`."""
        since = datetime.combine(self.first, time(), tzinfo=tz)
        until = datetime.combine(self.last + timedelta(days=1), time(), tzinfo=tz)
        return since, until

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def query(self) -> str:
        """The query string asking for this period again."""
        return urlencode({"dari": self.first.isoformat(), "sampai": self.last.isoformat()})


def default_range(today: date) -> ReportRange:
    """The last `DEFAULT_DAYS` days, today included."""
    return ReportRange(today - timedelta(days=DEFAULT_DAYS - 1), today)


def parse_range(args: Mapping[str, str | None], today: date) -> tuple[ReportRange, str | None]:
    """The period asked for in `dari`/`sampai`, or the default one and why.

    Only `dari` given: from it to today (or to itself, when it lies in the future). Only
    `sampai` given: the `DEFAULT_DAYS` days up to it.

    Args:
        args: The query parameters (`dari`, `sampai`: YYYY-MM-DD or empty).
        today: Today in the helpdesk time zone.

    Returns:
        (period, None), or (the default period, a polite Indonesian message) when the dates
        are not valid, reversed or too far apart.
    """
    raw_first = (args.get("dari") or "").strip()
    raw_last = (args.get("sampai") or "").strip()
    if not raw_first and not raw_last:
        return default_range(today), None
    try:
        first = date.fromisoformat(raw_first) if raw_first else None
        last = date.fromisoformat(raw_last) if raw_last else None
    except ValueError:
        return default_range(today), MSG_BAD_DATE
    if len(raw_first) not in (0, 10) or len(raw_last) not in (0, 10):
        return default_range(today), MSG_BAD_DATE
    if first is None and last is not None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if last is None and first is not None:
        last = max(first, today)
    assert first is not None and last is not None
    if first > last:
        return default_range(today), MSG_REVERSED
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        return default_range(today), MSG_TOO_LONG
    return ReportRange(first, last), None


def format_duration_id(seconds: float | None) -> str:
    """A duration the Indonesian way, e.g. "45 dtk", "3 mnt 20 dtk", "1 jam 5 mnt"; "-"."""
    if seconds is None:
        return "-"
    days, hours, minutes, secs = split_duration(seconds)
    if days:
        return f"{days} hari {hours} jam" if hours else f"{days} hari"
    if hours:
        return f"{hours} jam {minutes} mnt" if minutes else f"{hours} jam"
    if minutes:
        return f"{minutes} mnt {secs} dtk" if secs else f"{minutes} mnt"
    return f"{secs} dtk"


def format_decimal_id(value: float | None, places: int = 2) -> str:
    """A number with a decimal comma, e.g. 4,33; "-" for None."""
    if value is None:
        return "-"
    return f"{value:.{places}f}".replace(".", ",")


def format_percent_id(fraction: float | None) -> str:
    """A fraction as a percentage with a decimal comma, e.g. 42,9%; "-" for None."""
    if fraction is None:
        return "-"
    return f"{format_decimal_id(fraction * 100, 1)}%"


def _day_label(iso_day: str) -> str:
    day = date.fromisoformat(iso_day)
    return f"{day.day}/{day.month}"


def _today(tz: tzinfo) -> date:
    return datetime.now(tz).date()


async def _load_report(request: Request, period: ReportRange) -> dict[str, Any]:
    services = request.app.ctx.services
    tz = services.settings.tz
    since, until = period.bounds(tz)
    work = functools.partial(
        collect_report,
        services.session_factory,
        since=since,
        until=until,
        top=TOP_UNANSWERED,
        tz=tz,
    )
    return await asyncio.get_running_loop().run_in_executor(None, work)


def build_tiles(report: dict[str, Any]) -> list[dict[str, str]]:
    """The headline figures as labelled tiles: {"label", "value", "note"}."""
    return [
        {
            "label": "Percakapan",
            "value": str(report["conversations"]),
            "note": "sesi percakapan yang dimulai",
        },
        {
            "label": "Tingkat penyelesaian oleh bot",
            "value": format_percent_id(report["containment_rate"]),
            "note": "percakapan tanpa pengalihan ke agen",
        },
        {
            "label": "Pengalihan ke agen",
            "value": str(report["handoffs"]),
            "note": f"{report['conversations_with_handoff']} percakapan dialihkan",
        },
        {
            "label": "Waktu respons pertama",
            "value": format_duration_id(report["first_response_avg_seconds"]),
            "note": (
                f"rata-rata; median {format_duration_id(report['first_response_median_seconds'])}"
                f" ({report['first_response_count']} pengalihan)"
            ),
        },
        {
            "label": "Waktu penyelesaian",
            "value": format_duration_id(report["resolution_avg_seconds"]),
            "note": (
                f"rata-rata; median {format_duration_id(report['resolution_median_seconds'])}"
                f" ({report['resolution_count']} selesai)"
            ),
        },
        {
            "label": "Pertanyaan FAQ terjawab",
            "value": str(report["faq_answered"]),
            "note": f"{report['faq_unanswered']} tidak terjawab",
        },
        {
            "label": "Tiket dibuat",
            "value": str(report["tickets_created"]),
            "note": "tiket baru pada periode ini",
        },
        {
            "label": "Kepuasan jawaban FAQ",
            "value": format_decimal_id(report["csat_average"]),
            "note": f"skala 1-5, dari {report['csat_count']} penilaian",
        },
        {
            "label": "Kepuasan layanan agen",
            "value": format_decimal_id(report["agent_csat_average"]),
            "note": f"skala 1-5, dari {report['agent_csat_count']} penilaian",
        },
    ]


def build_charts(report: dict[str, Any]) -> dict[str, Markup]:
    """The report's charts as inline SVG, safe to put in a template."""
    daily = report["daily"]
    days = [_day_label(d["date"]) for d in daily]
    distribution = report["csat_distribution"]

    def csat(kind: str, color: str, title: str) -> str:
        rows = [(f"Nilai {r}", float(distribution[kind][str(r)])) for r in reversed(CSAT_SCALE)]
        return charts.bar_chart(rows, title=title, color=color)

    built = {
        "containment": charts.donut_chart(
            report["containment_rate"],
            title="Tingkat penyelesaian oleh bot",
            caption="tanpa pengalihan ke agen",
        ),
        "status": charts.bar_chart(
            [
                (label, float(report["handoff_status"].get(status, 0)))
                for status, label in STATUS_LABELS.items()
            ],
            title="Pengalihan ke agen menurut status",
            color=charts.ORANGE,
        ),
        "csat_faq": csat("faq", charts.BLUE, "Sebaran nilai kepuasan jawaban FAQ"),
        "csat_agent": csat("agent", charts.GREEN, "Sebaran nilai kepuasan layanan agen"),
        "agents": charts.bar_chart(
            [(str(a["name"]), float(a["assigned"])) for a in report["agents"]],
            title="Percakapan yang ditangani per agen",
        ),
        "daily_conversations": charts.column_chart(
            days,
            [
                charts.Series("Percakapan", [d["conversations"] for d in daily], charts.BLUE),
                charts.Series("Pengalihan", [d["handoffs"] for d in daily], charts.ORANGE),
            ],
            title="Percakapan dan pengalihan per hari",
        ),
        "daily_faq": charts.column_chart(
            days,
            [
                charts.Series("Terjawab", [d["faq_answered"] for d in daily], charts.GREEN),
                charts.Series("Tidak terjawab", [d["faq_unanswered"] for d in daily], "#b91c1c"),
            ],
            title="Pertanyaan FAQ terjawab dan tidak terjawab per hari",
        ),
    }
    # The chart functions escape every text they are given.
    return {name: Markup(svg) for name, svg in built.items()}  # noqa: S704


@bp.get("/reports", name="reports_page")
@login_required(*SUPERVISOR_ROLES)
async def reports_page(request: Request) -> HTTPResponse:
    """The reports page for the period asked for (default: the last 7 days)."""
    tz = request.app.ctx.services.settings.tz
    period, error = parse_range(request.args, _today(tz))
    report = await _load_report(request, period)
    return render(
        request,
        "reports_index.html",
        period=period,
        error=error,
        report=report,
        tiles=build_tiles(report),
        charts=build_charts(report),
        status_labels=STATUS_LABELS,
        csv_url=f"/reports.csv?{period.query}",
        duration=format_duration_id,
        decimal=format_decimal_id,
        timezone_name=str(tz),
    )


# -- CSV ------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell: text without control characters (`helpdesk.reports.report.export_text`: a NUL in
    a citizen's question made the export fail), quoted with "'" when a spreadsheet would run
    it as a formula."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = export_text(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def _seconds(value: float | None) -> Any:
    return "" if value is None else int(round(value))


def report_csv(report: dict[str, Any], period: ReportRange) -> str:
    """The report as CSV text in sections (the BOM is added by the caller).

    Layout: a title row and a period row, then sections separated by an empty row, each
    made of a section-name row, a header row and data rows: "Ringkasan" (one row per
    figure: Metrik, Nilai, Satuan), "Status pengalihan", "Sebaran nilai kepuasan" (Nilai,
    FAQ, Agen), "Per agen", "Per hari" and "Pertanyaan tidak terjawab teratas". Numbers are
    plain (times in whole seconds, rates in percent, decimal point "."), empty when there
    is no data.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rate = report["containment_rate"]
    writer.writerow(["Laporan helpdesk"])
    writer.writerow(["Periode", period.first.isoformat(), period.last.isoformat()])
    writer.writerow(["Zona waktu", report.get("timezone") or ""])

    writer.writerow([])
    writer.writerow(["Ringkasan"])
    writer.writerow(["Metrik", "Nilai", "Satuan"])
    summary = [
        ("Percakapan", report["conversations"], "percakapan"),
        (
            "Percakapan dengan pengalihan ke agen",
            report["conversations_with_handoff"],
            "percakapan",
        ),
        (
            "Tingkat penyelesaian oleh bot",
            "" if rate is None else round(rate * 100, 1),
            "persen",
        ),
        ("Pertanyaan FAQ terjawab", report["faq_answered"], "pertanyaan"),
        ("Pertanyaan FAQ tidak terjawab", report["faq_unanswered"], "pertanyaan"),
        ("Tiket dibuat", report["tickets_created"], "tiket"),
        ("Pengalihan ke agen", report["handoffs"], "pengalihan"),
        (
            "Waktu respons pertama, rata-rata",
            _seconds(report["first_response_avg_seconds"]),
            "detik",
        ),
        (
            "Waktu respons pertama, median",
            _seconds(report["first_response_median_seconds"]),
            "detik",
        ),
        ("Waktu penyelesaian, rata-rata", _seconds(report["resolution_avg_seconds"]), "detik"),
        ("Waktu penyelesaian, median", _seconds(report["resolution_median_seconds"]), "detik"),
        ("Penilaian jawaban FAQ", report["csat_count"], "penilaian"),
        ("Rata-rata kepuasan jawaban FAQ", _cell(report["csat_average"]), "skala 1-5"),
        ("Penilaian layanan agen", report["agent_csat_count"], "penilaian"),
        ("Rata-rata kepuasan layanan agen", _cell(report["agent_csat_average"]), "skala 1-5"),
    ]
    writer.writerows(summary)

    writer.writerow([])
    writer.writerow(["Status pengalihan"])
    writer.writerow(["Status", "Jumlah"])
    for status, label in STATUS_LABELS.items():
        writer.writerow([label, report["handoff_status"].get(status, 0)])

    writer.writerow([])
    writer.writerow(["Sebaran nilai kepuasan"])
    writer.writerow(["Nilai", "FAQ", "Agen"])
    distribution = report["csat_distribution"]
    for rating in CSAT_SCALE:
        key = str(rating)
        writer.writerow([rating, distribution["faq"][key], distribution["agent"][key]])

    writer.writerow([])
    writer.writerow(["Per agen"])
    writer.writerow(
        [
            "Agen",
            "Ditangani",
            "Diselesaikan",
            "Rata-rata respons pertama (detik)",
            "Rata-rata penyelesaian (detik)",
            "Jumlah penilaian",
            "Rata-rata penilaian",
        ]
    )
    for agent in report["agents"]:
        writer.writerow(
            [
                _cell(agent["name"]),
                agent["assigned"],
                agent["resolved"],
                _seconds(agent["first_response_avg_seconds"]),
                _seconds(agent["resolution_avg_seconds"]),
                agent["csat_count"],
                _cell(agent["csat_average"]),
            ]
        )

    writer.writerow([])
    writer.writerow(["Per hari"])
    writer.writerow(["Tanggal", "Percakapan", "Pengalihan", "FAQ terjawab", "FAQ tidak terjawab"])
    for day in report["daily"]:
        writer.writerow(
            [
                day["date"],
                day["conversations"],
                day["handoffs"],
                day["faq_answered"],
                day["faq_unanswered"],
            ]
        )

    writer.writerow([])
    writer.writerow(["Pertanyaan tidak terjawab teratas"])
    writer.writerow(["Pertanyaan", "Jumlah"])
    for item in report["top_unanswered"]:
        writer.writerow([_cell(item["question"]), item["count"]])
    return out.getvalue()


@bp.get("/reports.csv", name="reports_csv")
@login_required(*SUPERVISOR_ROLES)
async def reports_csv(request: Request) -> HTTPResponse:
    """The report of the period as a CSV download (UTF-8 with BOM, for Excel).

    An invalid period falls back to the default one, as on the page; the file name says
    which period it holds: `laporan-YYYY-MM-DD_YYYY-MM-DD.csv`.
    """
    tz = request.app.ctx.services.settings.tz
    period, _error = parse_range(request.args, _today(tz))
    report = await _load_report(request, period)
    body = "\ufeff" + report_csv(report, period)
    filename = f"laporan-{period.first.isoformat()}_{period.last.isoformat()}.csv"
    return response.raw(
        body.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

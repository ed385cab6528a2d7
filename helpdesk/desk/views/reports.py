"""Reports for supervisors: `/reports` (figures, charts, tables) and `/reports.csv`.

Both take the period as GET `dari` and `sampai` (YYYY-MM-DD, days in the helpdesk time zone,
both inclusive); without them, or when they are not valid, the last 7 days up to today.
The figures are `helpdesk.reports.records.ReportFigures` (see
`helpdesk.reports.figures.collect_figures` for what each one means); the CSV is
`helpdesk.reports.csv_export`.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Mapping
from urllib.parse import urlencode

from markupsafe import Markup
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk import charts
from helpdesk.desk.auth import SUPERVISOR_ROLES, login_required, render
from helpdesk.reports.csv_export import STATUS_LABELS, figures_csv
from helpdesk.reports.figures import collect_figures
from helpdesk.reports.records import CSAT_SCALE, ReportFigures, as_figures
from helpdesk.reports.text import split_duration

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


async def _load_report(request: Request, period: ReportRange) -> ReportFigures:
    services = request.app.ctx.services
    tz = services.settings.tz
    since, until = period.bounds(tz)
    work = functools.partial(
        collect_figures,
        services.session_factory,
        since=since,
        until=until,
        top=TOP_UNANSWERED,
        tz=tz,
    )
    return await asyncio.get_running_loop().run_in_executor(None, work)


def build_tiles(report: ReportFigures | Mapping[str, Any]) -> list[dict[str, str]]:
    """The headline figures as labelled tiles: {"label", "value", "note"}."""
    figures = as_figures(report)
    return [
        {
            "label": "Percakapan",
            "value": str(figures.conversations),
            "note": "sesi percakapan yang dimulai",
        },
        {
            "label": "Tingkat penyelesaian oleh bot",
            "value": format_percent_id(figures.containment_rate),
            "note": "percakapan tanpa pengalihan ke agen",
        },
        {
            "label": "Pengalihan ke agen",
            "value": str(figures.handoffs),
            "note": f"{figures.conversations_with_handoff} percakapan dialihkan",
        },
        {
            "label": "Waktu respons pertama",
            "value": format_duration_id(figures.first_response_avg_seconds),
            "note": (
                f"rata-rata; median {format_duration_id(figures.first_response_median_seconds)}"
                f" ({figures.first_response_count} pengalihan)"
            ),
        },
        {
            "label": "Waktu penyelesaian",
            "value": format_duration_id(figures.resolution_avg_seconds),
            "note": (
                f"rata-rata; median {format_duration_id(figures.resolution_median_seconds)}"
                f" ({figures.resolution_count} selesai)"
            ),
        },
        {
            "label": "Pertanyaan FAQ terjawab",
            "value": str(figures.faq_answered),
            "note": f"{figures.faq_unanswered} tidak terjawab",
        },
        {
            "label": "Tiket dibuat",
            "value": str(figures.tickets_created),
            "note": "tiket baru pada periode ini",
        },
        {
            "label": "Kepuasan jawaban FAQ",
            "value": format_decimal_id(figures.csat_average),
            "note": f"skala 1-5, dari {figures.csat_count} penilaian",
        },
        {
            "label": "Kepuasan layanan agen",
            "value": format_decimal_id(figures.agent_csat_average),
            "note": f"skala 1-5, dari {figures.agent_csat_count} penilaian",
        },
    ]


def build_charts(report: ReportFigures | Mapping[str, Any]) -> dict[str, Markup]:
    """The report's charts as inline SVG, safe to put in a template."""
    figures = as_figures(report)
    daily = figures.daily
    days = [_day_label(d.date) for d in daily]
    distribution = figures.csat_distribution

    def csat(kind: str, color: str, title: str) -> str:
        rows = [(f"Nilai {r}", float(distribution[kind][str(r)])) for r in reversed(CSAT_SCALE)]
        return charts.bar_chart(rows, title=title, color=color)

    built = {
        "containment": charts.donut_chart(
            figures.containment_rate,
            title="Tingkat penyelesaian oleh bot",
            caption="tanpa pengalihan ke agen",
        ),
        "status": charts.bar_chart(
            [
                (label, float(figures.handoff_status.get(status, 0)))
                for status, label in STATUS_LABELS.items()
            ],
            title="Pengalihan ke agen menurut status",
            color=charts.ORANGE,
        ),
        "csat_faq": csat("faq", charts.BLUE, "Sebaran nilai kepuasan jawaban FAQ"),
        "csat_agent": csat("agent", charts.GREEN, "Sebaran nilai kepuasan layanan agen"),
        "agents": charts.bar_chart(
            [(a.name, float(a.assigned)) for a in figures.agents],
            title="Percakapan yang ditangani per agen",
        ),
        "daily_conversations": charts.column_chart(
            days,
            [
                charts.Series("Percakapan", [d.conversations for d in daily], charts.BLUE),
                charts.Series("Pengalihan", [d.handoffs for d in daily], charts.ORANGE),
            ],
            title="Percakapan dan pengalihan per hari",
        ),
        "daily_faq": charts.column_chart(
            days,
            [
                charts.Series("Terjawab", [d.faq_answered for d in daily], charts.GREEN),
                charts.Series("Tidak terjawab", [d.faq_unanswered for d in daily], "#b91c1c"),
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


def report_csv(report: ReportFigures | Mapping[str, Any], period: ReportRange) -> str:
    """The report as CSV text in sections (`helpdesk.reports.csv_export.figures_csv`) for the
    period's days; the BOM is added by the caller."""
    return figures_csv(as_figures(report), period.first, period.last)


@bp.get("/reports.csv", name="reports_csv")
@login_required(*SUPERVISOR_ROLES, scope="reports:read")
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

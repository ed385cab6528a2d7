"""The report as a CSV file (the desk's "Unduh CSV"), and text made safe for export cells."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

from helpdesk.reports.records import CSAT_SCALE, ReportFigures

#: What a text cell of an export may not hold: control characters other than tab, line feed
#: and carriage return (a NUL stops Python's csv writer: "need to escape"), and lone UTF-16
#: surrogates (no UTF-8 encoder takes one).
_UNSAFE_CELL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

#: The first characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Handoff statuses as the desk names them (the reports page and the CSV).
STATUS_LABELS = {
    "waiting": "Menunggu di antrean",
    "assigned": "Ditangani agen",
    "resolved": "Selesai",
    "cancelled": "Dibatalkan warga",
    "expired": "Kedaluwarsa (jadi tiket)",
}


def export_text(text: str) -> str:
    """A stored text (a citizen's question, a name) made safe for a CSV or spreadsheet cell.

    Control characters other than tab and line breaks are dropped and lone surrogates become
    U+FFFD; the text is otherwise unchanged (quoting formulas is the writer's job).
    """
    if not _UNSAFE_CELL_CHARACTERS.search(text):
        return text
    return _UNSAFE_CELL_CHARACTERS.sub(
        lambda match: "\ufffd" if "\ud800" <= match.group() <= "\udfff" else "", text
    )


def csv_cell(value: Any) -> Any:
    """A CSV cell: text without control characters (`export_text`: a NUL in a citizen's
    question made the export fail), quoted with "'" when a spreadsheet would run it as a
    formula; None is an empty cell, numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = export_text(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def _seconds(value: float | None) -> Any:
    return "" if value is None else int(round(value))


def figures_csv(figures: ReportFigures, first: date, last: date) -> str:
    """The report of the days `first` to `last` as CSV text in sections (without a BOM).

    Layout: a title row and a period row, then sections separated by an empty row, each
    made of a section-name row, a header row and data rows: "Ringkasan" (one row per
    figure: Metrik, Nilai, Satuan), "Status pengalihan", "Sebaran nilai kepuasan" (Nilai,
    FAQ, Agen), "Per agen", "Per hari" and "Pertanyaan tidak terjawab teratas". Numbers are
    plain (times in whole seconds, rates in percent, decimal point "."), empty when there
    is no data.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rate = figures.containment_rate
    writer.writerow(["Laporan helpdesk"])
    writer.writerow(["Periode", first.isoformat(), last.isoformat()])
    writer.writerow(["Zona waktu", figures.timezone or ""])

    writer.writerow([])
    writer.writerow(["Ringkasan"])
    writer.writerow(["Metrik", "Nilai", "Satuan"])
    summary = [
        ("Percakapan", figures.conversations, "percakapan"),
        (
            "Percakapan dengan pengalihan ke agen",
            figures.conversations_with_handoff,
            "percakapan",
        ),
        (
            "Tingkat penyelesaian oleh bot",
            "" if rate is None else round(rate * 100, 1),
            "persen",
        ),
        ("Pertanyaan FAQ terjawab", figures.faq_answered, "pertanyaan"),
        ("Pertanyaan FAQ tidak terjawab", figures.faq_unanswered, "pertanyaan"),
        ("Tiket dibuat", figures.tickets_created, "tiket"),
        ("Pengalihan ke agen", figures.handoffs, "pengalihan"),
        (
            "Waktu respons pertama, rata-rata",
            _seconds(figures.first_response_avg_seconds),
            "detik",
        ),
        (
            "Waktu respons pertama, median",
            _seconds(figures.first_response_median_seconds),
            "detik",
        ),
        ("Waktu penyelesaian, rata-rata", _seconds(figures.resolution_avg_seconds), "detik"),
        ("Waktu penyelesaian, median", _seconds(figures.resolution_median_seconds), "detik"),
        ("Penilaian jawaban FAQ", figures.csat_count, "penilaian"),
        ("Rata-rata kepuasan jawaban FAQ", csv_cell(figures.csat_average), "skala 1-5"),
        ("Penilaian layanan agen", figures.agent_csat_count, "penilaian"),
        ("Rata-rata kepuasan layanan agen", csv_cell(figures.agent_csat_average), "skala 1-5"),
    ]
    writer.writerows(summary)

    writer.writerow([])
    writer.writerow(["Status pengalihan"])
    writer.writerow(["Status", "Jumlah"])
    for status, label in STATUS_LABELS.items():
        writer.writerow([label, figures.handoff_status.get(status, 0)])

    writer.writerow([])
    writer.writerow(["Sebaran nilai kepuasan"])
    writer.writerow(["Nilai", "FAQ", "Agen"])
    distribution = figures.csat_distribution
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
    for agent in figures.agents:
        writer.writerow(
            [
                csv_cell(agent.name),
                agent.assigned,
                agent.resolved,
                _seconds(agent.first_response_avg_seconds),
                _seconds(agent.resolution_avg_seconds),
                agent.csat_count,
                csv_cell(agent.csat_average),
            ]
        )

    writer.writerow([])
    writer.writerow(["Per hari"])
    writer.writerow(["Tanggal", "Percakapan", "Pengalihan", "FAQ terjawab", "FAQ tidak terjawab"])
    for day in figures.daily:
        writer.writerow(
            [day.date, day.conversations, day.handoffs, day.faq_answered, day.faq_unanswered]
        )

    writer.writerow([])
    writer.writerow(["Pertanyaan tidak terjawab teratas"])
    writer.writerow(["Pertanyaan", "Jumlah"])
    for item in figures.top_unanswered:
        writer.writerow([csv_cell(item.question), item.count])
    return out.getvalue()

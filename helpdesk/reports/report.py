"""The reports' former single module, kept as an import path: `collect_report` (the figures as
the JSON-ready dict of `helpdesk report --json`) and `export_text` are imported from here by
existing callers and tests.

The reports now live in `figures` (typed records, `collect_figures`), `text` (the
plain-text tables), `csv_export` (the CSV) and `cli` (`helpdesk report`).
"""

from __future__ import annotations

from helpdesk.reports.csv_export import export_text
from helpdesk.reports.figures import collect_report

__all__ = ["collect_report", "export_text"]

"""`helpdesk report [--json] [--since DATE] [--until DATE]`: the figures on the terminal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from helpdesk.reports.figures import collect_figures
from helpdesk.reports.text import format_report


def parse_day(text: str, tz: Any, *, end: bool) -> datetime:
    """Parse YYYY-MM-DD as the start (or, with `end`, the end) of that day in `tz`."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"date {text!r} is not in the form YYYY-MM-DD") from exc
    return day + timedelta(days=1) if end else day


def _cmd_report(args: Any) -> int:
    """`helpdesk report [--json] [--since DATE] [--until DATE]`."""
    from helpdesk.services import Services
    from helpdesk.settings import Settings

    services = Services(Settings.from_env())
    tz = services.settings.tz
    since = parse_day(args.since, tz, end=False) if args.since else None
    until = parse_day(args.until, tz, end=True) if args.until else None
    figures = collect_figures(services.session_factory, since=since, until=until, tz=tz)
    if args.json:
        print(json.dumps(figures.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print(format_report(figures))
    return 0


def add_report_parser(subparsers: Any) -> None:
    """Add `helpdesk report` to the `helpdesk` command (see helpdesk.cli)."""
    parser = subparsers.add_parser(
        "report", help="operational figures: conversations, FAQ, tickets, handoffs, CSAT"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day (helpdesk time zone)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last day, inclusive")
    parser.set_defaults(func=_cmd_report)

"""Operational figures for supervisors: `helpdesk report [--json]`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.storage.db import session_scope
from helpdesk.storage.models import Conversation, CsatRating, Handoff, QuestionLog, Ticket
from helpdesk.storage.repositories import QuestionLogRepository

#: Report keys in display order, with their operator-facing labels.
REPORT_LABELS = {
    "conversations": "Conversations",
    "faq_answered": "FAQ questions answered",
    "faq_unanswered": "FAQ questions unanswered",
    "tickets_created": "Tickets created",
    "handoffs": "Handoffs to an agent",
    "csat_count": "FAQ ratings",
    "csat_average": "FAQ rating average (1-5)",
    "agent_csat_count": "Agent ratings",
    "agent_csat_average": "Agent rating average (1-5)",
}


def _window(stmt: Any, column: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column < until)
    return stmt


def collect_report(
    session_factory: Callable[[], Session],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """The operational figures over `[since, until)` (all time by default).

    Args:
        session_factory: Sessions of the helpdesk store.
        since: Start of the period, timezone-aware, inclusive.
        until: End of the period, timezone-aware, exclusive.
        top: How many unanswered questions to list.

    Returns:
        A JSON-ready dict: conversations, faq_answered, faq_unanswered, tickets_created,
        handoffs, csat_count, csat_average (FAQ ratings; None without ratings),
        agent_csat_count, agent_csat_average, top_unanswered ([{"question", "count"}]),
        and since/until as ISO strings (or None).
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")

    def count(session: Session, model: Any, column: Any, *conditions: Any) -> int:
        stmt = _window(select(func.count()).select_from(model), column, since, until)
        for condition in conditions:
            stmt = stmt.where(condition)
        return int(session.execute(stmt).scalar_one())

    def ratings(session: Session, kind: str) -> tuple[int, float | None]:
        stmt = _window(
            select(func.count(CsatRating.id), func.avg(CsatRating.rating)).where(
                CsatRating.kind == kind
            ),
            CsatRating.created_at,
            since,
            until,
        )
        n, average = session.execute(stmt).one()
        return int(n), (round(float(average), 2) if n else None)

    with session_scope(session_factory) as session:
        conversations = count(session, Conversation, Conversation.started_at)
        answered = count(
            session, QuestionLog, QuestionLog.created_at, QuestionLog.answered.is_(True)
        )
        unanswered = count(
            session, QuestionLog, QuestionLog.created_at, QuestionLog.answered.is_(False)
        )
        tickets = count(session, Ticket, Ticket.created_at)
        handoffs = count(session, Handoff, Handoff.created_at)
        csat_count, csat_average = ratings(session, "faq")
        agent_count, agent_average = ratings(session, "agent")

    top_unanswered = QuestionLogRepository(session_factory).top_unanswered(
        top, since=since, until=until
    )
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "conversations": conversations,
        "faq_answered": answered,
        "faq_unanswered": unanswered,
        "tickets_created": tickets,
        "handoffs": handoffs,
        "csat_count": csat_count,
        "csat_average": csat_average,
        "agent_csat_count": agent_count,
        "agent_csat_average": agent_average,
        "top_unanswered": [{"question": q, "count": n} for q, n in top_unanswered],
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table for operators."""
    period = f"{report.get('since') or 'beginning'} .. {report.get('until') or 'now'}"
    rows = [(label, report.get(key)) for key, label in REPORT_LABELS.items()]
    width = max(len(label) for label, _ in rows)

    def show(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    lines = ["Helpdesk report", f"Period: {period}", ""]
    lines += [f"{label.ljust(width)}  {show(value):>8}" for label, value in rows]
    lines += ["", "Top unanswered questions"]
    top = report.get("top_unanswered") or []
    if not top:
        lines.append("  (none)")
    for i, item in enumerate(top, 1):
        lines.append(f"{i:>3}. [{item['count']:>3}x] {item['question']}")
    return "\n".join(lines) + "\n"


def _parse_date(text: str, tz: Any, *, end: bool) -> datetime:
    """Parse YYYY-MM-DD as the start (or, with `end`, the end) of that day in `tz`."""
    from datetime import timedelta

    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"date {text!r} is not in the form YYYY-MM-DD") from exc
    return day + timedelta(days=1) if end else day


def _cmd_report(args: Any) -> int:
    """`helpdesk report [--json] [--since DATE] [--until DATE]`."""
    import json

    from helpdesk.services import Services
    from helpdesk.settings import Settings

    services = Services(Settings.from_env())
    tz = services.settings.tz
    since = _parse_date(args.since, tz, end=False) if args.since else None
    until = _parse_date(args.until, tz, end=True) if args.until else None
    report = collect_report(services.session_factory, since=since, until=until)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_report(report))
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

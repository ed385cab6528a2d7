"""The report as plain-text tables for operators (`helpdesk report` without `--json`)."""

from __future__ import annotations

from typing import Any, Mapping

from helpdesk.reports.records import CSAT_SCALE, ReportFigures, as_figures

#: Scalar figures (fields of `ReportFigures`) in display order, with their operator-facing
#: labels.
REPORT_LABELS = {
    "conversations": "Conversations",
    "conversations_with_handoff": "Conversations handed to an agent",
    "containment_rate": "Contained by the bot (no handoff)",
    "faq_answered": "FAQ questions answered",
    "faq_unanswered": "FAQ questions unanswered",
    "tickets_created": "Tickets created",
    "handoffs": "Handoffs to an agent",
    "first_response_count": "Handoffs with a first response",
    "first_response_avg_seconds": "First response time, average",
    "first_response_median_seconds": "First response time, median",
    "resolution_count": "Handoffs resolved",
    "resolution_avg_seconds": "Resolution time, average",
    "resolution_median_seconds": "Resolution time, median",
    "csat_count": "FAQ ratings",
    "csat_average": "FAQ rating average (1-5)",
    "agent_csat_count": "Agent ratings",
    "agent_csat_average": "Agent rating average (1-5)",
}

#: Operator-facing names of the handoff statuses, in `HANDOFF_STATUSES` order.
HANDOFF_STATUS_LABELS = {
    "waiting": "Waiting in the queue",
    "assigned": "With an agent",
    "resolved": "Resolved",
    "cancelled": "Cancelled by the citizen",
    "expired": "Expired into a ticket",
}


def split_duration(seconds: float) -> tuple[int, int, int, int]:
    """Whole (days, hours, minutes, seconds) of a duration, rounded to the second."""
    days, rest = divmod(int(round(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return days, hours, minutes, secs


def format_duration(seconds: float | None) -> str:
    """A duration for operators, e.g. "3m 20s", "1h 05m", "2d 4h"; "-" for None."""
    if seconds is None:
        return "-"
    days, hours, minutes, secs = split_duration(seconds)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _show(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("_seconds"):
        return format_duration(value)
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_report(report: ReportFigures | Mapping[str, Any]) -> str:
    """The report as plain-text tables for operators.

    Args:
        report: The figures (an `as_dict` dict is read back, see `as_figures`).
    """
    figures = as_figures(report)
    since = figures.since.isoformat() if figures.since else None
    until = figures.until.isoformat() if figures.until else None
    period = f"{since or 'beginning'} .. {until or 'now'}"
    rows = [(label, _show(key, getattr(figures, key))) for key, label in REPORT_LABELS.items()]
    width = max(len(label) for label, _ in rows)

    lines = ["Helpdesk report", f"Period: {period}", ""]
    lines += [f"{label.ljust(width)}  {value:>10}" for label, value in rows]

    statuses = figures.handoff_status
    lines += ["", "Handoffs by status"]
    status_width = max(len(label) for label in HANDOFF_STATUS_LABELS.values())
    for status, label in HANDOFF_STATUS_LABELS.items():
        lines.append(f"  {label.ljust(status_width)}  {statuses.get(status, 0):>6}")

    distribution = figures.csat_distribution
    lines += ["", "Ratings by value      FAQ   Agent"]
    for rating in CSAT_SCALE:
        faq = (distribution.get("faq") or {}).get(str(rating), 0)
        agent = (distribution.get("agent") or {}).get(str(rating), 0)
        lines.append(f"  {rating}{'':<17}{faq:>5}  {agent:>6}")

    lines += ["", "Agents"]
    agents = figures.agents
    if not agents:
        lines.append("  (none)")
    else:
        name_width = max(12, *(len(a.name) for a in agents))
        lines.append(
            f"  {'Agent'.ljust(name_width)}  {'Assigned':>8}  {'Resolved':>8}  "
            f"{'1st resp.':>9}  {'Resolution':>10}  {'Ratings':>7}  {'Avg':>5}"
        )
        for a in agents:
            lines.append(
                f"  {a.name.ljust(name_width)}  {a.assigned:>8}  {a.resolved:>8}  "
                f"{format_duration(a.first_response_avg_seconds):>9}  "
                f"{format_duration(a.resolution_avg_seconds):>10}  {a.csat_count:>7}  "
                f"{_show('csat_average', a.csat_average):>5}"
            )

    if figures.daily:
        lines += [
            "",
            f"Daily ({figures.timezone or 'UTC'})",
            "  Date        Conversations  Handoffs  Answered  Unanswered",
        ]
        for d in figures.daily:
            lines.append(
                f"  {d.date}  {d.conversations:>13}  {d.handoffs:>8}  "
                f"{d.faq_answered:>8}  {d.faq_unanswered:>10}"
            )

    lines += ["", "Top unanswered questions"]
    if not figures.top_unanswered:
        lines.append("  (none)")
    for i, item in enumerate(figures.top_unanswered, 1):
        lines.append(f"{i:>3}. [{item.count:>3}x] {item.question}")
    return "\n".join(lines) + "\n"

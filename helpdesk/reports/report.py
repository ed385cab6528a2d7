"""Operational figures for supervisors: `helpdesk report [--json]` and the desk's reports page.

Every figure covers a period `[since, until)` and is computed with aggregate SQL queries; only
the handoffs of the period that have a first response or a resolution time are read row by row
(a median needs the values). Times are stored in UTC; the daily series is cut into days of the
helpdesk's time zone.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Callable, Iterable

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from helpdesk.storage.db import session_scope
from helpdesk.storage.models import (
    CSAT_KINDS,
    HANDOFF_STATUSES,
    Conversation,
    CsatRating,
    DeskUser,
    Handoff,
    QuestionLog,
    Ticket,
)
from helpdesk.storage.repositories import QuestionLogRepository

#: What a text cell of an export may not hold: control characters other than tab, line feed
#: and carriage return (a NUL stops Python's csv writer: "need to escape"), and lone UTF-16
#: surrogates (no UTF-8 encoder takes one).
_UNSAFE_CELL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


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


#: Scalar report keys in display order, with their operator-facing labels.
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

#: The daily series covers at most this many days (the last ones of the period).
MAX_DAILY_DAYS = 366

#: The satisfaction scale.
CSAT_SCALE = (1, 2, 3, 4, 5)


def _window(stmt: Any, column: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column < until)
    return stmt


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end` (never negative), or None when one is missing."""
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _avg_median(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(statistics.fmean(values), 1), round(float(statistics.median(values)), 1)


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


@dataclass(frozen=True)
class DayBucket:
    """One day of the daily series: its date in the helpdesk time zone and its UTC span."""

    day: date
    start: datetime
    end: datetime


def day_buckets(start: datetime, end: datetime, tz: tzinfo) -> list[DayBucket]:
    """Cut `[start, end)` into days of `tz` (the first and last may be partial days).

    At most the last `MAX_DAILY_DAYS` days are kept.

    Args:
        start: Start of the period, timezone-aware, inclusive.
        end: End of the period, timezone-aware, exclusive.
        tz: The time zone whose calendar days are used.
    """
    if end <= start:
        return []
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    if (last - first).days + 1 > MAX_DAILY_DAYS:
        first = last - timedelta(days=MAX_DAILY_DAYS - 1)
        start = _local_midnight(first, tz)
    buckets = []
    day = first
    while day <= last:
        following = day + timedelta(days=1)
        lo = max(start, _local_midnight(day, tz))
        hi = min(end, _local_midnight(following, tz))
        buckets.append(DayBucket(day, lo, hi))
        day = following
    return buckets


def _daily_counts(
    session: Session,
    column: Any,
    buckets: list[DayBucket],
    *conditions: Any,
    split_by: Any = None,
) -> dict[tuple[int, Any], int]:
    """Rows per day bucket (and per `split_by` value) in one aggregate query.

    The day index is a CASE over the buckets' ends, computed in a subquery so that the
    GROUP BY names a plain column on every database.
    """
    if not buckets:
        return {}
    day_index = case(
        *[(column < bucket.end, i) for i, bucket in enumerate(buckets)], else_=len(buckets) - 1
    ).label("day_index")
    inner_columns = [day_index]
    if split_by is not None:
        inner_columns.append(split_by.label("split"))
    inner = select(*inner_columns).where(column >= buckets[0].start, column < buckets[-1].end)
    for condition in conditions:
        inner = inner.where(condition)
    sub = inner.subquery()
    keys = [sub.c.day_index] + ([sub.c.split] if split_by is not None else [])
    stmt = select(*keys, func.count()).group_by(*keys)
    result: dict[tuple[int, Any], int] = {}
    for row in session.execute(stmt).all():
        split = row[1] if split_by is not None else None
        result[(int(row[0]), split)] = int(row[-1])
    return result


def _data_span(session: Session) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest times recorded in the tables of the daily series."""
    lows, highs = [], []
    for column in (Conversation.started_at, QuestionLog.created_at, Handoff.created_at):
        low, high = session.execute(select(func.min(column), func.max(column))).one()
        if low is not None:
            lows.append(low)
            highs.append(high)
    return (min(lows), max(highs)) if lows else (None, None)


def collect_report(
    session_factory: Callable[[], Session],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = 10,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """The operational figures over `[since, until)` (all time by default).

    Every figure counts the rows whose own time falls in the period: conversations by
    `started_at`, questions, tickets, handoffs and ratings by `created_at`.

    - `conversations`: rows of `conversation` (one per session start).
    - `conversations_with_handoff`: those conversations that had a handoff. A conversation
      of sender S started at T had a handoff when a handoff of S was created at or after T,
      before S's next session start (or before the period end, when that comes first).
    - `containment_rate`: (conversations - conversations_with_handoff) / conversations, a
      fraction 0..1 rounded to 4 places; None without conversations.
    - `handoff_status`: handoffs created in the period by their current status (every status
      in `HANDOFF_STATUSES`, zero when none); they add up to `handoffs`.
    - `first_response_*`: over handoffs created in the period that an agent answered:
      seconds from `created_at` (the request) to `first_response_at`; count, average and
      median (None without any).
    - `resolution_*`: over handoffs created in the period and now resolved: seconds from
      `created_at` to `ended_at`; count, average and median.
    - `csat_distribution`: {"faq": {"1": n, ..., "5": n}, "agent": {...}}: ratings given in
      the period per value, for FAQ answers and for agents apart.
    - `agents`: one row per agent with a handoff created in the period or an agent rating
      given in the period: `agent_id`, `name` (desk_user display name), `assigned` (handoffs
      created in the period held by the agent now or at their end), `resolved` (those
      resolved), `first_response_avg_seconds`, `resolution_avg_seconds`, `csat_count` and
      `csat_average` (agent ratings given in the period of the agent's handoffs, through
      `csat_rating.handoff_id`). Sorted by name.
    - `daily`: [{"date": "YYYY-MM-DD", "conversations", "handoffs", "faq_answered",
      "faq_unanswered"}] for each day of the period in `tz` (partial first and last days
      cover only the period's part of them; an open-ended period runs from the earliest to
      the latest recorded time). At most the last `MAX_DAILY_DAYS` days.

    Args:
        session_factory: Sessions of the helpdesk store.
        since: Start of the period, timezone-aware, inclusive.
        until: End of the period, timezone-aware, exclusive.
        top: How many unanswered questions to list.
        tz: Time zone of the daily series' days (UTC by default).

    Returns:
        A JSON-ready dict: the keys of `REPORT_LABELS` and those above, plus
        `top_unanswered` ([{"question", "count"}]), `since`/`until` as ISO strings (or None)
        and `timezone`.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    zone: tzinfo = tz if tz is not None else timezone.utc

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
        with_handoff = _conversations_with_handoff(session, since, until)
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
        status_counts = _handoff_status_counts(session, since, until)
        timings = _handoff_timings(session, since, until)
        distribution = _csat_distribution(session, since, until)
        agents = _agent_rows(session, since, until, timings)
        daily = _daily_series(session, since, until, zone)

    first_response = [t.first_response for t in timings if t.first_response is not None]
    resolution = [t.resolution for t in timings if t.resolution is not None]
    first_avg, first_median = _avg_median(first_response)
    resolution_avg, resolution_median = _avg_median(resolution)
    top_unanswered = QuestionLogRepository(session_factory).top_unanswered(
        top, since=since, until=until
    )
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "timezone": str(zone),
        "conversations": conversations,
        "conversations_with_handoff": with_handoff,
        "containment_rate": (
            round((conversations - with_handoff) / conversations, 4) if conversations else None
        ),
        "faq_answered": answered,
        "faq_unanswered": unanswered,
        "tickets_created": tickets,
        "handoffs": handoffs,
        "handoff_status": status_counts,
        "first_response_count": len(first_response),
        "first_response_avg_seconds": first_avg,
        "first_response_median_seconds": first_median,
        "resolution_count": len(resolution),
        "resolution_avg_seconds": resolution_avg,
        "resolution_median_seconds": resolution_median,
        "csat_count": csat_count,
        "csat_average": csat_average,
        "agent_csat_count": agent_count,
        "agent_csat_average": agent_average,
        "csat_distribution": distribution,
        "agents": agents,
        "daily": daily,
        "top_unanswered": [{"question": q, "count": n} for q, n in top_unanswered],
    }


def _conversations_with_handoff(
    session: Session, since: datetime | None, until: datetime | None
) -> int:
    """Conversations started in the period that had a handoff (see `collect_report`)."""
    conv = aliased(Conversation, name="conv")
    later = aliased(Conversation, name="later")
    # A later session start of the same sender at or before the handoff claims the handoff.
    # Session starts at the same instant are ordered by id.
    later_start = (
        select(later.id)
        .where(
            later.sender_id == conv.sender_id,
            or_(
                later.started_at > conv.started_at,
                and_(later.started_at == conv.started_at, later.id > conv.id),
            ),
            later.started_at <= Handoff.created_at,
        )
        .correlate(conv, Handoff)
        .exists()
    )
    had_handoff = select(Handoff.id).where(
        Handoff.sender_id == conv.sender_id,
        Handoff.created_at >= conv.started_at,
        ~later_start,
    )
    if until is not None:
        had_handoff = had_handoff.where(Handoff.created_at < until)
    stmt = _window(
        select(func.count()).select_from(conv).where(had_handoff.exists()),
        conv.started_at,
        since,
        until,
    )
    return int(session.execute(stmt).scalar_one())


def _handoff_status_counts(
    session: Session, since: datetime | None, until: datetime | None
) -> dict[str, int]:
    stmt = _window(
        select(Handoff.status, func.count()).group_by(Handoff.status),
        Handoff.created_at,
        since,
        until,
    )
    counts = dict.fromkeys(HANDOFF_STATUSES, 0)
    for status, n in session.execute(stmt).all():
        counts[str(status)] = int(n)
    return counts


@dataclass(frozen=True)
class _Timing:
    agent_id: int | None
    first_response: float | None
    resolution: float | None


def _handoff_timings(
    session: Session, since: datetime | None, until: datetime | None
) -> list[_Timing]:
    """First response and resolution seconds of the period's handoffs that have either."""
    stmt = _window(
        select(
            Handoff.agent_id,
            Handoff.status,
            Handoff.created_at,
            Handoff.first_response_at,
            Handoff.ended_at,
        ).where(
            or_(
                Handoff.first_response_at.is_not(None),
                and_(Handoff.status == "resolved", Handoff.ended_at.is_not(None)),
            )
        ),
        Handoff.created_at,
        since,
        until,
    )
    timings = []
    for agent_id, status, created, first_response_at, ended_at in session.execute(stmt).all():
        timings.append(
            _Timing(
                agent_id=agent_id,
                first_response=_seconds(created, first_response_at),
                resolution=_seconds(created, ended_at) if status == "resolved" else None,
            )
        )
    return timings


def _csat_distribution(
    session: Session, since: datetime | None, until: datetime | None
) -> dict[str, dict[str, int]]:
    stmt = _window(
        select(CsatRating.kind, CsatRating.rating, func.count()).group_by(
            CsatRating.kind, CsatRating.rating
        ),
        CsatRating.created_at,
        since,
        until,
    )
    distribution = {kind: {str(r): 0 for r in CSAT_SCALE} for kind in CSAT_KINDS}
    for kind, rating, n in session.execute(stmt).all():
        if kind in distribution and str(rating) in distribution[kind]:
            distribution[kind][str(rating)] = int(n)
    return distribution


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 1) if values else None


def _agent_rows(
    session: Session,
    since: datetime | None,
    until: datetime | None,
    timings: list[_Timing],
) -> list[dict[str, Any]]:
    """Per-agent figures (see `collect_report`)."""
    resolved = func.sum(case((Handoff.status == "resolved", 1), else_=0))
    handled_stmt = _window(
        select(Handoff.agent_id, func.count(), resolved)
        .where(Handoff.agent_id.is_not(None))
        .group_by(Handoff.agent_id),
        Handoff.created_at,
        since,
        until,
    )
    rated_stmt = _window(
        select(Handoff.agent_id, func.count(CsatRating.id), func.avg(CsatRating.rating))
        .join(Handoff, Handoff.id == CsatRating.handoff_id)
        .where(CsatRating.kind == "agent", Handoff.agent_id.is_not(None))
        .group_by(Handoff.agent_id),
        CsatRating.created_at,
        since,
        until,
    )
    handled = {int(a): (int(n), int(r or 0)) for a, n, r in session.execute(handled_stmt).all()}
    rated = {
        int(a): (int(n), round(float(avg), 2) if n else None)
        for a, n, avg in session.execute(rated_stmt).all()
    }
    agent_ids = sorted(set(handled) | set(rated))
    if not agent_ids:
        return []
    names = {
        int(i): str(name)
        for i, name in session.execute(
            select(DeskUser.id, DeskUser.display_name).where(DeskUser.id.in_(agent_ids))
        ).all()
    }
    by_agent: dict[int, list[_Timing]] = {}
    for timing in timings:
        if timing.agent_id is not None:
            by_agent.setdefault(timing.agent_id, []).append(timing)
    rows = []
    for agent_id in agent_ids:
        mine = by_agent.get(agent_id, [])
        assigned, resolved_count = handled.get(agent_id, (0, 0))
        csat_n, csat_avg = rated.get(agent_id, (0, None))
        rows.append(
            {
                "agent_id": agent_id,
                "name": names.get(agent_id, f"#{agent_id}"),
                "assigned": assigned,
                "resolved": resolved_count,
                "first_response_avg_seconds": _mean(
                    t.first_response for t in mine if t.first_response is not None
                ),
                "resolution_avg_seconds": _mean(
                    t.resolution for t in mine if t.resolution is not None
                ),
                "csat_count": csat_n,
                "csat_average": csat_avg,
            }
        )
    rows.sort(key=lambda row: (str(row["name"]).casefold(), row["agent_id"]))
    return rows


def _daily_series(
    session: Session, since: datetime | None, until: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    start, end = since, until
    if start is None or end is None:
        low, high = _data_span(session)
        if low is None or high is None:
            return []
        start = start if start is not None else low
        end = end if end is not None else high + timedelta(microseconds=1)
    buckets = day_buckets(start, end, tz)
    conversations = _daily_counts(session, Conversation.started_at, buckets)
    handoffs = _daily_counts(session, Handoff.created_at, buckets)
    questions = _daily_counts(
        session, QuestionLog.created_at, buckets, split_by=QuestionLog.answered
    )
    answered: dict[int, int] = {}
    unanswered: dict[int, int] = {}
    for (i, was_answered), n in questions.items():
        target = answered if was_answered else unanswered
        target[i] = target.get(i, 0) + n
    return [
        {
            "date": bucket.day.isoformat(),
            "conversations": conversations.get((i, None), 0),
            "handoffs": handoffs.get((i, None), 0),
            "faq_answered": answered.get(i, 0),
            "faq_unanswered": unanswered.get(i, 0),
        }
        for i, bucket in enumerate(buckets)
    ]


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


def format_report(report: dict[str, Any]) -> str:
    """The report as plain-text tables for operators."""
    period = f"{report.get('since') or 'beginning'} .. {report.get('until') or 'now'}"
    rows = [(label, _show(key, report.get(key))) for key, label in REPORT_LABELS.items()]
    width = max(len(label) for label, _ in rows)

    lines = ["Helpdesk report", f"Period: {period}", ""]
    lines += [f"{label.ljust(width)}  {value:>10}" for label, value in rows]

    statuses = report.get("handoff_status") or {}
    lines += ["", "Handoffs by status"]
    status_width = max(len(label) for label in HANDOFF_STATUS_LABELS.values())
    for status, label in HANDOFF_STATUS_LABELS.items():
        lines.append(f"  {label.ljust(status_width)}  {statuses.get(status, 0):>6}")

    distribution = report.get("csat_distribution") or {}
    lines += ["", "Ratings by value      FAQ   Agent"]
    for rating in CSAT_SCALE:
        faq = (distribution.get("faq") or {}).get(str(rating), 0)
        agent = (distribution.get("agent") or {}).get(str(rating), 0)
        lines.append(f"  {rating}{'':<17}{faq:>5}  {agent:>6}")

    lines += ["", "Agents"]
    agents = report.get("agents") or []
    if not agents:
        lines.append("  (none)")
    else:
        name_width = max(12, *(len(str(a["name"])) for a in agents))
        lines.append(
            f"  {'Agent'.ljust(name_width)}  {'Assigned':>8}  {'Resolved':>8}  "
            f"{'1st resp.':>9}  {'Resolution':>10}  {'Ratings':>7}  {'Avg':>5}"
        )
        for a in agents:
            lines.append(
                f"  {str(a['name']).ljust(name_width)}  {a['assigned']:>8}  {a['resolved']:>8}  "
                f"{format_duration(a['first_response_avg_seconds']):>9}  "
                f"{format_duration(a['resolution_avg_seconds']):>10}  {a['csat_count']:>7}  "
                f"{_show('csat_average', a['csat_average']):>5}"
            )

    daily = report.get("daily") or []
    if daily:
        lines += [
            "",
            f"Daily ({report.get('timezone') or 'UTC'})",
            "  Date        Conversations  Handoffs  Answered  Unanswered",
        ]
        for d in daily:
            lines.append(
                f"  {d['date']}  {d['conversations']:>13}  {d['handoffs']:>8}  "
                f"{d['faq_answered']:>8}  {d['faq_unanswered']:>10}"
            )

    lines += ["", "Top unanswered questions"]
    top = report.get("top_unanswered") or []
    if not top:
        lines.append("  (none)")
    for i, item in enumerate(top, 1):
        lines.append(f"{i:>3}. [{item['count']:>3}x] {item['question']}")
    return "\n".join(lines) + "\n"


def _parse_date(text: str, tz: Any, *, end: bool) -> datetime:
    """Parse YYYY-MM-DD as the start (or, with `end`, the end) of that day in `tz`."""
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
    report = collect_report(services.session_factory, since=since, until=until, tz=tz)
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

"""Operational figures for supervisors: `collect_figures` makes the `ReportFigures` of a period.

Every figure covers a period `[since, until)`; the rows are read by the aggregate queries of
`helpdesk.storage.report_queries`, and this module turns them into figures (rates, averages,
medians, the per-agent rows and the daily series). Times are stored in UTC; the daily series is
cut into days of the helpdesk's time zone. The records are `helpdesk.reports.records`;
`collect_report` returns their JSON-ready dict, what `helpdesk report --json` prints.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Iterable

from helpdesk.reports.records import (
    CSAT_SCALE,
    AgentFigures,
    DailyFigures,
    ReportFigures,
    UnansweredQuestion,
)
from helpdesk.storage.base import SessionFactory
from helpdesk.storage.enums import CsatKind, HandoffStatus
from helpdesk.storage.feedback import QuestionLogRepository
from helpdesk.storage.models import CSAT_KINDS
from helpdesk.storage.report_queries import (
    AgentActivity,
    HandoffTimes,
    PeriodReader,
    RatingCount,
    ReportQueries,
)

#: The daily series covers at most this many days (the last ones of the period).
MAX_DAILY_DAYS = 366


@dataclass(frozen=True)
class DayBucket:
    """One day of the daily series: its date in the helpdesk time zone and its UTC span."""

    day: date
    start: datetime
    end: datetime


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


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


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end` (never negative), or None when one is missing."""
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _avg_median(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(statistics.fmean(values), 1), round(float(statistics.median(values)), 1)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 1) if values else None


def _rounded(average: float | None) -> float | None:
    return round(average, 2) if average is not None else None


@dataclass(frozen=True)
class _Timing:
    agent_id: int | None
    first_response: float | None
    resolution: float | None


def _timing(times: HandoffTimes) -> _Timing:
    return _Timing(
        agent_id=times.agent_id,
        first_response=_seconds(times.created_at, times.first_response_at),
        resolution=(
            _seconds(times.created_at, times.ended_at)
            if times.status == HandoffStatus.RESOLVED
            else None
        ),
    )


def collect_figures(
    session_factory: SessionFactory,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = 10,
    tz: tzinfo | None = None,
) -> ReportFigures:
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
    - `csat_count`/`csat_average` and `agent_csat_count`/`agent_csat_average`: FAQ and agent
      ratings given in the period, their mean rounded to 2 places (None without any).
    - `csat_distribution`: {"faq": {"1": n, ..., "5": n}, "agent": {...}}: ratings given in
      the period per value, for FAQ answers and for agents apart.
    - `agents`: one row per agent with a handoff created in the period or an agent rating
      given in the period: `agent_id`, `name` (desk_user display name), `assigned` (handoffs
      created in the period held by the agent now or at their end), `resolved` (those
      resolved), `first_response_avg_seconds`, `resolution_avg_seconds`, `csat_count` and
      `csat_average` (agent ratings given in the period of the agent's handoffs, through
      `csat_rating.handoff_id`). Sorted by name.
    - `daily`: one row per day of the period in `tz` (partial first and last days cover only
      the period's part of them; an open-ended period runs from the earliest to the latest
      recorded time). At most the last `MAX_DAILY_DAYS` days.
    - `top_unanswered`: the `top` most frequent unanswered questions.

    Args:
        session_factory: Sessions of the helpdesk store.
        since: Start of the period, timezone-aware, inclusive.
        until: End of the period, timezone-aware, exclusive.
        top: How many unanswered questions to list.
        tz: Time zone of the daily series' days (UTC by default).

    Raises:
        ValueError: If `since` or `until` is naive.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    zone: tzinfo = tz if tz is not None else timezone.utc

    with ReportQueries(session_factory).period(since, until) as reader:
        totals = reader.totals()
        faq_ratings = reader.ratings(CsatKind.FAQ)
        agent_ratings = reader.ratings(CsatKind.AGENT)
        status_counts = reader.handoff_status_counts()
        timings = [_timing(times) for times in reader.handoff_times()]
        distribution = _csat_distribution(reader.rating_counts())
        agents = _agent_rows(reader.agent_activity(), timings)
        daily = _daily_series(reader, zone)

    first_response = [t.first_response for t in timings if t.first_response is not None]
    resolution = [t.resolution for t in timings if t.resolution is not None]
    first_avg, first_median = _avg_median(first_response)
    resolution_avg, resolution_median = _avg_median(resolution)
    top_unanswered = QuestionLogRepository(session_factory).top_unanswered(
        top, since=since, until=until
    )
    conversations = totals.conversations
    with_handoff = totals.conversations_with_handoff
    return ReportFigures(
        since=since,
        until=until,
        timezone=str(zone),
        conversations=conversations,
        conversations_with_handoff=with_handoff,
        containment_rate=(
            round((conversations - with_handoff) / conversations, 4) if conversations else None
        ),
        faq_answered=totals.faq_answered,
        faq_unanswered=totals.faq_unanswered,
        tickets_created=totals.tickets_created,
        handoffs=totals.handoffs,
        handoff_status=status_counts,
        first_response_count=len(first_response),
        first_response_avg_seconds=first_avg,
        first_response_median_seconds=first_median,
        resolution_count=len(resolution),
        resolution_avg_seconds=resolution_avg,
        resolution_median_seconds=resolution_median,
        csat_count=faq_ratings.count,
        csat_average=_rounded(faq_ratings.average),
        agent_csat_count=agent_ratings.count,
        agent_csat_average=_rounded(agent_ratings.average),
        csat_distribution=distribution,
        agents=agents,
        daily=daily,
        top_unanswered=tuple(UnansweredQuestion(q, n) for q, n in top_unanswered),
    )


def collect_report(
    session_factory: SessionFactory,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = 10,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """`collect_figures(...).as_dict()`: the figures as the JSON-ready dict of `helpdesk report`.

    Its keys are the fields of `ReportFigures`: `since`/`until` as ISO strings (or None),
    `timezone`, the scalar figures, `handoff_status`, `csat_distribution`, `agents` and
    `daily` ([{"date": "YYYY-MM-DD", "conversations", "handoffs", "faq_answered",
    "faq_unanswered"}]) and `top_unanswered` ([{"question", "count"}]).
    """
    return collect_figures(session_factory, since=since, until=until, top=top, tz=tz).as_dict()


def _csat_distribution(counts: list[RatingCount]) -> dict[str, dict[str, int]]:
    distribution = {kind: {str(r): 0 for r in CSAT_SCALE} for kind in CSAT_KINDS}
    for item in counts:
        if item.kind in distribution and str(item.rating) in distribution[item.kind]:
            distribution[item.kind][str(item.rating)] = item.count
    return distribution


def _agent_rows(activity: list[AgentActivity], timings: list[_Timing]) -> tuple[AgentFigures, ...]:
    """Per-agent figures (see `collect_figures`), sorted by name."""
    by_agent: dict[int, list[_Timing]] = {}
    for timing in timings:
        if timing.agent_id is not None:
            by_agent.setdefault(timing.agent_id, []).append(timing)
    rows = []
    for agent in activity:
        mine = by_agent.get(agent.agent_id, [])
        rows.append(
            AgentFigures(
                agent_id=agent.agent_id,
                name=agent.name if agent.name is not None else f"#{agent.agent_id}",
                assigned=agent.assigned,
                resolved=agent.resolved,
                first_response_avg_seconds=_mean(
                    t.first_response for t in mine if t.first_response is not None
                ),
                resolution_avg_seconds=_mean(
                    t.resolution for t in mine if t.resolution is not None
                ),
                csat_count=agent.rating_count,
                csat_average=_rounded(agent.rating_average),
            )
        )
    rows.sort(key=lambda row: (row.name.casefold(), row.agent_id))
    return tuple(rows)


def _daily_series(reader: PeriodReader, tz: tzinfo) -> tuple[DailyFigures, ...]:
    start, end = reader.since, reader.until
    if start is None or end is None:
        low, high = reader.data_span()
        if low is None or high is None:
            return ()
        start = start if start is not None else low
        end = end if end is not None else high + timedelta(microseconds=1)
    buckets = day_buckets(start, end, tz)
    counts = reader.daily_counts([(bucket.start, bucket.end) for bucket in buckets])
    return tuple(
        DailyFigures(
            day=bucket.day,
            conversations=day.conversations,
            handoffs=day.handoffs,
            faq_answered=day.faq_answered,
            faq_unanswered=day.faq_unanswered,
        )
        for bucket, day in zip(buckets, counts, strict=True)
    )

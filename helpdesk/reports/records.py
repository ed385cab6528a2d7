"""The report's figures as typed records: `ReportFigures` and its rows.

`ReportFigures.as_dict` is the JSON object `helpdesk report --json` prints, and
`ReportFigures.from_dict` reads one back. What each figure means is said in
`helpdesk.reports.figures.collect_figures`, which makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

#: The satisfaction scale (the keys of each `ReportFigures.csat_distribution` kind).
CSAT_SCALE = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class AgentFigures:
    """One agent's row (see `collect_figures`)."""

    agent_id: int
    name: str
    assigned: int
    resolved: int
    first_response_avg_seconds: float | None
    resolution_avg_seconds: float | None
    csat_count: int
    csat_average: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "assigned": self.assigned,
            "resolved": self.resolved,
            "first_response_avg_seconds": self.first_response_avg_seconds,
            "resolution_avg_seconds": self.resolution_avg_seconds,
            "csat_count": self.csat_count,
            "csat_average": self.csat_average,
        }


@dataclass(frozen=True)
class DailyFigures:
    """One day of the daily series, a day of the helpdesk time zone."""

    day: date
    conversations: int
    handoffs: int
    faq_answered: int
    faq_unanswered: int

    @property
    def date(self) -> str:
        """The day as YYYY-MM-DD (its `"date"` in the JSON)."""
        return self.day.isoformat()

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "conversations": self.conversations,
            "handoffs": self.handoffs,
            "faq_answered": self.faq_answered,
            "faq_unanswered": self.faq_unanswered,
        }


@dataclass(frozen=True)
class UnansweredQuestion:
    """A question the bot could not answer and how often it was asked in the period."""

    question: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "count": self.count}


@dataclass(frozen=True)
class ReportFigures:
    """The figures of one period; what each one means is said in `collect_figures`.

    The fields are in the order of the keys of `as_dict`. `handoff_status` maps every status
    of `HANDOFF_STATUSES` to a count; `csat_distribution` maps "faq" and "agent" to
    {"1": n, ..., "5": n}.
    """

    since: datetime | None
    until: datetime | None
    timezone: str
    conversations: int
    conversations_with_handoff: int
    containment_rate: float | None
    faq_answered: int
    faq_unanswered: int
    tickets_created: int
    handoffs: int
    handoff_status: dict[str, int]
    first_response_count: int
    first_response_avg_seconds: float | None
    first_response_median_seconds: float | None
    resolution_count: int
    resolution_avg_seconds: float | None
    resolution_median_seconds: float | None
    csat_count: int
    csat_average: float | None
    agent_csat_count: int
    agent_csat_average: float | None
    csat_distribution: dict[str, dict[str, int]]
    agents: tuple[AgentFigures, ...]
    daily: tuple[DailyFigures, ...]
    top_unanswered: tuple[UnansweredQuestion, ...]

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of `helpdesk report --json` (times as ISO strings or None)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "timezone": self.timezone,
            "conversations": self.conversations,
            "conversations_with_handoff": self.conversations_with_handoff,
            "containment_rate": self.containment_rate,
            "faq_answered": self.faq_answered,
            "faq_unanswered": self.faq_unanswered,
            "tickets_created": self.tickets_created,
            "handoffs": self.handoffs,
            "handoff_status": dict(self.handoff_status),
            "first_response_count": self.first_response_count,
            "first_response_avg_seconds": self.first_response_avg_seconds,
            "first_response_median_seconds": self.first_response_median_seconds,
            "resolution_count": self.resolution_count,
            "resolution_avg_seconds": self.resolution_avg_seconds,
            "resolution_median_seconds": self.resolution_median_seconds,
            "csat_count": self.csat_count,
            "csat_average": self.csat_average,
            "agent_csat_count": self.agent_csat_count,
            "agent_csat_average": self.agent_csat_average,
            "csat_distribution": {
                kind: dict(counts) for kind, counts in self.csat_distribution.items()
            },
            "agents": [agent.as_dict() for agent in self.agents],
            "daily": [day.as_dict() for day in self.daily],
            "top_unanswered": [item.as_dict() for item in self.top_unanswered],
        }

    @classmethod
    def from_dict(cls, report: Mapping[str, Any]) -> ReportFigures:
        """The figures of an `as_dict` dict (e.g. `collect_report`'s, or a parsed JSON report).

        Raises:
            KeyError: If a key of `as_dict` is missing.
        """

        def moment(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            since=moment(report["since"]),
            until=moment(report["until"]),
            timezone=report["timezone"],
            conversations=report["conversations"],
            conversations_with_handoff=report["conversations_with_handoff"],
            containment_rate=report["containment_rate"],
            faq_answered=report["faq_answered"],
            faq_unanswered=report["faq_unanswered"],
            tickets_created=report["tickets_created"],
            handoffs=report["handoffs"],
            handoff_status=dict(report["handoff_status"]),
            first_response_count=report["first_response_count"],
            first_response_avg_seconds=report["first_response_avg_seconds"],
            first_response_median_seconds=report["first_response_median_seconds"],
            resolution_count=report["resolution_count"],
            resolution_avg_seconds=report["resolution_avg_seconds"],
            resolution_median_seconds=report["resolution_median_seconds"],
            csat_count=report["csat_count"],
            csat_average=report["csat_average"],
            agent_csat_count=report["agent_csat_count"],
            agent_csat_average=report["agent_csat_average"],
            csat_distribution={
                kind: dict(counts) for kind, counts in report["csat_distribution"].items()
            },
            agents=tuple(AgentFigures(**agent) for agent in report["agents"]),
            daily=tuple(
                DailyFigures(
                    day=date.fromisoformat(d["date"]),
                    conversations=d["conversations"],
                    handoffs=d["handoffs"],
                    faq_answered=d["faq_answered"],
                    faq_unanswered=d["faq_unanswered"],
                )
                for d in report["daily"]
            ),
            top_unanswered=tuple(UnansweredQuestion(**item) for item in report["top_unanswered"]),
        )


def as_figures(report: ReportFigures | Mapping[str, Any]) -> ReportFigures:
    """`report` as figures: records as they are, an `as_dict` dict read back."""
    return report if isinstance(report, ReportFigures) else ReportFigures.from_dict(report)

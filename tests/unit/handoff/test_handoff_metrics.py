"""What the agents' queue tells Prometheus: the queue read from the database at scrape time
(`HandoffRepository.queue_summary` behind `helpdesk.metrics.HandoffQueueCollector`), waits
observed when an agent takes a conversation, requests and endings counted.

On the test database (SQLite, or PostgreSQL with `--db=postgres`), real repositories and the
service as `tests/unit/handoff/test_handoff_queue.py` builds it.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from helpdesk import metrics
from helpdesk.handoff.service import LeaveOutcome
from helpdesk.storage.models import utcnow
from tests.unit.handoff.test_handoff_queue import T0, add_agent, make_service, set_handoff


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def endings() -> dict[str, float]:
    return {
        outcome: value("helpdesk_handoffs_ended_total", outcome=outcome)
        for outcome in metrics.HANDOFF_END_OUTCOMES
    }


def waits() -> tuple[float, float]:
    """(how many waits were observed, their seconds in all)."""
    return value("helpdesk_handoff_wait_seconds_count"), value("helpdesk_handoff_wait_seconds_sum")


def scrape(collector: metrics.HandoffQueueCollector) -> dict[str, float]:
    return {family.name: family.samples[0].value for family in collector.collect()}


def test_the_queue_gauges_read_the_waiting_handoffs_from_the_database(session_factory):
    service = make_service(session_factory)
    collector = metrics.HandoffQueueCollector(
        service.handoffs.queue_summary, clock=lambda: T0 + timedelta(minutes=10)
    )
    assert scrape(collector) == {
        "helpdesk_handoff_queue_length": 0.0,
        "helpdesk_handoff_queue_oldest_wait_seconds": 0.0,
    }

    first = service.request("6281100000001", channel="whatsapp").handoff.id
    second = service.request("6281100000002", channel="telegram").handoff.id
    taken = service.request("6281100000003", channel="webchat").handoff.id
    set_handoff(session_factory, first, created_at=T0 + timedelta(minutes=2))
    set_handoff(session_factory, second, created_at=T0 + timedelta(minutes=4))
    set_handoff(session_factory, taken, created_at=T0)  # the oldest, but no longer waiting
    service.take(taken, add_agent(session_factory, "sari"), max_conversations=3)

    assert scrape(collector) == {
        "helpdesk_handoff_queue_length": 2.0,
        "helpdesk_handoff_queue_oldest_wait_seconds": 480.0,  # since T0 + 2 minutes
    }
    count, oldest = service.handoffs.queue_summary()
    assert count == 2 and oldest == T0 + timedelta(minutes=2)
    assert oldest.utcoffset() == timedelta(0)  # aware, on every backend


def test_the_wait_is_observed_when_an_agent_takes_a_conversation(session_factory):
    service = make_service(session_factory)
    agent = add_agent(session_factory, "sari")
    handoff = service.request("6281100000001", channel="whatsapp").handoff.id
    set_handoff(session_factory, handoff, created_at=utcnow() - timedelta(seconds=90))
    count, total = waits()

    service.take(handoff, agent, max_conversations=3)

    assert value("helpdesk_handoff_wait_seconds_count") == count + 1
    assert 90 <= value("helpdesk_handoff_wait_seconds_sum") - total < 120


def test_automatic_and_supervisor_assignments_observe_once_reassignments_never(
    session_factory,
):
    service = make_service(session_factory)
    sari, budi = add_agent(session_factory, "sari"), add_agent(session_factory, "budi")
    auto = service.request("6281100000001", channel="whatsapp").handoff.id
    set_handoff(session_factory, auto, created_at=utcnow() - timedelta(minutes=5))
    count, total = waits()

    assert service.auto_assign() == [(auto, sari)]
    assert value("helpdesk_handoff_wait_seconds_count") == count + 1
    assert 300 <= value("helpdesk_handoff_wait_seconds_sum") - total < 330

    service.assign(auto, budi)  # a supervisor moves it: it was no longer waiting
    assert value("helpdesk_handoff_wait_seconds_count") == count + 1

    queued = service.request("6281100000002", channel="whatsapp").handoff.id
    service.assign(queued, budi)  # a supervisor gives out a waiting one
    assert value("helpdesk_handoff_wait_seconds_count") == count + 2


def test_requests_and_endings_are_counted_once(session_factory):
    service = make_service(session_factory)
    agent = add_agent(session_factory, "sari")
    queued = value("helpdesk_handoff_requests_total", outcome="queued")
    ended = {
        o: value("helpdesk_handoffs_ended_total", outcome=o) for o in metrics.HANDOFF_END_OUTCOMES
    }

    resolved = service.request("6281100000001", channel="whatsapp").handoff.id
    service.request("6281100000001", channel="whatsapp")  # asked again: the same place
    cancelled = service.request("6281100000002", channel="whatsapp").handoff.id
    expired = service.request("6281100000003", channel="whatsapp").handoff.id
    service.request("6281100000004", channel="whatsapp")
    assert value("helpdesk_handoff_requests_total", outcome="queued") == queued + 4

    service.take(resolved, agent, max_conversations=3)
    assert service.resolve(resolved) and not service.resolve(resolved)
    assert service.cancel(cancelled) and not service.cancel(cancelled)
    assert service.expire(expired) and not service.expire(expired)
    assert service.leave_queue("6281100000004") is LeaveOutcome.LEFT
    assert service.leave_queue("6281100000004") is LeaveOutcome.NONE

    now = {
        o: value("helpdesk_handoffs_ended_total", outcome=o) for o in metrics.HANDOFF_END_OUTCOMES
    }
    assert now == {
        "resolved": ended["resolved"] + 1,
        "cancelled": ended["cancelled"] + 2,
        "expired": ended["expired"] + 1,
    }

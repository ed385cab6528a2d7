"""helpdesk.metrics: what each helper counts, bounded labels, the queue collector, exposition
and who may scrape.

Metrics live in prometheus-client's process-wide registry, so every test reads a value before
and after what it does and asserts the difference.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from helpdesk import metrics


def value(name: str, **labels: str) -> float:
    """The current value of a sample (0 when the series does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_messages_are_counted_per_channel_and_direction():
    before_in = value("helpdesk_messages_total", channel="whatsapp", direction="in")
    before_out = value("helpdesk_messages_total", channel="whatsapp", direction="out")
    metrics.message_in("whatsapp")
    metrics.message_in("WhatsApp")
    metrics.message_out("whatsapp")
    assert value("helpdesk_messages_total", channel="whatsapp", direction="in") == before_in + 2
    assert value("helpdesk_messages_total", channel="whatsapp", direction="out") == before_out + 1


@pytest.mark.parametrize("channel", ["6281234567890", "cmdline", "", "budi@contoh.go.id"])
def test_an_unknown_channel_is_counted_as_other_never_by_its_name(channel):
    before = value("helpdesk_messages_total", channel="other", direction="in")
    metrics.message_in(channel)
    assert value("helpdesk_messages_total", channel="other", direction="in") == before + 1
    if channel:
        assert value("helpdesk_messages_total", channel=channel, direction="in") == 0


def test_every_fixed_series_exists_from_the_start():
    exposed = metrics.render().decode()
    for outcome in metrics.FAQ_OUTCOMES:
        assert f'helpdesk_faq_answers_total{{outcome="{outcome}"}}' in exposed
    for channel in (*metrics.CHANNELS, metrics.OTHER):
        assert f'helpdesk_messages_total{{channel="{channel}",direction="in"}}' in exposed
    assert "helpdesk_messages_created" not in exposed  # no _created series


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [("answered", "answered"), ("low_confidence", "declined"), ("empty", "empty")],
)
def test_faq_outcomes_follow_the_retriever_s_decision(reason, outcome):
    assert metrics.faq_outcome(reason) == outcome
    before = value("helpdesk_faq_answers_total", outcome=outcome)
    metrics.faq_answer(metrics.faq_outcome(reason))
    assert value("helpdesk_faq_answers_total", outcome=outcome) == before + 1


def test_unknown_outcomes_and_kinds_are_refused():
    with pytest.raises(ValueError, match="unknown FAQ outcome"):
        metrics.faq_answer("maybe")
    with pytest.raises(ValueError, match="handoff end"):
        metrics.handoff_ended("lost")
    with pytest.raises(ValueError, match="backend error kind"):
        metrics.backend_error("/v1/sp2d/lookup", "3171234567890001")
    with pytest.raises(ValueError, match="backend outcome"):
        metrics.backend_request("/v1/sp2d/lookup", "fine", 0.1)


@pytest.mark.parametrize(
    ("record", "name", "labels"),
    [
        (lambda: metrics.ticket_created("telegram"), "tickets_created", {"channel": "telegram"}),
        (lambda: metrics.ticket_created(None), "tickets_created", {"channel": "none"}),
        (lambda: metrics.handoff_requested("offline"), "handoff_requests", {"outcome": "offline"}),
        (lambda: metrics.handoff_ended("expired"), "handoffs_ended", {"outcome": "expired"}),
        (lambda: metrics.idle_closure("failed"), "idle_closures", {"outcome": "failed"}),
        (lambda: metrics.sweep_done(False), "sweeps", {"outcome": "error"}),
    ],
)
def test_tickets_handoffs_and_the_sweeper_are_counted(record, name, labels):
    before = value(f"helpdesk_{name}_total", **labels)
    record()
    assert value(f"helpdesk_{name}_total", **labels) == before + 1


def test_a_successful_sweep_sets_the_last_success_time():
    metrics.sweep_done(True, now=1_800_000_000.0)
    assert value("helpdesk_sweeper_last_success_timestamp_seconds") == 1_800_000_000.0
    metrics.sweep_done(False)  # a failed pass leaves it
    assert value("helpdesk_sweeper_last_success_timestamp_seconds") == 1_800_000_000.0


def test_handoff_waits_go_into_the_histogram():
    count = value("helpdesk_handoff_wait_seconds_count")
    under_a_minute = value("helpdesk_handoff_wait_seconds_bucket", le="60.0")
    metrics.handoff_taken(45.0)
    metrics.handoff_taken(-3.0)  # clocks of two machines: never negative
    metrics.handoff_taken(700.0)
    assert value("helpdesk_handoff_wait_seconds_count") == count + 3
    assert value("helpdesk_handoff_wait_seconds_bucket", le="60.0") == under_a_minute + 2


@pytest.mark.parametrize(
    ("path", "labels"),
    [
        ("/v1/sp2d/lookup", ("sp2d", "lookup")),
        ("/v1/digit/users/email-check", ("digit", "users/email-check")),
        ("POST /v1/sakti/users/satkers satkers[]", ("sakti", "users/satkers")),
        ("/v1/contracts/lookup?nik=3171234567890001", ("contracts", "lookup")),
        ("/v1/health", ("other", "other")),
        ("/somewhere/else", ("other", "other")),
    ],
)
def test_backend_labels_come_from_the_path(path, labels):
    assert metrics.backend_endpoint(path) == labels


def test_backend_calls_are_observed_by_service_operation_and_outcome():
    labels = {"service": "digit", "operation": "requests", "outcome": "rejected"}
    count = value("helpdesk_backend_request_seconds_count", **labels)
    total = value("helpdesk_backend_request_seconds_sum", **labels)
    metrics.backend_request("/v1/digit/requests", "rejected", 0.25)
    assert value("helpdesk_backend_request_seconds_count", **labels) == count + 1
    assert value("helpdesk_backend_request_seconds_sum", **labels) == pytest.approx(total + 0.25)
    errors = value("helpdesk_backend_errors_total", service="digit", kind="busy")
    metrics.backend_error("/v1/digit/requests", "busy")
    assert value("helpdesk_backend_errors_total", service="digit", kind="busy") == errors + 1


# --- the queue collector -------------------------------------------------------------------

NOW = datetime(2026, 4, 14, 9, 30, tzinfo=timezone.utc)


def collected(collector: metrics.HandoffQueueCollector) -> dict[str, float]:
    return {family.name: family.samples[0].value for family in collector.collect()}


def test_the_queue_collector_reports_length_and_oldest_wait():
    collector = metrics.HandoffQueueCollector(
        lambda: (3, NOW - timedelta(minutes=4)), clock=lambda: NOW
    )
    assert collected(collector) == {
        "helpdesk_handoff_queue_length": 3.0,
        "helpdesk_handoff_queue_oldest_wait_seconds": 240.0,
    }
    empty = metrics.HandoffQueueCollector(lambda: (0, None), clock=lambda: NOW)
    assert collected(empty)["helpdesk_handoff_queue_oldest_wait_seconds"] == 0.0


def test_a_queue_that_cannot_be_read_is_left_out_of_the_scrape(caplog):
    def broken() -> tuple[int, datetime | None]:
        raise RuntimeError("database is down")

    registry = metrics.collector_registry(metrics.HandoffQueueCollector(broken))
    body = metrics.render(registry).decode()
    assert "helpdesk_handoff_queue_length" not in body
    assert "helpdesk_messages_total" in body  # the rest of the scrape is still served
    assert "handoff queue could not be read" in caplog.text


def test_registering_the_collector_does_not_read_the_queue():
    reads: list[int] = []

    def read() -> tuple[int, datetime | None]:
        reads.append(1)
        return 1, NOW

    registry = metrics.collector_registry(metrics.HandoffQueueCollector(read, clock=lambda: NOW))
    assert reads == []
    families = {
        f.name: f for f in text_string_to_metric_families(metrics.render(registry).decode())
    }
    assert reads == [1]
    assert families["helpdesk_handoff_queue_length"].type == "gauge"
    assert families["helpdesk_handoff_queue_length"].samples[0].value == 1.0


# --- who may scrape -------------------------------------------------------------------------

TOKEN = "token-metrics-" + "x" * 20
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("peer", "headers", "token", "allowed"),
    [
        ("127.0.0.1", {}, "", True),
        ("::1", {}, "", True),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, "", False),  # through nginx
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, "", False),
        ("203.0.113.9", {}, "", False),
        ("203.0.113.9", {"Authorization": f"Bearer {TOKEN}"}, "", False),  # no token set
        ("203.0.113.9", {"Authorization": f"Bearer {TOKEN}"}, TOKEN, True),
        ("203.0.113.9", {"Authorization": "Bearer salah"}, TOKEN, False),
        ("127.0.0.1", {"X-Forwarded-For": "1.2.3.4", **BEARER}, TOKEN, True),
        (None, {}, "", False),
    ],
)
def test_who_may_scrape(peer, headers, token, allowed):
    assert metrics.scrape_allowed(peer, headers, token) is allowed

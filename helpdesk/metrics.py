"""Prometheus metrics of the assistant's processes, defined in one place.

Every process serves its own metrics at `/metrics` in Prometheus' text format (`render`): the
Rasa server (`connectors.ops`), the action server (`rasa_sdk_plugins.ops`), the agent desk and
the idle sweeper (`helpdesk.ops_server`). Counters live in the process that counts them, so
Prometheus sums them over the processes of a cluster (`sum by (channel) (rate(...))`).

The metrics, all prefixed `helpdesk_`, with their unit in the name:

- `helpdesk_messages_total{channel, direction}`: citizens' messages received (`direction="in"`)
  and the assistant's messages sent (`"out"`), per channel (Rasa server: `message_in`,
  `message_out`, called by the channels).
- `helpdesk_faq_answers_total{outcome}`: what `action_answer_faq` did with a question:
  `answered`, `declined` (the retriever was not confident enough), `empty` (no content words:
  the citizen is asked to type the question), `error` (the knowledge base failed).
- `helpdesk_tickets_created_total{channel}`: tickets stored (a form submitted twice counts once).
- `helpdesk_handoff_requests_total{outcome}`: requests for an agent, `queued` (office hours) or
  `offline` (kept as a ticket).
- `helpdesk_handoffs_ended_total{outcome}`: handoffs `resolved`, `cancelled` ("batal") or
  `expired` (nobody took them in time).
- `helpdesk_handoff_wait_seconds`: histogram of the time from the request to an agent taking
  it (observed when a waiting handoff is taken, assigned or given out automatically).
- `helpdesk_handoff_queue_length` and `helpdesk_handoff_queue_oldest_wait_seconds`: gauges read
  from the helpdesk database at scrape time (`HandoffQueueCollector`, served by the desk);
  absent from a scrape when the database cannot be read.
- `helpdesk_backend_request_seconds{service, operation, outcome}`: histogram of backend API
  calls, retries included (`outcome`: `ok`, `not_found`, `rejected`, `unavailable`).
- `helpdesk_backend_errors_total{service, kind}`: why calls were unavailable
  (`BACKEND_ERROR_KINDS`).
- `helpdesk_idle_closures_total{outcome}`: idle conversations the sweeper `closed` or `failed`
  to close (retried at the next pass).
- `helpdesk_sweeps_total{outcome}` and `helpdesk_sweeper_last_success_timestamp_seconds`: sweep
  passes `ok` or `error`, and when the last pass succeeded (alert when it is old).

Labels take their values from fixed sets (the constants below, and the backend API's paths),
never from what citizens send: no sender ids, NIKs or texts. An unknown channel name is
counted as `other`; an unknown outcome or kind is a programming error (`ValueError`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from helpdesk.security.access import bearer_token, is_loopback, token_matches

logger = logging.getLogger(__name__)

#: The content type of `render`'s body (Prometheus' text format).
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Channel label values; any other channel name is counted as `OTHER`.
CHANNELS = ("rest", "socketio", "webchat", "whatsapp", "telegram", "messenger", "instagram")
OTHER = "other"
#: `channel` of a ticket with no channel (made in the desk, or by an integrator).
NO_CHANNEL = "none"
DIRECTIONS = ("in", "out")
FAQ_OUTCOMES = ("answered", "declined", "empty", "error")
HANDOFF_REQUEST_OUTCOMES = ("queued", "offline")
HANDOFF_END_OUTCOMES = ("resolved", "cancelled", "expired")
BACKEND_OUTCOMES = ("ok", "not_found", "rejected", "unavailable")
#: Why a backend call was unavailable: `read_timeout` (the backend was too slow),
#: `connect_timeout`, `connection` (refused, reset, DNS), `busy` (502/503/504 after the
#: retries), `server_error` (another 5xx), `unauthorized` (401: check the API key),
#: `bad_status` (a status the spec does not document), `off_spec` (a body the spec does not
#: describe), `request` (any other error of the HTTP library).
BACKEND_ERROR_KINDS = (
    "read_timeout",
    "connect_timeout",
    "connection",
    "busy",
    "server_error",
    "unauthorized",
    "bad_status",
    "off_spec",
    "request",
)
IDLE_CLOSURE_OUTCOMES = ("closed", "failed")
SWEEP_OUTCOMES = ("ok", "error")

#: Backend label values of a path that is not `/v<n>/<service>/<operation>`.
UNKNOWN_ENDPOINT = ("other", "other")
_ENDPOINT = re.compile(r"/v[0-9]+/([a-z0-9_-]{1,32})/([a-z0-9_/-]{1,64})(?:$|[\s?])")

# No `_created` series beside each counter and histogram: Prometheus does not need them.
disable_created_metrics()

#: Seconds; a backend call's whole budget is `HELPDESK_BACKEND_TIMEOUT` (4 s by default).
BACKEND_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Seconds; the queue's timeout is `HELPDESK_HANDOFF_TIMEOUT_MINUTES` (15 by default).
HANDOFF_WAIT_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)

MESSAGES = Counter(
    "helpdesk_messages",
    "Messages received from citizens (in) and sent to them (out), per channel.",
    ["channel", "direction"],
)
FAQ_ANSWERS = Counter(
    "helpdesk_faq_answers",
    "Free questions by what the assistant did: answered, declined, empty, error.",
    ["outcome"],
)
TICKETS_CREATED = Counter(
    "helpdesk_tickets_created",
    "Tickets stored, by the channel of the conversation they came from.",
    ["channel"],
)
HANDOFF_REQUESTS = Counter(
    "helpdesk_handoff_requests",
    "Requests for a human agent: queued (office hours) or offline (kept as a ticket).",
    ["outcome"],
)
HANDOFFS_ENDED = Counter(
    "helpdesk_handoffs_ended",
    "Handoffs ended: resolved by an agent, cancelled by the citizen, expired in the queue.",
    ["outcome"],
)
HANDOFF_WAIT = Histogram(
    "helpdesk_handoff_wait_seconds",
    "Time from a request for an agent until an agent took it.",
    buckets=HANDOFF_WAIT_BUCKETS,
)
BACKEND_REQUEST = Histogram(
    "helpdesk_backend_request_seconds",
    "Backend API calls, retries included, by service, operation and outcome.",
    ["service", "operation", "outcome"],
    buckets=BACKEND_BUCKETS,
)
BACKEND_ERRORS = Counter(
    "helpdesk_backend_errors",
    "Backend API calls that were unavailable, by service and kind of failure.",
    ["service", "kind"],
)
IDLE_CLOSURES = Counter(
    "helpdesk_idle_closures",
    "Idle conversations the sweeper closed, or failed to close (retried).",
    ["outcome"],
)
SWEEPS = Counter(
    "helpdesk_sweeps",
    "Passes of the idle sweeper: ok, or error (the database or Rasa failed).",
    ["outcome"],
)
SWEEP_LAST_SUCCESS = Gauge(
    "helpdesk_sweeper_last_success_timestamp_seconds",
    "Unix time of the idle sweeper's last successful pass.",
)

# Every series of a fixed label set exists from the start (at 0), so rates work at once.
for _channel in (*CHANNELS, OTHER):
    for _direction in DIRECTIONS:
        MESSAGES.labels(channel=_channel, direction=_direction)
for _counter, _outcomes in (
    (FAQ_ANSWERS, FAQ_OUTCOMES),
    (HANDOFF_REQUESTS, HANDOFF_REQUEST_OUTCOMES),
    (HANDOFFS_ENDED, HANDOFF_END_OUTCOMES),
    (IDLE_CLOSURES, IDLE_CLOSURE_OUTCOMES),
    (SWEEPS, SWEEP_OUTCOMES),
):
    for _outcome in _outcomes:
        _counter.labels(outcome=_outcome)


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}: one of {', '.join(allowed)}")
    return value


def channel_label(channel: str | None) -> str:
    """The `channel` label of a channel name: itself when known, else `other` (`none` for
    no channel)."""
    if not channel:
        return NO_CHANNEL
    name = channel.strip().lower()
    return name if name in CHANNELS else OTHER


# ------------------------------------------------------------------------------ messages


def _message_channel(channel: str | None) -> str:
    label = channel_label(channel)
    return OTHER if label == NO_CHANNEL else label


def message_in(channel: str) -> None:
    """Count a citizen's message received on `channel` (e.g. "whatsapp")."""
    MESSAGES.labels(channel=_message_channel(channel), direction="in").inc()


def message_out(channel: str) -> None:
    """Count a message the assistant sent on `channel`."""
    MESSAGES.labels(channel=_message_channel(channel), direction="out").inc()


# ------------------------------------------------------------------------------ answers


def faq_outcome(reason: str) -> str:
    """The `outcome` of a retriever decision (`helpdesk.knowledge.retriever.Answer.reason`):
    `answered`, `empty`, and `declined` for every other reason (the citizen is told the
    assistant has no answer)."""
    return reason if reason in ("answered", "empty") else "declined"


def faq_answer(outcome: str) -> None:
    """Count what the assistant did with a free question (`FAQ_OUTCOMES`).

    Raises:
        ValueError: For an outcome not in `FAQ_OUTCOMES`.
    """
    FAQ_ANSWERS.labels(outcome=_one_of(outcome, FAQ_OUTCOMES, "FAQ outcome")).inc()


def ticket_created(channel: str | None) -> None:
    """Count a ticket stored for a conversation on `channel` (None: no conversation)."""
    TICKETS_CREATED.labels(channel=channel_label(channel)).inc()


# ------------------------------------------------------------------------------ handoff


def handoff_requested(outcome: str) -> None:
    """Count a request for an agent: `queued` or `offline`.

    Raises:
        ValueError: For another outcome.
    """
    HANDOFF_REQUESTS.labels(
        outcome=_one_of(outcome, HANDOFF_REQUEST_OUTCOMES, "handoff request outcome")
    ).inc()


def handoff_ended(outcome: str) -> None:
    """Count a handoff that ended: `resolved`, `cancelled` or `expired`.

    Raises:
        ValueError: For another outcome.
    """
    HANDOFFS_ENDED.labels(outcome=_one_of(outcome, HANDOFF_END_OUTCOMES, "handoff end")).inc()


def handoff_taken(wait_seconds: float) -> None:
    """Observe how long a handoff waited before an agent took it (negative: 0)."""
    HANDOFF_WAIT.observe(max(0.0, float(wait_seconds)))


# ------------------------------------------------------------------------------ backend


def backend_endpoint(path: str) -> tuple[str, str]:
    """The `service` and `operation` labels of a backend API path, also inside a call's name:
    "/v1/digit/users/lookup" and "POST /v1/digit/users/lookup" -> ("digit", "users/lookup");
    `UNKNOWN_ENDPOINT` for anything else. The paths are the clients' constants, never what a
    citizen typed."""
    found = _ENDPOINT.search(path)
    return (found.group(1), found.group(2)) if found else UNKNOWN_ENDPOINT


def backend_request(path: str, outcome: str, seconds: float) -> None:
    """Observe one backend call to `path` that took `seconds` (retries included).

    Raises:
        ValueError: For an outcome not in `BACKEND_OUTCOMES`.
    """
    service, operation = backend_endpoint(path)
    BACKEND_REQUEST.labels(
        service=service,
        operation=operation,
        outcome=_one_of(outcome, BACKEND_OUTCOMES, "backend outcome"),
    ).observe(max(0.0, seconds))


def backend_error(path: str, kind: str) -> None:
    """Count a backend call to `path` that was unavailable, by `kind` (`BACKEND_ERROR_KINDS`).

    Raises:
        ValueError: For an unknown kind.
    """
    service, _ = backend_endpoint(path)
    BACKEND_ERRORS.labels(
        service=service, kind=_one_of(kind, BACKEND_ERROR_KINDS, "backend error kind")
    ).inc()


# ------------------------------------------------------------------------------ sweeper


def idle_closure(outcome: str) -> None:
    """Count an idle conversation `closed`, or `failed` to close.

    Raises:
        ValueError: For another outcome.
    """
    IDLE_CLOSURES.labels(outcome=_one_of(outcome, IDLE_CLOSURE_OUTCOMES, "closure outcome")).inc()


def sweep_done(ok: bool, now: float | None = None) -> None:
    """Count a sweep pass; a successful one also sets the last-success time (`now`, default
    the current Unix time)."""
    SWEEPS.labels(outcome="ok" if ok else "error").inc()
    if ok:
        SWEEP_LAST_SUCCESS.set(time.time() if now is None else now)


# ------------------------------------------------------------------------------ the queue


#: The queue gauges: name -> help.
QUEUE_GAUGES = {
    "helpdesk_handoff_queue_length": "Handoffs waiting for an agent (read at scrape time).",
    "helpdesk_handoff_queue_oldest_wait_seconds": (
        "How long the oldest waiting handoff has waited (0: nobody waits)."
    ),
}


class HandoffQueueCollector:
    """The agents' queue, read from the helpdesk database when Prometheus scrapes.

    Yields `helpdesk_handoff_queue_length` (handoffs waiting for an agent) and
    `helpdesk_handoff_queue_oldest_wait_seconds` (how long the oldest of them has waited; 0
    for an empty queue). When the database cannot be read both are left out of the scrape
    (alert on `absent(helpdesk_handoff_queue_length)`) and the error is logged.

    Args:
        read: Returns (how many wait, creation time of the oldest or None); e.g.
            `HandoffRepository.queue_summary`.
        clock: The current aware time (tests pass a fixed one).
    """

    def __init__(
        self,
        read: Callable[[], tuple[int, datetime | None]],
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._read = read
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        """The gauges without values: registering the collector reads no database."""
        return [GaugeMetricFamily(name, text) for name, text in QUEUE_GAUGES.items()]

    def collect(self) -> Iterator[Metric]:
        """Read the queue and yield its gauges (nothing when the database fails)."""
        try:
            waiting, oldest = self._read()
        except Exception as error:  # a scrape must answer even when the database is down
            logger.warning("metrics: the handoff queue could not be read: %s", error)
            return
        wait = 0.0 if oldest is None else (self._clock() - oldest).total_seconds()
        values = (float(waiting), max(0.0, wait))
        for (name, text), value in zip(QUEUE_GAUGES.items(), values, strict=True):
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], value)
            yield gauge


def collector_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of a process's own collectors, served beside the default one by `render`."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


# ------------------------------------------------------------------------------ exposition


def render(*registries: CollectorRegistry) -> bytes:
    """The body of `/metrics`: this process's metrics (the default registry, with Python's
    process and garbage-collector metrics) and those of `registries`, in Prometheus' text
    format (`CONTENT_TYPE`)."""
    return generate_latest(REGISTRY) + b"".join(generate_latest(r) for r in registries)


#: Headers a reverse proxy adds to what it forwards (nginx: X-Forwarded-For).
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def scrape_allowed(peer: str | None, headers: Mapping[str, Any] | Any, token: str = "") -> bool:
    """Whether a `/metrics` request may be answered.

    With `token` (`HELPDESK_METRICS_TOKEN`), a request carrying `Authorization: Bearer
    <token>` is answered from anywhere. Otherwise only a request from this machine is: its
    connection comes from the loopback interface and no reverse proxy forwarded it (nginx,
    which connects from loopback too, adds X-Forwarded-For).

    Args:
        peer: The address the connection comes from (not a forwarded one).
        headers: The request's headers (anything with a case-insensitive `get`).
        token: The metrics token; "" means none is configured.
    """
    if token and token_matches(bearer_token(headers.get("Authorization")), token):
        return True
    return is_loopback(peer) and not any(headers.get(name) for name in PROXY_HEADERS)

"""components.action_outage: a turn whose custom action fails is answered politely, not saved.

Rasa's own `MessageProcessor.handle_message` (session start, slot extraction, the prediction
loop, `RemoteAction`, `FormAction`, the templated response generator, an in-memory tracker
store) runs for real; only the policy is scripted and the model is not loaded. The action
server is either a closed port (connection refused) or a small aiohttp server that answers
with a chosen status.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator, Iterator

import pytest
import yaml
from aiohttp import web
from rasa.core.actions.action import action_for_name_or_text
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.data import TrainingType
from rasa.utils.endpoints import EndpointConfig

from components import action_outage, extensions

extensions.apply()  # as the Rasa server does when it loads the model

ROOT = Path(__file__).resolve().parents[2]
SENDER = "6281234567890"
NIK = "3171234567890001"
#: The real response, as the domain has it (domain/common.yml).
TECHNICAL_PROBLEM = yaml.safe_load((ROOT / "domain" / "common.yml").read_text(encoding="utf-8"))[
    "responses"
]["utter_technical_problem"]
TECHNICAL_TEXT = TECHNICAL_PROBLEM[0]["text"]
NOT_UNDERSTOOD = "Mohon maaf, kami belum memahami pesan Anda."

DOMAIN = Domain.from_dict(
    {
        "version": "3.1",
        "intents": ["greet", "ask_question", "sakti_service", "inform"],
        "entities": ["nik"],
        "slots": {
            "nik": {
                "type": "text",
                "influence_conversation": False,
                "mappings": [
                    {
                        "type": "from_entity",
                        "entity": "nik",
                        "conditions": [{"active_loop": "sakti_form", "requested_slot": "nik"}],
                    }
                ],
            }
        },
        "forms": {"sakti_form": {"required_slots": ["nik"]}},
        "actions": [
            "action_session_start",
            "action_answer_faq",
            "validate_sakti_form",
            "action_sakti_reset",
        ],
        "responses": {
            "utter_greet": [{"text": "Halo!"}],
            "utter_default": [{"text": NOT_UNDERSTOOD}],
            "utter_ask_nik": [{"text": "Silakan ketik NIK Anda."}],
            "utter_technical_problem": TECHNICAL_PROBLEM,
        },
    }
)


def test_the_project_domain_has_the_response():
    domain = Domain.load(str(ROOT / "domain"))
    assert domain.responses["utter_technical_problem"] == TECHNICAL_PROBLEM
    assert "gangguan teknis" in TECHNICAL_TEXT


# --- the action server -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch):
    """Calls made again after a lost action server go at once (the pauses are for a restart)."""
    monkeypatch.setattr(action_outage, "RETRY_PAUSES", (0.0, 0.0))


@pytest.fixture
def refused_url() -> Iterator[str]:
    """An action server URL that refuses connections (a port bound but not listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhook"
    finally:
        sock.close()


class FakeActionServer:
    """Answers every call with `status` and `body`, after the `failures` first calls (an HTTP
    status, or "drop": the connection is closed unanswered, as when the server is killed
    mid-call); records the actions called."""

    def __init__(self) -> None:
        self.url = ""
        self.status = 200
        self.body: dict[str, Any] = {"events": [], "responses": []}
        self.called: list[str] = []
        self.failures: list[int | str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.called.append((await request.json())["next_action"])
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            return web.json_response({"error": "x"}, status=failure)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def action_server() -> AsyncIterator[FakeActionServer]:
    fake = FakeActionServer()
    app = web.Application()
    app.router.add_post("/webhook", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    try:
        yield fake
    finally:
        await runner.cleanup()


# --- Rasa's processor with a scripted policy ---------------------------------------------------


class Script:
    """Stands in for the policies: predicts the given action names in order."""

    def __init__(self, processor: MessageProcessor, names: list[str]) -> None:
        self.processor = processor
        self.names = list(names)
        self.predicted: list[str] = []

    def __call__(self, tracker: DialogueStateTracker) -> tuple[Any, PolicyPrediction]:
        name = self.names.pop(0) if self.names else "action_listen"
        self.predicted.append(name)
        action = action_for_name_or_text(
            name, self.processor.domain, self.processor.action_endpoint
        )
        return action, PolicyPrediction.for_action_name(self.processor.domain, name)


def make_processor(url: str, predictions: list[str]) -> tuple[Any, Script]:
    """Rasa's `MessageProcessor` without a model: real everything but the policy and NLU."""
    processor: Any = MessageProcessor.__new__(MessageProcessor)
    processor.domain = DOMAIN
    processor.nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    processor.tracker_store = InMemoryTrackerStore(DOMAIN)
    processor.lock_store = InMemoryLockStore()
    processor.action_endpoint = EndpointConfig(url=url)
    processor.max_number_of_predictions = 10
    processor.on_circuit_break = None
    processor.http_interpreter = None
    processor.model_metadata = SimpleNamespace(
        training_type=TrainingType.BOTH, model_id="test-model", assistant_id="test"
    )
    script = Script(processor, predictions)
    processor.predict_next_with_tracker_if_should = script
    return processor, script


def message(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> UserMessage:
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
    }
    return UserMessage(
        text, CollectingOutputChannel(), SENDER, parse_data=parse_data, input_channel="rest"
    )


def texts(reply: list[dict[str, Any]] | None) -> list[str]:
    return [m.get("text") or "" for m in reply or []]


def started(*events: Event) -> list[Event]:
    """A conversation whose session has started, then `events`."""
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        *events,
    ]


async def store(processor: Any, events: list[Event]) -> list[dict[str, Any]]:
    """Save a conversation with `events`; returns them as stored (to compare later)."""
    tracker = DialogueStateTracker.from_events(SENDER, events, domain=DOMAIN)
    await processor.tracker_store.save(tracker)
    return await stored(processor)


async def stored(processor: Any) -> list[dict[str, Any]] | None:
    tracker = await processor.tracker_store.retrieve(SENDER)
    return None if tracker is None else [e.as_dict() for e in tracker.events]


# --- the action server is down -----------------------------------------------------------------


async def test_a_new_conversation_gets_the_technical_problem_and_is_not_saved(refused_url):
    processor, script = make_processor(refused_url, ["utter_greet"])

    reply = await processor.handle_message(message("halo", "greet"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert script.predicted == []  # action_session_start failed: nothing else ran
    assert not await stored(processor)  # the next message starts the session afresh


async def test_a_question_gets_the_technical_problem_not_a_fallback(refused_url):
    # Rasa alone: action_answer_faq fails, the policy goes on (here: utter_default).
    processor, script = make_processor(
        refused_url, ["action_answer_faq", "utter_default", "action_listen"]
    )
    before = await store(processor, started())

    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert NOT_UNDERSTOOD not in texts(reply)
    assert script.predicted == ["action_answer_faq"]  # nothing predicted after the failure
    assert await stored(processor) == before  # the message is not recorded


async def test_what_the_turn_said_before_the_failure_is_withdrawn_on_rest(refused_url):
    processor, script = make_processor(refused_url, ["utter_greet", "action_answer_faq"])
    before = await store(processor, started())

    reply = await processor.handle_message(message("halo, apa itu sp2d?", "ask_question"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert script.predicted == ["utter_greet", "action_answer_faq"]
    assert await stored(processor) == before


async def test_a_form_keeps_asking_for_the_value_its_validation_never_saw(refused_url):
    processor, script = make_processor(refused_url, ["sakti_form", "action_listen"])
    before = await store(
        processor,
        started(
            UserUttered("reset sakti saya", {"name": "sakti_service", "confidence": 0.99}),
            ActionExecuted("sakti_form"),
            ActiveLoop("sakti_form"),
            SlotSet("requested_slot", "nik"),
            BotUttered("Silakan ketik NIK Anda."),
            ActionExecuted("action_listen"),
        ),
    )
    nik = [{"entity": "nik", "value": NIK, "start": 0, "end": 16}]

    reply = await processor.handle_message(message(NIK, "inform", nik))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert await stored(processor) == before  # no unvalidated NIK in the slot
    tracker = await processor.tracker_store.retrieve(SENDER)
    assert tracker.get_slot("nik") is None
    assert tracker.active_loop_name == "sakti_form"
    assert tracker.get_slot("requested_slot") == "nik"


@pytest.mark.parametrize("status", [401, 404, 500])
async def test_an_action_server_error_status_is_a_technical_problem(action_server, status):
    action_server.status = status
    action_server.body = {"error": "x"}
    processor, script = make_processor(action_server.url, ["action_answer_faq", "utter_default"])
    before = await store(processor, started())

    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert action_server.called == ["action_answer_faq"]
    assert await stored(processor) == before


@pytest.mark.parametrize("failure", [502, 503, 504, "drop"])
async def test_a_call_lost_with_its_server_is_made_again_and_the_turn_goes_on(
    action_server, failure
):
    """The action server died mid-call (nginx answers 502 for it) or is restarting: the call
    goes again (behind nginx, to the other action server) and the citizen is answered."""
    action_server.failures = [failure]
    action_server.body = {"events": [], "responses": [{"text": "SP2D adalah ..."}]}
    processor, script = make_processor(action_server.url, ["action_answer_faq", "action_listen"])
    await store(processor, started())

    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == ["SP2D adalah ..."]
    assert action_server.called == ["action_answer_faq", "action_answer_faq"]
    assert script.predicted == ["action_answer_faq", "action_listen"]
    tracker = await processor.tracker_store.retrieve(SENDER)
    assert tracker.latest_message.text == "apa itu sp2d?"


async def test_a_server_lost_for_longer_than_the_pauses_is_a_technical_problem(action_server):
    action_server.failures = [502] * (len(action_outage.RETRY_PAUSES) + 1)
    processor, _ = make_processor(action_server.url, ["action_answer_faq", "utter_default"])
    before = await store(processor, started())

    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert action_server.called == ["action_answer_faq"] * (len(action_outage.RETRY_PAUSES) + 1)
    assert await stored(processor) == before


async def test_a_sakti_reset_is_never_called_twice(action_server):
    """A second run would send a second reset (and SMS): the turn fails as before."""
    action_server.failures = ["drop"]
    processor, _ = make_processor(action_server.url, ["action_sakti_reset", "utter_default"])
    before = await store(processor, started())

    reply = await processor.handle_message(message("ya, reset", "sakti_service"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert action_server.called == ["action_sakti_reset"]
    assert await stored(processor) == before


def test_only_a_lost_server_is_a_reason_to_call_again():
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import ClientResponseError

    def failed(cause: BaseException) -> Exception:
        error = RuntimeError("Failed to execute custom action")
        error.__cause__ = cause
        return error

    lost = failed(aiohttp.ServerDisconnectedError())
    assert action_outage.should_retry("action_answer_faq", lost)
    assert action_outage.should_retry("action_answer_faq", failed(ClientResponseError(502, "", "")))
    assert not action_outage.should_retry("action_sakti_reset", lost)
    assert not action_outage.should_retry("x", failed(ClientResponseError(500, "", "")))
    assert not action_outage.should_retry("x", failed(ClientResponseError(401, "", "")))
    assert not action_outage.should_retry("x", failed(asyncio.TimeoutError()))
    assert not action_outage.should_retry("x", failed(aiohttp.ServerTimeoutError()))


async def test_an_invalid_answer_is_a_technical_problem(action_server):
    action_server.body = {"events": "bukan daftar"}
    processor, _ = make_processor(action_server.url, ["action_answer_faq", "utter_default"])
    before = await store(processor, started())

    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == [TECHNICAL_TEXT]
    assert await stored(processor) == before


async def test_the_http_api_fails_instead_of_reporting_an_action_that_did_not_run(refused_url):
    """`POST /conversations/<id>/execute` (the idle sweeper): 500 and nothing saved, so the
    caller retries, instead of 200 with the action logged without its events."""
    processor, _ = make_processor(refused_url, [])
    before = await store(processor, started())
    prediction = PolicyPrediction.for_action_name(DOMAIN, "action_answer_faq")

    with pytest.raises(action_outage.ActionServerUnavailable) as raised:
        await processor.execute_action(
            SENDER, "action_answer_faq", CollectingOutputChannel(), processor.nlg, prediction
        )

    assert raised.value.action == "action_answer_faq"
    assert "ClientConnectorError" in raised.value.reason
    assert await stored(processor) == before
    processor.predict_next_with_tracker_if_should = Script(processor, ["action_answer_faq"])
    with pytest.raises(action_outage.ActionServerUnavailable):
        await processor.trigger_external_user_uttered(
            "ask_question", None, await processor.get_tracker(SENDER), CollectingOutputChannel()
        )
    assert await stored(processor) == before


async def test_the_next_turn_is_handled_normally_once_the_server_is_back(action_server):
    processor, _ = make_processor(action_server.url, ["action_answer_faq"])
    action_server.status = 503
    await store(processor, started())
    assert texts(await processor.handle_message(message("apa itu sp2d?", "ask_question"))) == [
        TECHNICAL_TEXT
    ]

    action_server.status = 200
    action_server.body = {"events": [], "responses": [{"text": "SP2D adalah ..."}]}
    processor.predict_next_with_tracker_if_should = Script(
        processor, ["action_answer_faq", "action_listen"]
    )
    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == ["SP2D adalah ..."]
    tracker = await processor.tracker_store.retrieve(SENDER)
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["apa itu sp2d?"]


# --- what stays Rasa's -------------------------------------------------------------------------


async def test_a_healthy_action_server_is_unchanged(action_server):
    action_server.body = {
        "events": [{"event": "slot", "name": "nik", "value": NIK}],
        "responses": [{"response": "utter_greet"}],
    }
    processor, script = make_processor(action_server.url, ["action_answer_faq", "action_listen"])
    await store(processor, started())

    reply = await processor.handle_message(message("halo", "greet"))

    assert texts(reply) == ["Halo!"]
    assert script.predicted == ["action_answer_faq", "action_listen"]
    tracker = await processor.tracker_store.retrieve(SENDER)
    assert tracker.get_slot("nik") == NIK
    assert tracker.latest_message.text == "halo"


async def test_a_validation_rejection_is_not_an_outage(action_server):
    """A 400 is the action server's deliberate `ActionExecutionRejection`: Rasa's meaning."""
    action_server.status = 400
    action_server.body = {"action_name": "action_answer_faq", "error": "ditolak"}
    processor, script = make_processor(action_server.url, ["action_answer_faq", "utter_default"])
    await store(processor, started())

    reply = await processor.handle_message(message("apa itu sp2d?", "ask_question"))

    assert texts(reply) == [NOT_UNDERSTOOD]
    assert script.predicted == ["action_answer_faq", "utter_default", "action_listen"]
    assert (await processor.tracker_store.retrieve(SENDER)).latest_message.text == "apa itu sp2d?"


async def test_outside_a_turn_rasa_s_behaviour_is_kept(refused_url):
    """`rasa test` and interactive learning call `_run_action` directly: Rasa goes on."""
    processor, _ = make_processor(refused_url, [])
    tracker = DialogueStateTracker.from_events(SENDER, started(), domain=DOMAIN)
    action = action_for_name_or_text("action_answer_faq", DOMAIN, processor.action_endpoint)
    prediction = PolicyPrediction.for_action_name(DOMAIN, "action_answer_faq")

    assert await processor._run_action(
        action, tracker, CollectingOutputChannel(), processor.nlg, prediction
    )
    assert tracker.latest_action_name == "action_answer_faq"


def test_apply_is_idempotent_and_wraps_each_method_once():
    from rasa.core.actions.action import RemoteAction

    assert action_outage.apply() is True
    assert action_outage.apply() is True
    for cls, name in [
        (RemoteAction, "run"),
        (MessageProcessor, "_run_action"),
        (MessageProcessor, "save_tracker"),
        (MessageProcessor, "handle_message"),
        (MessageProcessor, "execute_action"),
        (MessageProcessor, "trigger_external_user_uttered"),
    ]:
        original = getattr(getattr(cls, name), action_outage.MARK)
        assert not hasattr(original, action_outage.MARK), name
        assert original.__qualname__ == f"{cls.__name__}.{name}"


def test_another_rasa_version_is_left_alone(monkeypatch):
    import rasa

    original = getattr(MessageProcessor.handle_message, action_outage.MARK)
    monkeypatch.setattr(MessageProcessor, "handle_message", original)
    monkeypatch.setattr(rasa, "__version__", "3.7.0")

    assert action_outage.apply() is False
    assert MessageProcessor.handle_message is original


def test_describe_names_the_cause_without_contents():
    class Refused(OSError):
        pass

    try:
        try:
            raise Refused("connect to 127.0.0.1:5055 failed")
        except Refused:
            raise RuntimeError("Failed to execute custom action 'x'") from None
    except RuntimeError as error:
        assert action_outage.describe(error) == "RuntimeError"

    class Status(Exception):
        status = 401

    error = RuntimeError("x")
    error.__cause__ = Status()
    assert action_outage.describe(error) == "RuntimeError: Status HTTP 401"

"""The cached action-response validator accepts and rejects exactly what Rasa's does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from components import extensions, rasa_speedups

extensions.apply()  # as the Rasa server does when it loads the model

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "faq_id", "value": "x"}], "responses": [{"text": "a"}]},
    {},
    {
        "events": [
            {"event": "slot", "name": "a", "value": None, "timestamp": None},
            {"event": "followup", "name": "action_x"},
            {"event": "active_loop", "name": None},
            {"event": "action", "name": "action_listen", "policy": None, "confidence": None},
            {"event": "pause"},
            {"event": "user", "text": "halo", "parse_data": {"intent": {"name": "greet"}}},
            {"event": "bot", "text": "hai", "metadata": {"k": 1}},
        ],
        "responses": [{"response": "utter_x", "buttons": []}],
    },
]
BAD = [
    {"events": [{"name": "missing event type"}], "responses": []},
    {"events": "not a list"},
    {"events": [{"event": 5}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": "a"}]},  # no value
    {"events": [{"event": "slot", "name": 5, "value": 1}]},
    {"events": [{"event": "user", "parse_data": {"intent": {"confidence": "high"}}}]},
    {"events": [{"event": "action", "hide_rule_turn": "yes"}]},
    {"events": [{"event": "bot", "timestamp": "now"}]},
    {"events": ["slot"]},
    {"events": [], "responses": ["text"]},
    [],
]


def test_patch_is_installed():
    assert rasa_speedups.apply() is True
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("payload", GOOD)
def test_accepts_what_rasa_accepts(payload):
    validate(payload, RemoteAction.action_response_format_spec())  # Rasa's own check passes
    assert RemoteAction("action_x", None)._validate_action_result(payload) is True


@pytest.mark.parametrize("payload", BAD)
def test_rejects_what_rasa_rejects_with_the_same_error(payload):
    with pytest.raises(ValidationError) as expected:
        validate(payload, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as got:
        RemoteAction("action_x", None)._validate_action_result(payload)
    assert got.value.message.startswith(expected.value.message)
    assert "Failed to validate Action server response" in got.value.message


def test_event_types_resolve_as_before():
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    assert getattr(Event.resolve_by_type, "_helpdesk_speedup", False)
    for _ in range(2):  # uncached, then cached
        assert Event.resolve_by_type("user") is UserUttered
        assert Event.resolve_by_type("slot") is SlotSet
        assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no-such-event")


def test_events_round_trip_through_the_patched_lookup():
    from rasa.shared.core.events import Event, SlotSet

    event = Event.from_parameters({"event": "slot", "name": "faq_id", "value": "sp2d"})
    assert event == SlotSet("faq_id", "sp2d")


def test_endpoint_requests_reuse_one_connection_and_send_what_rasa_sends():
    """Calls to the action server go over one kept connection, with Rasa's headers and body;
    a connection the server closed is not reused."""
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    seen = []

    async def handle(request):
        seen.append(
            (
                request.transport.get_extra_info("peername")[1],
                request.headers.get("Authorization"),
                request.headers.get("Content-Type"),
                await request.json(),
            )
        )
        if request.path == "/fail":
            return web.Response(status=500, text="no")
        return web.json_response({"events": [], "n": len(seen)})

    async def scenario():
        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, keepalive_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(
            url=f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer t"}
        )
        try:
            first = await endpoint.request(json={"next_action": "a"}, method="post")
            second = await endpoint.request(json={"next_action": "b"}, method="post")
            with pytest.raises(ClientResponseError):
                await endpoint.request(json={"x": 1}, method="post", subpath="../fail")
            await asyncio.sleep(1.0)  # the server closes the idle connection
            third = await endpoint.request(json={"next_action": "c"}, method="post")
        finally:
            rasa_speedups.close_sessions()
            await runner.cleanup()
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert (first["n"], second["n"], third["n"]) == (1, 2, 4)
    assert seen[0][0] == seen[1][0]  # the same client port: one connection
    assert [s[1:3] for s in seen] == [("Bearer t", "application/json")] * 4
    bodies = [{"next_action": "a"}, {"next_action": "b"}, {"x": 1}, {"next_action": "c"}]
    assert [s[3] for s in seen] == bodies


def test_the_per_event_way_accepts_nothing_rasas_schema_refuses():
    """Every event type, with good and bad fields: whatever the short way calls valid, the
    whole schema calls valid too (the rest goes to the whole schema anyway)."""
    from jsonschema.validators import validator_for
    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    spec = RemoteAction.action_response_format_spec()
    whole = validator_for(spec)(spec)  # as jsonschema.validate, which Rasa calls
    names = [branch["properties"]["event"]["const"] for branch in EVENT_SCHEMA["oneOf"]]
    fields = [
        {},
        {"name": "x", "value": 1},
        {"name": 3},
        {"timestamp": 1.5},
        {"timestamp": "x"},
        {"metadata": []},
        {"entities": [{"entity": "e", "value": 1}]},
        {"entities": [{"entity": "e"}]},
        {"parse_data": {"entities": "x"}},
        {"hide_rule_turn": 1},
        {"text": None, "input_channel": 5},
    ]
    shown_valid = 0
    for name in names + ["unknown"]:
        for extra in fields:
            payload = {"events": [{"event": name, **extra}]}
            if rasa_speedups._plainly_valid(payload):
                shown_valid += 1
                assert whole.is_valid(payload), payload
    assert shown_valid > len(names)  # the short way does decide most of them


def test_rule_keys_are_found_as_rasa_finds_them():
    """The rules that apply to every prefix of every story and rule of data/ (rule keys made
    from windows of 1 to 3 of their states), with Rasa's walk over all states and ours."""
    import json
    from pathlib import Path

    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.constants import SHOULD_NOT_BE_SET
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.core.training_data.structures import StoryGraph

    root = Path(__file__).resolve().parents[2]
    domain = Domain.load(str(root / "domain"))
    steps = []
    for path in sorted((root / "data").rglob("*.yml")):
        if YAMLStoryReader.is_stories_file(path):
            steps += YAMLStoryReader(domain, str(path)).read_from_file(str(path))
    trackers = TrainingDataGenerator(
        StoryGraph(steps), domain, remove_duplicates=False, augmentation_factor=0
    ).generate()
    histories = [domain.states_for_tracker_history(tracker) for tracker in trackers]
    lookup = {}
    for states in histories:
        for end in range(1, len(states) + 1):
            for size in (1, 2, 3):
                if end - size >= 0:
                    window = states[end - size : end]
                    lookup[json.dumps(window, sort_keys=True)] = "action"
                    # as trained rules have them: features that must not be set
                    unset = [dict(state) for state in window]
                    unset[-1]["active_loop"] = {"name": SHOULD_NOT_BE_SET}
                    if "slots" in unset[0]:
                        unset[0]["slots"] = {k: SHOULD_NOT_BE_SET for k in unset[0]["slots"]}
                    lookup[json.dumps(unset, sort_keys=True)] = "action"
    lookup[json.dumps([], sort_keys=True)] = "action"  # a rule with no states applies always
    policy = RulePolicy.__new__(RulePolicy)  # the methods compared use no instance state
    rasa_walk = RulePolicy._get_possible_keys._rasa
    compared = found = unset_found = 0
    for states in histories:
        for end in range(1, len(states) + 1):
            expected = rasa_walk(policy, lookup, states[:end])
            assert rasa_speedups._get_possible_keys(policy, lookup, states[:end]) == expected
            compared += 1
            unset_found += any(SHOULD_NOT_BE_SET in key for key in expected)
            found += bool(expected)
    assert compared > 200 and found > 100 and unset_found > 50


def test_the_model_load_hands_freed_memory_back(monkeypatch):
    """The Rasa server's launcher wraps `load_agent`: the agent comes back unchanged, after
    the freed memory is returned (once per load)."""
    import asyncio

    import rasa.core.agent as agent_module

    calls = []

    async def load_agent(*args, **kwargs):
        calls.append(("load", args, kwargs))
        return "agent"

    monkeypatch.setattr(agent_module, "load_agent", load_agent)
    monkeypatch.setattr(rasa_speedups, "return_freed_memory", lambda: calls.append("trim"))
    rasa_speedups.release_memory_after_load()
    rasa_speedups.release_memory_after_load()  # idempotent
    assert asyncio.run(agent_module.load_agent(model_path="m")) == "agent"
    assert calls == [("load", (), {"model_path": "m"}), "trim"]
    rasa_speedups.return_freed_memory()  # the real one runs here (glibc) without error


def test_diet_predicts_through_the_concrete_graph_as_rasa_does(tmp_path):
    """A small DIET trained here: after Rasa's first call made the prediction function, the
    speed-up calls its concrete graph; rankings and confidences equal Rasa's own path."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa.utils.tensorflow.models import RasaModel

    assert rasa_speedups.apply() is True
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    examples = {
        "greet": ["halo", "selamat pagi", "hai min", "assalamualaikum"],
        "ask_question": ["apa itu sp2d", "bagaimana cara reset password", "syarat kontrak apa"],
        "goodbye": ["terima kasih", "sampai jumpa", "dadah"],
    }
    training = TrainingData(
        [Message(data={"text": t, "intent": i}) for i, texts in examples.items() for t in texts]
    )
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process_training_data(training)
    featurizer = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(),
        storage,
        Resource("cvf"),
        context,
    )
    featurizer.train(training)
    featurizer.process_training_data(training)
    diet = DIETClassifier.create(
        {**DIETClassifier.get_default_config(), "epochs": 2, "random_seed": 1},
        storage,
        Resource("diet"),
        context,
    )
    diet.train(training)

    def predict(texts):
        messages = [Message(data={"text": t}) for t in texts]
        tokenizer.process(messages)
        featurizer.process(messages)
        return [
            [(r["name"], round(r["confidence"], 5)) for r in m.get("intent_ranking")]
            for m in diet.process(messages)
        ]

    texts = ["halo selamat siang", "apa syarat kontrak", "terima kasih banyak", "xyz"]
    predict(texts[:1])  # Rasa's first call makes the prediction function
    ours = predict(texts)
    assert "_helpdesk_concrete_predict" in diet.model.__dict__
    RasaModel._rasa_predict = rasa_speedups._rasa_predict._rasa
    try:
        assert predict(texts) == ours
    finally:
        RasaModel._rasa_predict = rasa_speedups._rasa_predict

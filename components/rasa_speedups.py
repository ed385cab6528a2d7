"""Speed-ups for the Rasa 3.6 server, applied when the model's custom components are imported.

`RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)` on every
action-server response. `jsonschema.validate` first validates the *schema itself* against the
JSON-Schema meta-schema, every time; on our FAQ benchmark that was 39% of the Rasa server's
CPU (py-spy, 8 concurrent conversations). The replacement checks the schema once, keeps one
compiled validator, and validates every response exactly as before: the same schema, the same
`best_match` error, the same message. Only the repeated meta-schema check is gone.

Most responses are then checked event by event against the one branch of the events'
`oneOf` that the event's type names (the others cannot match an event of another type),
which is a tenth of the work; whatever that way does not show valid goes through the whole
schema as before.

`Event.resolve_by_type` walks every subclass of `Event` (recursively, with `inspect`) for each
event it deserialises; loading a tracker from the SQL tracker store deserialises every event
of the session, which was 15% of a single user's round trip. The replacement remembers the
class found for each type name and otherwise defers to Rasa's own lookup.

`EndpointConfig.request` opened a new aiohttp session, and so a new TCP connection, for every
call to the action server (about 1 ms of the Rasa server's loop per action). The replacement
keeps one session per endpoint and event loop, with keep-alive connections that the client
closes after `KEEPALIVE_SECONDS` idle (before the action server's own 5 s keep-alive timeout,
so a connection the server is closing is not reused), and sends exactly what Rasa sends.

`MessageProcessor.parse_message` runs the NLU pipeline in the Rasa server's event loop, so
while one message was being understood (DIET, the e5 embedding of the blended classifier)
no other conversation moved. The replacement runs the same pipeline, unchanged, in one worker
thread: messages are still understood one at a time, but the loop meanwhile predicts, saves
and calls the action server for the others, and the parts that release the GIL (TensorFlow,
the e5 engine) run beside it on the second core.

`RulePolicy._get_possible_keys` narrows the rules down state by state, from the latest back to
the first state of the session, although a rule of n states is decided by the last n (the
longest of ours has 3): the rest of the walk kept every remaining rule, at a cost that grew
with the conversation. It also parsed each rule's JSON key again for every state, and matched
the latest state against every rule, twice per prediction. The replacement compiles each rule
once per model, starts with the rules whose latest turn allows the state's previous action,
and stops once every remaining rule is shorter than the states walked; its result is the
same set.

`RasaModel._rasa_predict` (DIET's prediction) called its `tf.function`, which matched the
inputs against the function's one input signature on every call; the replacement calls the
concrete graph behind it (3.9 -> 3.0 ms a message, the same outputs).

Loading the model (TensorFlow tracing DIET's training and prediction graphs) leaves about
120 MB of freed memory in the C allocator that it does not hand back to the system:
`release_memory_after_load()`, installed by the Rasa server's launcher
(scripts/rasa_server.py) before Rasa starts, returns it after every model load
(`malloc_trim`; the server's RSS went from about 1,040 to 920 MB after loading).

Nothing else in Rasa is changed. The patch is idempotent and applies only to the Rasa version
it was written for, so an upgrade does not silently keep a stale patch.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from functools import lru_cache
from typing import Any, Dict, List, Set, Tuple

logger = logging.getLogger(__name__)

#: Rasa versions whose RemoteAction._validate_action_result this patch reproduces.
SUPPORTED_RASA = ("3.6.",)


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@lru_cache(maxsize=1)
def _checks_by_event() -> Tuple[Any, Dict[str, Any]]:
    """A validator of the response with its events left out, and one per event type: the
    event schema with the one `oneOf` branch whose `event` constant is that type."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    schema = RemoteAction.action_response_format_spec()
    outer = {**schema, "properties": {**schema["properties"], "events": {"type": "array"}}}
    base = {key: value for key, value in EVENT_SCHEMA.items() if key != "oneOf"}
    by_type: Dict[str, Any] = {}
    for branch in EVENT_SCHEMA["oneOf"]:
        name = branch["properties"]["event"]["const"]
        assert name not in by_type  # noqa: S101 - the constants tell the branches apart
        by_type[name] = validator_for(EVENT_SCHEMA)({**base, "allOf": [branch]})
    return validator_for(schema)(outer), by_type


def _plainly_valid(result: Any) -> bool:
    """Whether `result` is valid by a shorter way than the whole schema's: an event whose
    `event` is one branch's constant fails every other branch of the `oneOf`, so it is
    valid exactly when it is valid against that branch. False means "not shown valid": the
    whole schema then decides (and words the error)."""
    outer, by_type = _checks_by_event()
    if not outer.is_valid(result):
        return False
    for event in result.get("events") or ():
        check = by_type.get(event.get("event")) if isinstance(event, dict) else None
        if check is None or not check.is_valid(event):
            return False
    return True


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """Drop-in for RemoteAction._validate_action_result with a cached validator."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    if _plainly_valid(result):
        return True
    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)  # noqa: S101 - best_match returns one
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


_event_types: Dict[str, Any] = {}


def _make_resolve_by_type(original: Any) -> Any:
    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        """Drop-in for Event.resolve_by_type that remembers each type name's class."""
        cached = _event_types.get(type_name)
        if cached is not None:
            return cached
        try:
            cls = original(type_name)
        except ValueError:
            if default is not None:
                return default
            raise
        if cls is not None:
            _event_types[type_name] = cls
        return cls

    resolve_by_type._helpdesk_speedup = True  # type: ignore[attr-defined]
    return resolve_by_type


#: Idle keep-alive connections to an endpoint are closed after this many seconds.
KEEPALIVE_SECONDS = 2.0
#: Per event loop, the sessions of the endpoints (by URL, headers and credentials).
_sessions: "weakref.WeakKeyDictionary[Any, Dict[Any, Any]]" = weakref.WeakKeyDictionary()


def _shared_session(endpoint: Any) -> Any:
    """The endpoint's aiohttp session of the running event loop (made on first use)."""
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    sessions = _sessions.setdefault(asyncio.get_running_loop(), {})
    key = (
        endpoint.url,
        tuple(sorted((endpoint.headers or {}).items())),
        tuple(sorted((endpoint.basic_auth or {}).items())),
    )
    session = sessions.get(key)
    if session is None or session.closed:
        auth = None
        if endpoint.basic_auth:
            auth = aiohttp.BasicAuth(
                endpoint.basic_auth["username"], endpoint.basic_auth["password"]
            )
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
        )
        sessions[key] = session
    return session


def close_sessions() -> None:
    """Closes the kept sessions' connections (at exit: no "unclosed session" warnings)."""
    for sessions in list(_sessions.values()):
        for session in sessions.values():
            if not session.closed:
                session.connector._close()  # synchronous; close() only wraps it
        sessions.clear()


async def _request(
    self: Any,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any:
    """Drop-in for EndpointConfig.request (Rasa 3.6) on a kept session."""
    import os
    import ssl

    from aiohttp import ContentTypeError
    from rasa.shared.exceptions import FileNotFoundException
    from rasa.utils.endpoints import ClientResponseError, concat_url

    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs["headers"])
        del kwargs["headers"]
    if self.headers:
        headers.update(self.headers)
    url = concat_url(self.url, subpath)
    sslcontext = None
    if self.cafile:
        try:
            sslcontext = ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as e:
            raise FileNotFoundException(
                f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not exist."
            ) from e
    async with _shared_session(self).request(
        method,
        url,
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        ssl=sslcontext,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(
                response.status, response.reason, await response.content.read()
            )
        try:
            return await response.json()
        except ContentTypeError:
            return None


@lru_cache(maxsize=1)
def _nlu_executor() -> Any:
    """The one thread that runs the NLU pipeline of the Rasa server (made on first use)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")


async def _parse_message(
    self: Any, message: Any, tracker: Any = None, only_output_properties: bool = True
) -> Dict[str, Any]:
    """Rasa 3.6's MessageProcessor.parse_message with the pipeline run in `_nlu_executor`."""
    import asyncio
    import copy
    import functools

    from rasa.core.processor import structlogger
    from rasa.shared.core.trackers import DialogueStateTracker

    if self.http_interpreter:
        parse_data = await self.http_interpreter.parse(message)
    else:
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = await asyncio.get_running_loop().run_in_executor(
            _nlu_executor(),
            functools.partial(
                self._parse_message_with_graph, message, tracker, only_output_properties
            ),
        )
    self._update_full_retrieval_intent(parse_data)
    structlogger.debug(
        "processor.message.parse",
        parse_data_text=copy.deepcopy(parse_data["text"]),
        parse_data_intent=parse_data["intent"],
        parse_data_entities=copy.deepcopy(parse_data["entities"]),
    )
    self._check_for_unseen_features(parse_data)
    return parse_data


#: A rule state compiled for matching: whether it has a previous action, and its conditions as
#: (state type, key, value, value must be unset). Rasa's `_does_rule_match_state` ignores the
#: features a rule state gives no (truthy) value.
_RuleTurn = Tuple[bool, Tuple[Tuple[str, str, Any, bool], ...]]


def _compiled_turn(rule_state: Dict[str, Any]) -> _RuleTurn:
    from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET

    conditions = []
    for state_type, sub_state in rule_state.items():
        for key, value in sub_state.items():
            if isinstance(value, list):  # JSON made the tuples lists (as Rasa converts back)
                value = tuple(value)
            if value:
                conditions.append((state_type, key, value, value == SHOULD_NOT_BE_SET))
    return bool(rule_state.get(PREVIOUS_ACTION)), tuple(conditions)


def _turn_applies(turn: _RuleTurn, state: Dict[str, Any], has_previous: bool) -> bool:
    """Rasa's `_is_rule_applicable` for a turn the rule has."""
    from rasa.shared.core.constants import SHOULD_NOT_BE_SET

    rule_has_previous, conditions = turn
    if not rule_has_previous and not has_previous:
        return True
    if not rule_has_previous or not has_previous:
        return False
    for state_type, key, value, must_be_unset in conditions:
        current = state.get(state_type, {}).get(key)
        if must_be_unset:
            if current and current != SHOULD_NOT_BE_SET:
                return False
        elif current != value:
            return False
    return True


class _RuleIndex:
    """The rule keys of one lookup, each compiled once (latest turn first), and grouped by the
    previous action their latest turn requires: a state whose previous action is A can only
    start the walk with the rules requiring A or none."""

    def __init__(self, lookup: Dict[str, str], to_states: Any) -> None:
        from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET

        self.size = len(lookup)
        self.turns: Dict[str, List[_RuleTurn]] = {}
        self.by_previous_action: Dict[Any, List[str]] = {}
        for key in lookup:
            states = to_states(key)
            self.turns[key] = [_compiled_turn(state) for state in reversed(states)]
            name = states[-1].get(PREVIOUS_ACTION, {}).get("action_name") if states else None
            if name == SHOULD_NOT_BE_SET:
                name = None  # not a required action: the rule goes with the unfiltered ones
            self.by_previous_action.setdefault(name or None, []).append(key)

    def first_candidates(self, state: Dict[str, Any]) -> List[str]:
        from rasa.shared.core.constants import PREVIOUS_ACTION

        name = state.get(PREVIOUS_ACTION, {}).get("action_name")
        return self.by_previous_action.get(None, []) + (
            self.by_previous_action.get(name, []) if name else []
        )


def _rule_index(policy: Any, lookup: Dict[str, str]) -> _RuleIndex:
    """The `_RuleIndex` of `lookup`, kept on the policy (its lookups do not change once
    trained or loaded; a changed size builds it again)."""
    indexes = policy.__dict__.setdefault("_helpdesk_rule_indexes", {})
    entry = indexes.get(id(lookup))
    if entry is None or entry[0] is not lookup or entry[1].size != len(lookup):
        entry = (lookup, _RuleIndex(lookup, policy._rule_key_to_state))
        indexes[id(lookup)] = entry
    return entry[1]


def _get_possible_keys(self: Any, lookup: Dict[str, str], states: List[Any]) -> Set[str]:
    """Rasa 3.6's RulePolicy._get_possible_keys with each rule compiled once, the latest state
    matched only against the rules its previous action allows, and the walk stopped where no
    rule reaches further back (`_is_rule_applicable(key, i, state)` is True for every i >= the
    rule's length). The same set as Rasa's."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    if not states:
        return set(lookup)
    index = _rule_index(self, lookup)
    turns = index.turns
    possible: List[str] = []
    for i, state in enumerate(reversed(states)):
        has_previous = bool(state.get(PREVIOUS_ACTION))
        candidates = index.first_candidates(state) if i == 0 else possible
        kept = []
        for key in candidates:
            rule = turns[key]
            if i >= len(rule) or _turn_applies(rule[i], state, has_previous):
                kept.append(key)
        possible = kept
        if all(len(turns[key]) <= i + 1 for key in possible):
            break
    return set(possible)


def _rasa_predict(self: Any, batch_in: Tuple[Any, ...]) -> Dict[str, Any]:
    """Rasa 3.6's `RasaModel._rasa_predict` (DIET's prediction), calling the one concrete graph
    its `tf.function` holds (made with an input signature, so there is only one) instead of
    the `tf.function`, which matched the inputs against that signature again on every call:
    3.9 -> 3.0 ms a message, the same outputs. The first call, eager mode and a function made
    again go through Rasa's own method."""
    step = self._tf_predict_step
    if step is None or self._run_eagerly or not self.prepared_for_prediction:
        return _rasa_predict._rasa(self, batch_in)  # type: ignore[attr-defined]
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow import models

    kept = self.__dict__.get("_helpdesk_concrete_predict")  # not a Keras-tracked attribute
    if kept is None or kept[0] is not step:
        kept = (step, step.get_concrete_function())
        self.__dict__["_helpdesk_concrete_predict"] = kept
    self._training = False
    outputs = models.tf_utils.sync_to_numpy_or_python_type(kept[1](list(batch_in)))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


def return_freed_memory() -> None:
    """Collects garbage and hands the C allocator's free memory back to the system (glibc's
    `malloc_trim`; elsewhere only the collection)."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def release_memory_after_load() -> None:
    """Makes `rasa.core.agent.load_agent` (the Rasa server's model load, at start and on a
    new model) return the memory it freed. Idempotent."""
    import rasa.core.agent as agent_module

    original = agent_module.load_agent
    if getattr(original, "_helpdesk_speedup", False):
        return

    async def load_agent(*args: Any, **kwargs: Any) -> Any:
        loaded = await original(*args, **kwargs)
        return_freed_memory()
        return loaded

    load_agent._helpdesk_speedup = True  # type: ignore[attr-defined]
    agent_module.load_agent = load_agent  # type: ignore[assignment]


def apply() -> bool:
    """Install the speed-ups; returns whether they are active."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.tensorflow.models import RasaModel

    if not rasa.__version__.startswith(SUPPORTED_RASA):
        logger.warning("rasa %s: speed-ups not applied (written for 3.6)", rasa.__version__)
        return False
    if not getattr(RemoteAction._validate_action_result, "_helpdesk_speedup", False):
        _validate_action_result._helpdesk_speedup = True  # type: ignore[attr-defined]
        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    if not getattr(EndpointConfig.request, "_helpdesk_speedup", False):
        _request._helpdesk_speedup = True  # type: ignore[attr-defined]
        EndpointConfig.request = _request  # type: ignore[method-assign]
        atexit.register(close_sessions)
    if not getattr(RulePolicy._get_possible_keys, "_helpdesk_speedup", False):
        _get_possible_keys._helpdesk_speedup = True  # type: ignore[attr-defined]
        _get_possible_keys._rasa = RulePolicy._get_possible_keys  # type: ignore[attr-defined]
        RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]
    if not getattr(RasaModel._rasa_predict, "_helpdesk_speedup", False):
        _rasa_predict._helpdesk_speedup = True  # type: ignore[attr-defined]
        _rasa_predict._rasa = RasaModel._rasa_predict  # type: ignore[attr-defined]
        RasaModel._rasa_predict = _rasa_predict  # type: ignore[method-assign]
    if not getattr(MessageProcessor.parse_message, "_helpdesk_speedup", False):
        _parse_message._helpdesk_speedup = True  # type: ignore[attr-defined]
        MessageProcessor.parse_message = _parse_message  # type: ignore[method-assign]
    if not getattr(Event.resolve_by_type, "_helpdesk_speedup", False):
        Event.resolve_by_type = staticmethod(  # type: ignore[method-assign]
            _make_resolve_by_type(Event.resolve_by_type)
        )
    return True

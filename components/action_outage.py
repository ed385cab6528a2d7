"""When the action server cannot run an action, the citizen hears so and nothing false is saved.

Rasa 3.6 turns every failure of a custom action (action server down or restarting, a 401, a
5xx, a timeout, an invalid answer) into an exception that `MessageProcessor._run_action`
catches: it logs "Bot will continue", records the action as executed without its events and
predicts the next action. With the action server down that gave HTTP 200 and wrong content:
"kami belum memahami", empty replies, a bare greeting; in a form, a value the validation never
saw stayed in its slot.

`apply()` makes a conversation turn all or nothing with respect to the action server:

- `RemoteAction.run` calls the action again when its server was lost mid-call or could not
  be reached (killed, restarting; nginx's 502 for an upstream that died), after pauses of
  about 10 s in all (`RETRY_PAUSES`; behind nginx the second call goes to the other action
  server at once), unless a second run would repeat an effect outside the helpdesk's
  database (`NOT_RETRIED`: the SAKTI reset, which sends an SMS). The actions that write
  (tickets, ratings, handoffs) are keyed so that a second run stores nothing twice. A timeout,
  a refusal (401) or an action's own error (500) is not retried;
- it notes the first failure of the turn that remains (an `ActionExecutionRejection`, a
  validation's deliberate 400, is no failure and keeps Rasa's meaning);
- `MessageProcessor._run_action` stops the turn right after the failed action (before or
  after it, when the failure was in slot extraction), so no further action is predicted and
  nothing more is said;
- `MessageProcessor.save_tracker` refuses to save a turn with a failure: the conversation stays
  as it was before the message, exactly as if Rasa had crashed during it, so the retry finds the
  same state (a session that never started starts then; a form asks again for the same slot);
- `MessageProcessor.handle_message` answers such a turn with the domain's
  `utter_technical_problem` ("Mohon maaf, sedang terjadi gangguan teknis ... Silakan coba
  beberapa saat lagi"), rendered by Rasa itself, so it needs no action server. On a collecting
  channel (REST) it is the whole reply: what the turn said before the failure is withdrawn
  with it;
- `execute_action` and `trigger_external_user_uttered` (the HTTP API that the idle sweeper and
  the desk worker call, and reminders) raise instead, so the API answers 500 and the caller
  retries, rather than 200 for an action that did not run.

Failures outside a turn (`rasa test`, interactive learning) keep Rasa's behaviour.

Why patches: Rasa builds `MessageProcessor` by name in `rasa.core.agent.Agent.load_model` and
`RemoteAction` in `action_for_name_or_text`, with no setting for other classes. Like
`components.rasa_speedups`, the patches are applied by `components/__init__.py` (imported by
Rasa because the model's pipeline uses these components), are idempotent, and apply only to
the Rasa version they were written for.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable

logger = logging.getLogger(__name__)

#: Rasa versions whose MessageProcessor and RemoteAction this extends.
SUPPORTED_RASA = ("3.6.",)
#: The domain response said when a turn failed (domain/common.yml).
UTTER_TECHNICAL_PROBLEM = "utter_technical_problem"
#: Attribute that marks our wrappers (and holds what they wrap).
MARK = "_helpdesk_action_outage"
#: Pauses before a custom action is called again after its server was lost mid-call or could
#: not be reached: about 10 s in all, what a supervisor takes to restart one (behind nginx the
#: second call goes to the other action server at once).
RETRY_PAUSES = (0.5, 1.5, 3.0, 5.0)
#: Proxy statuses for an upstream that died or is busy.
RETRIED_STATUSES = frozenset({502, 503, 504})
#: Actions whose second run repeats an effect outside the helpdesk's database (a SAKTI reset
#: sends an SMS): called once; when the call is lost the turn fails with the apology.
NOT_RETRIED = frozenset({"action_sakti_reset"})


class ActionServerUnavailable(Exception):
    """A custom action of this turn could not be run: the turn is abandoned, not saved.

    Args:
        action: Name of the action that failed.
        reason: What went wrong, without message contents (e.g. "ClientConnectorError").
    """

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"custom action {action!r} could not be run: {reason}")
        self.action = action
        self.reason = reason


@dataclass
class _Turn:
    """What one conversation turn has seen so far."""

    failure: ActionServerUnavailable | None = None
    tracker: Any = None


#: The turn being handled in this task (asyncio gives each request its own context).
_turn: ContextVar[_Turn | None] = ContextVar("helpdesk_action_outage_turn", default=None)


def describe(error: BaseException) -> str:
    """A short, content-free description of why a custom action failed.

    Args:
        error: What `RemoteAction.run` raised; Rasa wraps aiohttp's errors in a
            `RasaException` whose cause (or context) is the original.
    """
    parts = [type(error).__name__]
    cause = error.__cause__
    if cause is None and not error.__suppress_context__:
        cause = error.__context__
    if cause is not None:
        status = getattr(cause, "status", None)
        parts.append(f"{type(cause).__name__}" + (f" HTTP {status}" if status else ""))
    return ": ".join(parts)


def should_retry(action: str, error: BaseException) -> bool:
    """Whether a failed call of `action` is made again: the action server was lost mid-call
    or could not be reached (a crash, a restart, a proxy's 502/503/504 for an upstream that
    died or is busy), and a second run of the action repeats nothing outside the helpdesk's
    database. A timeout, a refusal (401), an action's own error (500) are not retried."""
    import aiohttp

    if action in NOT_RETRIED:
        return False
    cause = error.__cause__
    if cause is None and not error.__suppress_context__:
        cause = error.__context__
    if isinstance(cause, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return False
    if isinstance(cause, aiohttp.ClientConnectionError):
        return True
    return getattr(cause, "status", None) in RETRIED_STATUSES


def _check(turn: _Turn | None) -> None:
    if turn is not None and turn.failure is not None:
        raise turn.failure


def _make_remote_run(original: Callable[..., Any]) -> Callable[..., Any]:
    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> Any:
        """Rasa's `RemoteAction.run`, called again while `should_retry` says so (its server
        was lost), then noting the turn's first failure before re-raising."""
        from rasa.core.actions.action import ActionExecutionRejection

        pauses = iter(RETRY_PAUSES)
        while True:
            try:
                return await original(self, output_channel, nlg, tracker, domain)
            except ActionExecutionRejection:
                raise
            except Exception as error:
                pause = next(pauses, None) if should_retry(self.name(), error) else None
                if pause is None:
                    turn = _turn.get()
                    if turn is not None and turn.failure is None:
                        turn.failure = ActionServerUnavailable(self.name(), describe(error))
                    raise
                logger.warning(
                    "custom action %r failed (%s); called again in %.1f s",
                    self.name(),
                    describe(error),
                    pause,
                )
            await asyncio.sleep(pause)

    setattr(run, MARK, original)
    return run


def _make_run_action(original: Callable[..., Any]) -> Callable[..., Any]:
    async def _run_action(
        self: Any, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
    ) -> bool:
        """Rasa's `_run_action`, stopping the turn once a custom action has failed."""
        turn = _turn.get()
        if turn is None:
            return await original(self, action, tracker, output_channel, nlg, prediction)
        turn.tracker = tracker
        _check(turn)  # slot extraction already failed: run nothing more
        should_predict = await original(self, action, tracker, output_channel, nlg, prediction)
        _check(turn)
        return should_predict

    setattr(_run_action, MARK, original)
    return _run_action


def _make_save_tracker(original: Callable[..., Any]) -> Callable[..., Any]:
    async def save_tracker(self: Any, tracker: Any) -> None:
        """Rasa's `save_tracker`, refusing a turn in which a custom action failed."""
        _check(_turn.get())
        await original(self, tracker)

    setattr(save_tracker, MARK, original)
    return save_tracker


async def _apologise(processor: Any, message: Any, turn: _Turn) -> Any:
    """Say `utter_technical_problem` on the message's channel; what `handle_message` returns."""
    from rasa.core.actions.action import create_bot_utterance
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.trackers import DialogueStateTracker

    channel = message.output_channel
    collecting = isinstance(channel, CollectingOutputChannel)
    if collecting and isinstance(channel.messages, list):
        channel.messages.clear()  # the turn is withdrawn: so is what it said so far
    tracker = turn.tracker or DialogueStateTracker(message.sender_id, processor.domain.slots)
    reply = await processor.nlg.generate(UTTER_TECHNICAL_PROBLEM, tracker, channel.name())
    if reply:
        await channel.send_response(message.sender_id, create_bot_utterance(reply).message())
    else:
        logger.error(
            "the domain has no %r response: the citizen got no reply", UTTER_TECHNICAL_PROBLEM
        )
    return channel.messages if collecting else None


def _make_handle_message(original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_message(self: Any, message: Any) -> Any:
        """Rasa's `handle_message`; a turn whose custom action failed is answered with
        `utter_technical_problem` and not saved."""
        turn = _Turn()
        token = _turn.set(turn)
        try:
            return await original(self, message)
        except ActionServerUnavailable as outage:
            logger.error(
                "%s; answered %s, the message is not recorded (the citizen is asked to retry)",
                outage,
                UTTER_TECHNICAL_PROBLEM,
            )
            return await _apologise(self, message, turn)
        finally:
            _turn.reset(token)

    setattr(handle_message, MARK, original)
    return handle_message


def _make_api_entry(original: Callable[..., Any]) -> Callable[..., Any]:
    async def entry(self: Any, *args: Any, **kwargs: Any) -> Any:
        """Rasa's HTTP API entry point; a turn whose custom action failed raises (500) and
        is not saved."""
        token = _turn.set(_Turn())
        try:
            return await original(self, *args, **kwargs)
        except ActionServerUnavailable as outage:
            logger.error("%s; the request fails and is not recorded (its caller retries)", outage)
            raise
        finally:
            _turn.reset(token)

    entry.__name__ = entry.__qualname__ = original.__name__
    setattr(entry, MARK, original)
    return entry


def _wrap(cls: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    current = getattr(cls, name)
    if not hasattr(current, MARK):
        setattr(cls, name, make(current))


def apply() -> bool:
    """Install the extension; returns whether it is active."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    if not rasa.__version__.startswith(SUPPORTED_RASA):
        logger.warning(
            "rasa %s: a failing action server is left to Rasa (components.action_outage was "
            "written for 3.6)",
            rasa.__version__,
        )
        return False
    _wrap(RemoteAction, "run", _make_remote_run)
    _wrap(MessageProcessor, "_run_action", _make_run_action)
    _wrap(MessageProcessor, "save_tracker", _make_save_tracker)
    _wrap(MessageProcessor, "handle_message", _make_handle_message)
    _wrap(MessageProcessor, "execute_action", _make_api_entry)
    _wrap(MessageProcessor, "trigger_external_user_uttered", _make_api_entry)
    return True

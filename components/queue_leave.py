"""A waiting citizen's "batal" is answered at once: Rasa lets that one message through the pause.

A conversation queued for a human agent is paused (`action_handoff` returns
`ConversationPaused`), and Rasa 3.6 predicts nothing for a paused conversation unless the
intent is `restart` (`MessageProcessor._should_handle_message`). So a citizen's "batal" while
waiting got no reply, and on a synchronous channel (REST: the reply is the HTTP response) the
"left the queue" message the desk worker sent later could not reach them at all.

`apply()` widens that one check: a paused conversation's message is also handled when

- the conversation waits in the queue (slot `handoff_waiting`, set by `action_handoff`),
- the message's intent is one with which a citizen leaves the queue
  (`helpdesk.handoff.service.LEAVE_INTENTS`: `cancel`, the intent of the rule that runs
  `action_leave_queue`), and
- no action has run yet for that message, so exactly one action runs for it: the rule's
  `action_leave_queue`, which either resumes the conversation or (an agent took it a moment
  ago) pauses it again; a failing action server cannot make Rasa loop.

Everything else about pausing is Rasa's: other messages, and "batal" once an agent holds the
conversation, are logged for the agent and the bot stays silent.

Why a patch and not a subclass: Rasa builds its `MessageProcessor` by name in
`rasa.core.agent.Agent.load_model`, with no setting for another class, and this package is
imported while that processor loads the model, i.e. after it exists. Replacing the static
method on the class is the smallest change that reaches it. Like `components.rasa_speedups`,
the patch is applied by `components/__init__.py` (imported by Rasa because the model's
pipeline uses these components), is idempotent, and applies only to the Rasa version it was
written for.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from helpdesk.handoff.service import LEAVE_INTENTS

logger = logging.getLogger(__name__)

#: Rasa versions whose MessageProcessor._should_handle_message this extends.
SUPPORTED_RASA = ("3.6.",)
#: The slot that says the conversation waits in the queue (domain/handoff.yml,
#: `actions.slots.HANDOFF_WAITING`).
HANDOFF_WAITING_SLOT = "handoff_waiting"


def leaves_the_queue(tracker: Any) -> bool:
    """Whether a paused conversation's latest message is a waiting citizen's "batal" that no
    action has answered yet.

    Args:
        tracker: Rasa's `DialogueStateTracker`.
    """
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    if not tracker.is_paused() or tracker.get_slot(HANDOFF_WAITING_SLOT) is not True:
        return False
    latest = tracker.latest_message
    if latest is None or (latest.intent or {}).get(INTENT_NAME_KEY) not in LEAVE_INTENTS:
        return False
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return False  # an action already ran for this message
        if isinstance(event, UserUttered):
            return True
    return False


def _make_should_handle_message(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def should_handle_message(tracker: Any) -> bool:
        """Rasa's check, plus a waiting citizen's "batal" in a paused conversation."""
        return original(tracker) or leaves_the_queue(tracker)

    should_handle_message._helpdesk_original = original  # type: ignore[attr-defined]
    return should_handle_message


def apply() -> bool:
    """Install the extension; returns whether it is active."""
    import rasa
    from rasa.core.processor import MessageProcessor

    if not rasa.__version__.startswith(SUPPORTED_RASA):
        logger.warning(
            "rasa %s: 'batal' in the agents' queue is left to the desk worker "
            "(components.queue_leave was written for 3.6)",
            rasa.__version__,
        )
        return False
    current = MessageProcessor._should_handle_message
    if not hasattr(current, "_helpdesk_original"):
        MessageProcessor._should_handle_message = staticmethod(  # type: ignore[method-assign]
            _make_should_handle_message(current)
        )
    return True

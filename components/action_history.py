"""The action server is sent the recent part of the conversation, not the whole session.

Rasa sends each custom action the tracker with every event of the session
(`RemoteAction._action_call_format`, `EventVerbosity.ALL`): about 11 events and 5 KB of JSON
per message, so in a long WhatsApp session the request grew with every message (at the 100th
message about 500 KB, written by the Rasa server and parsed again by the action server for
each action). The actions read the slots, the latest message and the active loop, which the
tracker state carries whatever the events, and look back in the events only a little way:
the whole text of the latest message, whether it opened the session, when the current form
run started.

`apply()` replaces `_action_call_format` with one that sends the same state and the events
from the `RECENT_USER_MESSAGES`-th last user message on, extended back to the user message
before the activation of the active loop if that is earlier; the actions in
`WHOLE_SESSION_ACTIONS` (the handoffs, which write the transcript of the session into an
offline ticket, and the actions that store a finished form once, keyed by its activation)
get every event of the session. With fewer user messages in the session,
all events are sent, as before.
The domain goes with the request as Rasa decides (endpoints.yml, `enable_selective_domain`).

tests/components/test_action_history.py checks the window, and that every action that hands
a conversation over or reads a form's activation is in `WHOLE_SESSION_ACTIONS`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

logger = logging.getLogger(__name__)

#: Rasa versions whose RemoteAction._action_call_format this reproduces.
SUPPORTED_RASA = ("3.6.",)
#: User messages of history an action is sent (with everything after the first of them).
RECENT_USER_MESSAGES = 5
#: Actions sent every event of the session: those that hand a conversation over
#: (actions/handoff.py `HandsOver`), which put its transcript into an offline ticket, and
#: those that key what a finished form stored by the form's activation (`form_started_at`).
WHOLE_SESSION_ACTIONS = frozenset(
    {
        "action_handoff",
        "action_faq_rejected",
        "action_flow_end",
        "action_create_ticket",
        "action_save_csat",
    }
)
MARK = "_helpdesk_action_history"


def recent_events(tracker: Any, action_name: str) -> List[Any]:
    """The events of `tracker` an action named `action_name` is sent."""
    from rasa.shared.core.events import ActiveLoop, UserUttered

    events = tracker.events
    if action_name in WHOLE_SESSION_ACTIONS:
        return list(events)
    loop = tracker.active_loop_name
    users = 0
    loop_found = loop is None
    for back, event in enumerate(reversed(events), start=1):
        if isinstance(event, UserUttered):
            users += 1
        elif not loop_found and isinstance(event, ActiveLoop) and event.name == loop:
            loop_found = True
        if users >= RECENT_USER_MESSAGES and loop_found and isinstance(event, UserUttered):
            return list(events)[len(events) - back :]
    return list(events)


def _action_call_format(self: Any, tracker: Any, domain: Any) -> Dict[str, Any]:
    """Rasa 3.6's RemoteAction._action_call_format with the recent events only."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = [event.as_dict() for event in recent_events(tracker, self.name())]
    result: Dict[str, Any] = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        result["domain"] = domain.as_dict()
    return result


def apply() -> bool:
    """Install the replacement; returns whether it is active."""
    import rasa
    from rasa.core.actions.action import RemoteAction

    if not rasa.__version__.startswith(SUPPORTED_RASA):
        logger.warning("rasa %s: action history window not applied", rasa.__version__)
        return False
    if not getattr(RemoteAction._action_call_format, MARK, False):
        setattr(_action_call_format, MARK, True)
        RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
    return True

"""A dialogue state tracker whose past states cost one step per new event, not per message.

Every prediction of MemoizationPolicy and RulePolicy asks the tracker for its past states
(`DialogueStateTracker.past_states` -> `Domain.states_for_tracker_history`), and Rasa rebuilds
them from the first event of the session each time: it replays every applied event on a fresh
tracker and computes a state before each action. A message is predicted several times, so the
cost of a message grew with the length of the conversation (py-spy, 105-question conversation:
26% of the Rasa server's CPU, the 100th message 4x slower than the 5th).

`IncrementalStatesTracker.past_states` runs the same walk, step for step (the loop below is
`Domain.states_for_tracker_history` of Rasa 3.6 with its state kept between calls), and
remembers where it stopped: the replayed tracker, the states so far and the walk's two flags.
The next call continues from there when the events applied before are still applied, in
the same order (checked by identity: a reverted user message or action, or a form's repeated
execution, removes applied events, and the walk then starts again from the beginning). The
state after the last event is computed on every call, without being remembered, because the
next event may change it. Callers get their own copy of each state's user part, the only part
Rasa's featurizers edit in place.

tests/components/test_incremental_tracker.py replays every test conversation and compares the
states with Rasa's own walk at every prediction.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import operator
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from rasa.shared.core.constants import PREVIOUS_ACTION, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

#: Attributes of a tracker holding its walks: of past states (one per kind of call) and of
#: applied events.
WALKS = "_helpdesk_state_walks"
APPLIED = "_helpdesk_applied_walk"
#: Attributes the tracker store (components/tracker_store.py) sets on a tracker it read or
#: wrote: how many of its events are in the database, and the id of the last of them. A copy
#: carries none of these.
STORED = "_helpdesk_stored_events"
LAST_ID = "_helpdesk_last_event_id"


def _frozen(rule_only_data: Dict[str, Any] | None) -> Tuple[Tuple[str, Tuple[Any, ...]], ...]:
    if not rule_only_data:
        return ()
    return tuple(sorted((key, tuple(value)) for key, value in rule_only_data.items()))


class _StatesWalk:
    """`Domain.states_for_tracker_history` as a walk that can be continued."""

    def __init__(
        self,
        replay: DialogueStateTracker,
        domain: Domain,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: Dict[str, Any] | None,
    ) -> None:
        self.replay = replay
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data
        self.applied: List[Event] = []
        self.states: List[State] = []
        self.last_ml_action_sub_state: Dict[str, Any] | None = None
        self.turn_was_hidden = False

    def continues(self, applied: List[Event]) -> bool:
        """Whether `applied` starts with the events this walk has applied, in order."""
        done = len(self.applied)
        return len(applied) >= done and all(map(operator.is_, applied, self.applied))

    def advance(self, applied: List[Event]) -> None:
        for event in applied[len(self.applied) :]:
            if isinstance(event, ActionExecuted):
                state, self.last_ml_action_sub_state, self.turn_was_hidden = self._state(
                    event.hide_rule_turn, self.last_ml_action_sub_state, self.turn_was_hidden
                )
                if state is not None:
                    self.states.append(state)
            self.replay.update(event)
            self.applied.append(event)

    def states_now(self) -> List[State]:
        """The states so far and the state after the last event (the caller's copies)."""
        final, _, _ = self._state(False, self.last_ml_action_sub_state, self.turn_was_hidden)
        states = [_own_user_part(state) for state in self.states]
        if final is not None:
            # Its user part may be the last state's (Rasa's rule-only substitution).
            states.append(_own_user_part(final))
        return states

    def _state(
        self, hide_rule_turn: bool, last_ml_action_sub_state: Any, turn_was_hidden: bool
    ) -> Tuple[State | None, Any, bool]:
        """One step of Rasa's loop on the replayed tracker: (state or None if the turn is
        hidden, the two flags after the step)."""
        tracker, domain = self.replay, self.domain
        if self.ignore_rule_only_turns:
            # remember previous ml action based on the last non hidden turn
            if not turn_was_hidden:
                last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
            # followup action or happy path loop prediction don't change whether the
            # dialogue turn should be hidden
            if (
                not tracker.followup_action
                and tracker.latest_action_name != tracker.active_loop_name
            ):
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return None, last_ml_action_sub_state, turn_was_hidden
        state = domain.get_active_state(tracker, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = last_ml_action_sub_state
        return domain._clean_state(state), last_ml_action_sub_state, turn_was_hidden


def _own_user_part(state: State) -> State:
    user = state.get(USER)
    if user is None:
        return dict(state)
    return {**state, USER: dict(user)}


class _AppliedEvents:
    """`DialogueStateTracker.applied_events` as a walk that can be continued."""

    def __init__(self, events: Sequence[Event]) -> None:
        #: Rasa decides a loop's repeated executions with the loop names of all events.
        self.loop_names = _loop_names(events)
        self.seen = 0
        self.last: Event | None = None
        self.applied: List[Event] = []

    def continues(self, events: Sequence[Event]) -> bool:
        """Whether `events` are the events seen so far and maybe more, naming no new loop."""
        if len(events) < self.seen or (self.seen and events[self.seen - 1] is not self.last):
            return False
        return _loop_names(itertools.islice(events, self.seen, None)) <= self.loop_names

    def advance(self, tracker: DialogueStateTracker) -> List[Event]:
        applied = self.applied
        for event in itertools.islice(tracker.events, self.seen, None):
            # The loop body of Rasa 3.6's DialogueStateTracker.applied_events.
            if isinstance(event, (Restarted, SessionStarted)):
                applied.clear()
            elif isinstance(event, ActionReverted):
                tracker._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                tracker._undo_till_previous(UserUttered, applied)
                tracker._undo_till_previous(ActionExecuted, applied)
            elif (
                isinstance(event, ActionExecuted)
                and event.action_name in self.loop_names
                and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
            ):
                tracker._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)
            self.last = event
            self.seen += 1
        return list(applied)


def _loop_names(events: Iterable[Event]) -> set:
    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


class IncrementalStatesTracker(DialogueStateTracker):
    """A `DialogueStateTracker` that continues its past states from the previous call."""

    def applied_events(self) -> List[Event]:
        """Rasa's applied events, continued from the previous call."""
        walk = self.__dict__.get(APPLIED)
        if walk is None or not walk.continues(self.events):
            walk = self.__dict__[APPLIED] = _AppliedEvents(self.events)
        return walk.advance(self)

    def copy(self) -> DialogueStateTracker:
        """A duplicate of this tracker, as Rasa's `copy` makes it, without replaying events.

        Rasa's copy replays every event on a new tracker (the processor copies the tracker
        before each action). This one copies the state instead: the same events (a new
        list), copies of the slots, of the active loop and of the latest action, and no model
        or assistant id, as the replay leaves them. tests/components/test_incremental_tracker.py
        compares both on every prefix of every test conversation.
        """
        duplicate = copy.copy(self)
        state = duplicate.__dict__
        for name in (WALKS, APPLIED, STORED, LAST_ID):
            state.pop(name, None)
        duplicate.events = duplicate._create_events(list(self.events))
        duplicate.slots = type(self.slots)(
            (name, copy.copy(slot)) for name, slot in self.slots.items()
        )
        if self.active_loop is not None:
            duplicate.active_loop = dataclasses.replace(self.active_loop)
        if self.latest_action is not None:
            duplicate.latest_action = dict(self.latest_action)
        duplicate.model_id = None
        duplicate.assistant_id = None
        return duplicate

    def past_states(
        self,
        domain: Domain,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Dict[str, Any] | None = None,
    ) -> List[State]:
        applied = self.applied_events()
        walks: Dict[Any, _StatesWalk] = self.__dict__.setdefault(WALKS, {})
        key = (id(domain), omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
        walk = walks.get(key)
        if walk is None or walk.domain is not domain or not walk.continues(applied):
            walk = _StatesWalk(
                self.init_copy(), domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
            )
            walks[key] = walk
        walk.advance(applied)
        return walk.states_now()

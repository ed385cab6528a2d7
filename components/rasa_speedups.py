"""Speed-ups for the Rasa 3.6 server, applied when the model's custom components are imported.

`RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)` on every
action-server response. `jsonschema.validate` first validates the *schema itself* against the
JSON-Schema meta-schema, every time; on our FAQ benchmark that was 39% of the Rasa server's
CPU (py-spy, 8 concurrent conversations). The replacement checks the schema once, keeps one
compiled validator, and validates every response exactly as before: the same schema, the same
`best_match` error, the same message. Only the repeated meta-schema check is gone.

`Event.resolve_by_type` walks every subclass of `Event` (recursively, with `inspect`) for each
event it deserialises; loading a tracker from the SQL tracker store deserialises every event
of the session, which was 15% of a single user's round trip. The replacement remembers the
class found for each type name and otherwise defers to Rasa's own lookup.

Nothing else in Rasa is changed. The patch is idempotent and applies only to the Rasa version
it was written for, so an upgrade does not silently keep a stale patch.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict

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


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """Drop-in for RemoteAction._validate_action_result with a cached validator."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

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


def apply() -> bool:
    """Install the speed-ups; returns whether they are active."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

    if not rasa.__version__.startswith(SUPPORTED_RASA):
        logger.warning("rasa %s: speed-ups not applied (written for 3.6)", rasa.__version__)
        return False
    if not getattr(RemoteAction._validate_action_result, "_helpdesk_speedup", False):
        _validate_action_result._helpdesk_speedup = True  # type: ignore[attr-defined]
        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    if not getattr(Event.resolve_by_type, "_helpdesk_speedup", False):
        Event.resolve_by_type = staticmethod(  # type: ignore[method-assign]
            _make_resolve_by_type(Event.resolve_by_type)
        )
    return True

"""Backend answers: error bodies decoded, messages scrubbed, fields read and checked."""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any, NoReturn

import requests

from helpdesk import metrics
from helpdesk.backends.errors import BackendUnavailable
from helpdesk.security.masking import mask_digits, mask_identifiers

# The HTTP layer's logger: its records are checked for personal data under this name.
logger = logging.getLogger("helpdesk.backends.http")

_MAX_MESSAGE = 200


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask personal data in a text that came from outside (a backend's error message).

    Args:
        text: The text to clean.
        secrets: Exact values to mask wherever they occur (e.g. the request's NIK).

    Returns:
        The text with `secrets`, e-mail addresses and runs of 7 or more digits masked,
        cut to 200 characters.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, mask_digits(secret))
    text = mask_identifiers(text)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 3] + "..."
    return text


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The response's JSON object, or None if the body is not JSON or not an object."""
    try:
        data = response.json()
    except ValueError:  # requests.JSONDecodeError, UnicodeDecodeError
        return None
    return data if isinstance(data, dict) else None


def _error_body(response: requests.Response) -> tuple[str, str, str | None] | None:
    """`(code, message, field)` of a spec `Error` body, or None if the body is not one."""
    data = _json_object(response)
    error = data.get("error") if data is not None else None
    if not isinstance(error, dict):
        return None
    code, message, field = error.get("code"), error.get("message"), error.get("field")
    if not isinstance(code, str) or not code or not isinstance(message, str):
        return None
    if field is not None and not isinstance(field, str):
        return None
    return code, message, field


def _error_code(response: requests.Response) -> str:
    """The `error.code` of a failure body when it has one (for logs), else ""."""
    error = _error_body(response)
    return scrub(error[0])[:40] if error else ""


class ResponseReader:
    """Typed, checked access to the fields of one JSON object of a backend answer.

    Every failed check raises `BackendUnavailable` naming the call and the field, never the
    value (values may be personal data).

    Args:
        data: The JSON object.
        what: The call or object, for error messages (e.g. "POST /v1/sp2d/lookup").
    """

    def __init__(self, data: Any, what: str) -> None:
        self.what = what
        if not isinstance(data, dict):
            self.off_spec("is not an object")
        self.data: dict[str, Any] = data

    def off_spec(self, problem: str) -> NoReturn:
        """Raise `BackendUnavailable` for an answer that does not match the spec (counted as
        `helpdesk_backend_errors_total{kind="off_spec"}`)."""
        metrics.backend_error(self.what, "off_spec")
        logger.warning("backend %s answered off the spec: %s", self.what, problem)
        raise BackendUnavailable(f"backend {self.what} answered off the spec: {problem}")

    def _get(self, key: str) -> Any:
        if key not in self.data:
            self.off_spec(f"field {key!r} is missing")
        return self.data[key]

    def text(self, key: str, *, pattern: str | None = None) -> str:
        """A required string, optionally matching a full regular expression."""
        value = self._get(key)
        if not isinstance(value, str):
            self.off_spec(f"field {key!r} is not a string")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            self.off_spec(f"field {key!r} does not match {pattern}")
        return value

    def optional_text(self, key: str) -> str | None:
        """A required key whose value is a string or null."""
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            self.off_spec(f"field {key!r} is not a string or null")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        """A required string that is one of `options`."""
        value = self.text(key)
        if value not in options:
            self.off_spec(f"field {key!r} is not one of {', '.join(options)}")
        return value

    def boolean(self, key: str) -> bool:
        """A required boolean."""
        value = self._get(key)
        if not isinstance(value, bool):
            self.off_spec(f"field {key!r} is not a boolean")
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int:
        """A required integer (booleans and floats are refused)."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.off_spec(f"field {key!r} is not an integer")
        if minimum is not None and value < minimum:
            self.off_spec(f"field {key!r} is below {minimum}")
        return value

    def iso_date(self, key: str) -> date:
        """A required ISO date string ("2026-01-31")."""
        parsed = self.optional_iso_date(key)
        if parsed is None:
            self.off_spec(f"field {key!r} is null")
        return parsed

    def optional_iso_date(self, key: str) -> date | None:
        """A required key whose value is an ISO date string or null."""
        value = self.optional_text(key)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.off_spec(f"field {key!r} is not an ISO date")

    def array(self, key: str, *, min_items: int = 0) -> list[Any]:
        """A required array with at least `min_items` items."""
        value = self._get(key)
        if not isinstance(value, list):
            self.off_spec(f"field {key!r} is not an array")
        if len(value) < min_items:
            self.off_spec(f"field {key!r} has fewer than {min_items} items")
        return value

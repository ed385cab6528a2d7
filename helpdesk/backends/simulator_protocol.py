"""The wire format of the backend simulator: its replies, the spec's `Error` body, and the
validation of request bodies against the request schemas of `docs/backend-api.yaml`.

Malformed input is a 422 `invalid_request`, never a crash: JSON nested too deep for Python's
parser and numbers of thousands of digits included; a lone surrogate echoed in an error is
replaced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from helpdesk.backends.models import DIGIT_ACTIONS, ID_TYPES, SAKTI_RESET_KINDS

JSON_TYPE = "application/json"

#: The `error.code` values of the spec's `Error` schema; no other code is ever sent.
ERROR_CODES: tuple[str, ...] = (
    "invalid_request",
    "unauthorized",
    "not_found",
    "requester_not_owner",
    "email_mismatch",
    "already_active",
    "not_blocked",
    "not_active",
    "request_in_progress",
    "unavailable",
)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer of the simulator.

    Attributes:
        status: The HTTP status code.
        body: The body, already encoded.
        content_type: The `Content-Type` header.
        delay: Seconds to wait before answering (fault injection `slow`).
        headers: Further headers, e.g. `Allow` on a 405.
    """

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


class ApiError(Exception):
    """An answer with an `Error` body; raised anywhere in an operation, turned into a `Reply`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def reply(self, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
        """The `Error` body of the spec as a reply."""
        return error_reply(self.status, self.code, self.message, self.field, headers)


def json_reply(status: int, payload: Mapping[str, Any], delay: float = 0.0) -> Reply:
    """A reply with a JSON body."""
    body = _encode(payload)
    return Reply(status=status, body=body, delay=delay)


def _encode(payload: Mapping[str, Any]) -> bytes:
    """JSON in UTF-8; a lone surrogate (from a request, echoed in an error) becomes "?"."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", errors="replace")


def error_reply(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    """A reply with the spec's `Error` body.

    Raises:
        ValueError: If `code` is not one of `ERROR_CODES` (a bug in the simulator).
    """
    if code not in ERROR_CODES:
        raise ValueError(f"error code {code!r} is not in the spec")
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return Reply(status=status, body=_encode({"error": error}), headers=headers)


# -- request validation -----------------------------------------------------------------------
@dataclass(frozen=True)
class FieldRule:
    """The rule of one string field of a request body (every field of every request is one).

    Attributes:
        rule: How the rule reads in an error message, e.g. "must be 15 digits".
        pattern: A regular expression the whole value must match.
        choices: The values allowed.
        min_length: The shortest value allowed.
        max_length: The longest value allowed.
    """

    rule: str
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    min_length: int = 0
    max_length: int | None = None

    def accepts(self, value: Any) -> bool:
        """Whether `value` satisfies the rule."""
        if not isinstance(value, str):
            return False
        if self.choices and value not in self.choices:
            return False
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return False
        return len(value) >= self.min_length and (
            self.max_length is None or len(value) <= self.max_length
        )


def _one_of(values: tuple[str, ...]) -> FieldRule:
    return FieldRule(rule=f"must be one of: {', '.join(values)}", choices=values)


_SATKER = FieldRule(rule="must be 6 digits", pattern="[0-9]{6}")
_NIK = FieldRule(rule="must be 16 digits", pattern="[0-9]{16}")
_PHONE = FieldRule(rule="must be a phone number 62... (10 to 15 digits)", pattern="62[0-9]{8,13}")
_ID_TYPE = _one_of(ID_TYPES)
_ID_VALUE = FieldRule(rule="must be 5 to 18 digits", pattern="[0-9]{5,18}")
_EMAIL = FieldRule(rule="must be 3 to 254 characters", min_length=3, max_length=254)

#: The request body of each operation: its fields (all required) in the spec's order; no other
#: field is allowed (`additionalProperties: false`).
REQUEST_RULES: dict[str, dict[str, FieldRule]] = {
    "/v1/sp2d/lookup": {
        "sp2d_number": FieldRule(rule="must be 15 digits", pattern="[0-9]{15}"),
        "account_number": FieldRule(rule="must be 5 to 20 digits", pattern="[0-9]{5,20}"),
    },
    "/v1/contracts/lookup": {
        "satker_code": _SATKER,
        "contract_number": FieldRule(
            rule="must be 3 to 100 characters", min_length=3, max_length=100
        ),
    },
    "/v1/digit/users/lookup": {"id_type": _ID_TYPE, "id_value": _ID_VALUE},
    "/v1/digit/users/email-check": {"id_type": _ID_TYPE, "id_value": _ID_VALUE, "email": _EMAIL},
    "/v1/digit/requests": {
        "action": _one_of(DIGIT_ACTIONS),
        "id_type": _ID_TYPE,
        "id_value": _ID_VALUE,
        "email": _EMAIL,
    },
    "/v1/sakti/users/satkers": {"nik": _NIK, "requester_phone": _PHONE},
    "/v1/sakti/resets": {
        "kind": _one_of(SAKTI_RESET_KINDS),
        "nik": _NIK,
        "satker_code": _SATKER,
        "requester_phone": _PHONE,
    },
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes, rules: Mapping[str, FieldRule]) -> dict[str, str]:
    """Parse and validate a request body.

    Args:
        body: The raw request body.
        rules: The fields of the operation's request schema.

    Returns:
        The fields, all strings.

    Raises:
        ApiError: 422 `invalid_request`, with `field` when one field is at fault.
    """
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(422, "invalid_request", "the body is not JSON (UTF-8)") from exc
    except RecursionError as exc:
        raise ApiError(422, "invalid_request", "the body nests too deep") from exc
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    for name in data:
        if name not in rules:
            raise ApiError(422, "invalid_request", f"unknown field {name!r}", field=name)
    for name, rule in rules.items():
        if name not in data:
            raise ApiError(422, "invalid_request", f"{name} is required", field=name)
        if not rule.accepts(data[name]):
            raise ApiError(422, "invalid_request", f"{name} {rule.rule}", field=name)
    return cast("dict[str, str]", data)

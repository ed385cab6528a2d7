"""Errors of the backend clients; actions turn each into a polite reply."""

from __future__ import annotations


class BackendError(Exception):
    """Base of every backend client error."""


class BackendUnavailable(BackendError):
    """The backend is down, too slow, misconfigured, or answered something off the spec."""


class NotFound(BackendError):
    """No such record (HTTP 404)."""


class Rejected(BackendError):
    """The backend refused the request (HTTP 403, 409 or 422).

    Attributes:
        code: The `error.code` of the response (e.g. `requester_not_owner`, `email_mismatch`).
        field: The request field at fault, for `invalid_request`.
    """

    def __init__(self, code: str, message: str = "", field: str | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.field = field

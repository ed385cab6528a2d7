"""Client of the DIGIT account services (`/v1/digit/...`)."""

from __future__ import annotations

from helpdesk.backends.checks import is_digits, require
from helpdesk.backends.decoding import ResponseReader
from helpdesk.backends.http import BackendHttp
from helpdesk.backends.models import (
    DIGIT_ACTIONS,
    DIGIT_STATUSES,
    ID_TYPES,
    DigitEmailCheck,
    DigitRequestResult,
    DigitUser,
)

USER_PATH = "/v1/digit/users/lookup"
EMAIL_CHECK_PATH = "/v1/digit/users/email-check"
REQUEST_PATH = "/v1/digit/requests"


def _check_identity(id_type: str, id_value: str) -> None:
    require(id_type in ID_TYPES, f"id_type must be one of {', '.join(ID_TYPES)}")
    require(is_digits(id_value, 5, 18), "id_value must be 5 to 18 digits")


def _check_email(email: str) -> None:
    require(
        isinstance(email, str) and 3 <= len(email) <= 254,
        "email must be a string of 3 to 254 characters",
    )


class DigitClient:
    """Status, e-mail check and activation / reset / unblock of DIGIT accounts.

    Args:
        http: The shared backend HTTP layer.
    """

    def __init__(self, http: BackendHttp) -> None:
        self.http = http

    def user_status(self, id_type: str, id_value: str) -> DigitUser:
        """The status of the account of a NIK, NIP or NRP; read-only, retried like every lookup.

        Args:
            id_type: "nik", "nip" or "nrp".
            id_value: The number, 5 to 18 digits.

        Returns:
            The account's status and masked e-mail.

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            NotFound: No DIGIT account for this identity.
            Rejected: The backend refused the request (`invalid_request`).
            BackendUnavailable: The backend is down, too slow or answered off the spec.
        """
        _check_identity(id_type, id_value)
        data = self.http.post(
            USER_PATH, {"id_type": id_type, "id_value": id_value}, idempotent=True
        )
        reader = ResponseReader(data, f"POST {USER_PATH}")
        return DigitUser(
            id_type=reader.choice("id_type", ID_TYPES),
            status=reader.choice("status", DIGIT_STATUSES),
            email_masked=reader.text("email_masked"),
        )

    def check_email(self, id_type: str, id_value: str, email: str) -> DigitEmailCheck:
        """Whether `email` is the registered address (case-insensitive); read-only, retried.

        Args:
            id_type: "nik", "nip" or "nrp".
            id_value: The number, 5 to 18 digits.
            email: The address the citizen gave.

        Returns:
            Whether it matches, and the registered address masked.

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            NotFound: No DIGIT account for this identity.
            Rejected: The backend refused the request (`invalid_request`).
            BackendUnavailable: The backend is down, too slow or answered off the spec.
        """
        _check_identity(id_type, id_value)
        _check_email(email)
        data = self.http.post(
            EMAIL_CHECK_PATH,
            {"id_type": id_type, "id_value": id_value, "email": email},
            idempotent=True,
        )
        reader = ResponseReader(data, f"POST {EMAIL_CHECK_PATH}")
        return DigitEmailCheck(
            matches=reader.boolean("matches"),
            email_masked=reader.text("email_masked"),
        )

    def request(self, action: str, id_type: str, id_value: str, email: str) -> DigitRequestResult:
        """Ask for an activation, reset or unblock link; a state change, sent exactly once.

        Args:
            action: "activation", "reset" or "unblock".
            id_type: "nik", "nip" or "nrp".
            id_value: The number, 5 to 18 digits.
            email: The registered address (the link goes there).

        Returns:
            The accepted request.

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            NotFound: No DIGIT account for this identity.
            Rejected: The state does not allow it (`email_mismatch`, `already_active`,
                `not_blocked`, `request_in_progress`) or `invalid_request`.
            BackendUnavailable: The backend is down, too slow or answered off the spec; the
                request may or may not have been done.
        """
        require(action in DIGIT_ACTIONS, f"action must be one of {', '.join(DIGIT_ACTIONS)}")
        _check_identity(id_type, id_value)
        _check_email(email)
        data = self.http.post(
            REQUEST_PATH,
            {"action": action, "id_type": id_type, "id_value": id_value, "email": email},
            idempotent=False,
            expected_status=202,
        )
        reader = ResponseReader(data, f"POST {REQUEST_PATH}")
        return DigitRequestResult(
            request_id=reader.text("request_id"),
            action=reader.choice("action", DIGIT_ACTIONS),
            status=reader.choice("status", DIGIT_STATUSES),
            sent_to=reader.text("sent_to"),
        )

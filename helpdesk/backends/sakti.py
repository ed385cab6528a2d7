"""Client of the SAKTI user services (`/v1/sakti/...`)."""

from __future__ import annotations

from helpdesk.backends.checks import is_digits, require
from helpdesk.backends.decoding import ResponseReader
from helpdesk.backends.http import BackendHttp
from helpdesk.backends.models import SAKTI_RESET_KINDS, SaktiResetResult, SaktiSatker

SATKERS_PATH = "/v1/sakti/users/satkers"
RESET_PATH = "/v1/sakti/resets"


def _check_owner(nik: str, requester_phone: str) -> None:
    require(is_digits(nik, 16), "nik must be 16 digits")
    require(
        is_digits(requester_phone, 10, 15) and requester_phone.startswith("62"),
        "requester_phone must be 62 followed by 8 to 13 digits",
    )


class SaktiClient:
    """Work units and password / MFA resets of SAKTI users, for the account's owner only.

    Args:
        http: The shared backend HTTP layer.
    """

    def __init__(self, http: BackendHttp) -> None:
        self.http = http

    def satkers(self, nik: str, requester_phone: str) -> list[SaktiSatker]:
        """The work units a NIK is a SAKTI user in; read-only, retried like every lookup.

        Args:
            nik: The user's NIK, 16 digits.
            requester_phone: The verified phone of the person asking, "62..." without "+".

        Returns:
            The work units (at least one).

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            Rejected: `requester_not_owner` (the phone is not the NIK's, or the NIK is unknown)
                or `invalid_request`.
            BackendUnavailable: The backend is down, too slow or answered off the spec.
        """
        _check_owner(nik, requester_phone)
        data = self.http.post(
            SATKERS_PATH, {"nik": nik, "requester_phone": requester_phone}, idempotent=True
        )
        what = f"POST {SATKERS_PATH}"
        items = ResponseReader(data, what).array("satkers", min_items=1)
        satkers = []
        for item in items:
            reader = ResponseReader(item, f"{what} satkers[]")
            satkers.append(
                SaktiSatker(
                    satker_code=reader.text("satker_code", pattern="[0-9]{6}"),
                    satker_name=reader.optional_text("satker_name"),
                )
            )
        return satkers

    def reset(
        self, kind: str, nik: str, satker_code: str, requester_phone: str
    ) -> SaktiResetResult:
        """Reset a password or an MFA; a state change, sent exactly once.

        The new password, or the link to the new MFA QR code, goes by SMS to the registered
        phone, never in the answer.

        Args:
            kind: "password" or "mfa".
            nik: The user's NIK, 16 digits.
            satker_code: The work unit of the account to reset, 6 digits.
            requester_phone: The verified phone of the person asking, "62..." without "+".

        Returns:
            The done reset and the masked phone the SMS went to.

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            NotFound: The NIK is not a user in this work unit.
            Rejected: `requester_not_owner` or `invalid_request`.
            BackendUnavailable: The backend is down, too slow or answered off the spec; the
                reset may or may not have been done.
        """
        require(kind in SAKTI_RESET_KINDS, f"kind must be one of {', '.join(SAKTI_RESET_KINDS)}")
        _check_owner(nik, requester_phone)
        require(is_digits(satker_code, 6), "satker_code must be 6 digits")
        data = self.http.post(
            RESET_PATH,
            {
                "kind": kind,
                "nik": nik,
                "satker_code": satker_code,
                "requester_phone": requester_phone,
            },
            idempotent=False,
            expected_status=202,
        )
        reader = ResponseReader(data, f"POST {RESET_PATH}")
        return SaktiResetResult(
            request_id=reader.text("request_id"),
            kind=reader.choice("kind", SAKTI_RESET_KINDS),
            satker_code=reader.text("satker_code", pattern="[0-9]{6}"),
            sms_to=reader.text("sms_to"),
        )

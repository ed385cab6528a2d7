"""Client of the SP2D lookup (`POST /v1/sp2d/lookup`)."""

from __future__ import annotations

from helpdesk.backends.checks import is_digits, require
from helpdesk.backends.decoding import ResponseReader
from helpdesk.backends.http import BackendHttp
from helpdesk.backends.models import Sp2dInfo

LOOKUP_PATH = "/v1/sp2d/lookup"


class Sp2dClient:
    """Looks up SP2D (fund disbursement orders) by number and recipient account.

    Args:
        http: The shared backend HTTP layer.
    """

    def __init__(self, http: BackendHttp) -> None:
        self.http = http

    def lookup(self, sp2d_number: str, account_number: str) -> Sp2dInfo:
        """Information about one SP2D; read-only, retried on connection errors and 502/503/504.

        Args:
            sp2d_number: The SP2D number, 15 digits.
            account_number: The recipient's bank account number, 5 to 20 digits.

        Returns:
            The SP2D.

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            NotFound: No SP2D with this number and account number.
            Rejected: The backend refused the request (`invalid_request`).
            BackendUnavailable: The backend is down, too slow or answered off the spec.
        """
        require(is_digits(sp2d_number, 15), "sp2d_number must be 15 digits")
        require(is_digits(account_number, 5, 20), "account_number must be 5 to 20 digits")
        data = self.http.post(
            LOOKUP_PATH,
            {"sp2d_number": sp2d_number, "account_number": account_number},
            idempotent=True,
        )
        return parse_sp2d_info(data)


def parse_sp2d_info(data: object) -> Sp2dInfo:
    """Check and convert an `Sp2dInfo` object of the spec.

    Raises:
        BackendUnavailable: If the object does not match the spec.
    """
    reader = ResponseReader(data, f"POST {LOOKUP_PATH}")
    return Sp2dInfo(
        sp2d_number=reader.text("sp2d_number", pattern="[0-9]{15}"),
        satker_code=reader.text("satker_code", pattern="[0-9]{6}"),
        satker_name=reader.text("satker_name"),
        spm_number=reader.text("spm_number"),
        amount=reader.integer("amount", minimum=0),
        date=reader.iso_date("date"),
        status=reader.text("status"),
    )

"""Client of the contract registration lookup (`POST /v1/contracts/lookup`)."""

from __future__ import annotations

from helpdesk.backends.checks import is_digits, require
from helpdesk.backends.decoding import ResponseReader
from helpdesk.backends.http import BackendHttp
from helpdesk.backends.models import ContractRegistration

LOOKUP_PATH = "/v1/contracts/lookup"


class ContractClient:
    """Checks whether a contract is registered at the KPPN.

    Args:
        http: The shared backend HTTP layer.
    """

    def __init__(self, http: BackendHttp) -> None:
        self.http = http

    def check(self, satker_code: str, contract_number: str) -> ContractRegistration:
        """The registration of one contract; read-only, retried like every lookup.

        Args:
            satker_code: The work unit's code, 6 digits.
            contract_number: The full contract number as written on the contract (3 to 100
                characters).

        Returns:
            The registration; `registered` is False for a contract submitted but not yet
            registered.

        Raises:
            ValueError: If an argument is malformed (a bug in the caller).
            NotFound: The system has never seen this contract for this work unit.
            Rejected: The backend refused the request (`invalid_request`).
            BackendUnavailable: The backend is down, too slow or answered off the spec.
        """
        require(is_digits(satker_code, 6), "satker_code must be 6 digits")
        require(
            isinstance(contract_number, str) and 3 <= len(contract_number) <= 100,
            "contract_number must be a string of 3 to 100 characters",
        )
        data = self.http.post(
            LOOKUP_PATH,
            {"satker_code": satker_code, "contract_number": contract_number},
            idempotent=True,
        )
        return parse_contract_registration(data)


def parse_contract_registration(data: object) -> ContractRegistration:
    """Check and convert a `ContractRegistration` object of the spec.

    Raises:
        BackendUnavailable: If the object does not match the spec.
    """
    reader = ResponseReader(data, f"POST {LOOKUP_PATH}")
    return ContractRegistration(
        satker_code=reader.text("satker_code", pattern="[0-9]{6}"),
        contract_number=reader.text("contract_number"),
        registered=reader.boolean("registered"),
        register_number=reader.optional_text("register_number"),
        registered_at=reader.optional_iso_date("registered_at"),
        kppn=reader.optional_text("kppn"),
    )

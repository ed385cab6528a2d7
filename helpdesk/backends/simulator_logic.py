"""The backend simulator's logic: every path of `docs/backend-api.yaml`, answered from fixtures.

`BackendSimulator` holds the logic and the in-memory state (DIGIT statuses) and turns one
request into one `Reply` without any networking, so it can be tested directly; the HTTP server
around it is `helpdesk.backends.simulator`, the replies and request rules are
`helpdesk.backends.simulator_protocol`.

Behaviour beyond the spec's own words:

- Checks run in this order: path (404), method (405), API key (401, only when a key is
  configured; `/v1/health` is open), body (422 `invalid_request` with `field`), record lookup,
  fault injection, then the rules of the operation.
- A record's `simulate` field takes effect when a request reaches the record: an SP2D whose
  number and account match, a contract, a DIGIT account, or a NIK's SAKTI registrations (before
  the owner check, as a system that is down cannot check anything). `unavailable` answers 503,
  `garbage` answers 200 with a body that is not JSON (neither changes any state), `slow` answers
  normally after `slow_seconds`.
- DIGIT requests check the e-mail first (`email_mismatch`), then a reset in progress
  (`request_in_progress`), then the action: `already_active`, `not_blocked` or `not_active`.
- Contract numbers are compared without regard to case or surrounding spaces.
"""

from __future__ import annotations

import hmac
import itertools
import threading
from collections.abc import Callable

from helpdesk.backends.fixtures import (
    ContractRecord,
    DigitUserRecord,
    Fixtures,
    SaktiUserRecord,
    Sp2dRecord,
    normalise_phone,
)
from helpdesk.backends.simulator_protocol import (
    JSON_TYPE,
    REQUEST_RULES,
    ApiError,
    Reply,
    error_reply,
    json_reply,
    parse_body,
)
from helpdesk.security.masking import mask_email, mask_phone

#: The body of a `garbage` answer: what a misconfigured proxy might send. It is labelled
#: `application/json`, so a client only notices when it parses the body.
GARBAGE_BODY = b"<html><body><h1>Gateway</h1><p>Upstream returned no data.</p></body></html>"

Operation = Callable[[dict[str, str]], Reply]


class BackendSimulator:
    """The backend API answered from fixtures, with DIGIT statuses kept in memory.

    Args:
        fixtures: The records to answer from.
        api_key: When not empty, every request but `/v1/health` must send it as `X-API-Key`.
        slow_seconds: The delay of records marked `"simulate": "slow"`.

    Raises:
        ValueError: If `slow_seconds` is negative.
    """

    def __init__(
        self, fixtures: Fixtures, api_key: str | None = None, slow_seconds: float = 10.0
    ) -> None:
        if slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        self.fixtures = fixtures
        self.api_key = api_key or None
        self.slow_seconds = float(slow_seconds)
        self._lock = threading.Lock()
        self._digit_status: dict[int, str] = {
            index: user.status for index, user in enumerate(fixtures.digit_users)
        }
        self._counters: dict[str, itertools.count[int]] = {}
        self._routes: dict[str, tuple[str, Operation]] = {
            "/v1/health": ("GET", self._health),
            "/v1/sp2d/lookup": ("POST", self._sp2d_lookup),
            "/v1/contracts/lookup": ("POST", self._contract_lookup),
            "/v1/digit/users/lookup": ("POST", self._digit_lookup),
            "/v1/digit/users/email-check": ("POST", self._digit_email_check),
            "/v1/digit/requests": ("POST", self._digit_request),
            "/v1/sakti/users/satkers": ("POST", self._sakti_satkers),
            "/v1/sakti/resets": ("POST", self._sakti_reset),
        }

    @property
    def routes(self) -> dict[str, str]:
        """The method of each path the simulator serves."""
        return {path: method for path, (method, _) in self._routes.items()}

    def handle(
        self, method: str, path: str, body: bytes = b"", api_key: str | None = None
    ) -> Reply:
        """Answer one request.

        Args:
            method: The HTTP method.
            path: The request path, without the query string.
            body: The raw request body.
            api_key: The `X-API-Key` header, if sent.

        Returns:
            The reply; never raises for a bad request.
        """
        route = self._routes.get(path)
        if route is None:
            return error_reply(404, "not_found", f"no such path: {path}")
        allowed, operation = route
        if method != allowed:
            return error_reply(
                405,
                "invalid_request",
                f"method {method} is not allowed on {path} (use {allowed})",
                headers=(("Allow", allowed),),
            )
        try:
            if path != "/v1/health":
                self._check_api_key(api_key)
            fields = parse_body(body, REQUEST_RULES[path]) if method == "POST" else {}
            return operation(fields)
        except ApiError as exc:
            return exc.reply()

    def _check_api_key(self, sent: str | None) -> None:
        if self.api_key is None:
            return
        if sent is None or not hmac.compare_digest(
            sent.encode("utf-8"), self.api_key.encode("utf-8")
        ):
            raise ApiError(401, "unauthorized", "missing or wrong X-API-Key")

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            return f"{prefix}-{next(counter):06d}"

    def _fault(self, simulate: str | None) -> Reply | None:
        """The reply a record's `simulate` mode forces, if it replaces the normal answer."""
        if simulate == "unavailable":
            return error_reply(503, "unavailable", "the system behind the API is down (simulated)")
        if simulate == "garbage":
            return Reply(status=200, body=GARBAGE_BODY, content_type=JSON_TYPE)
        return None

    def _delay(self, simulate: str | None) -> float:
        return self.slow_seconds if simulate == "slow" else 0.0

    # -- operations ---------------------------------------------------------------------------
    def _health(self, fields: dict[str, str]) -> Reply:
        return json_reply(200, {"status": "ok"})

    def _sp2d_lookup(self, fields: dict[str, str]) -> Reply:
        found: Sp2dRecord | None = next(
            (
                r
                for r in self.fixtures.sp2d
                if r.number == fields["sp2d_number"]
                and r.account_number == fields["account_number"]
            ),
            None,
        )
        if found is None:
            raise ApiError(404, "not_found", "no SP2D with this number and account number")
        fault = self._fault(found.simulate)
        if fault is not None:
            return fault
        payload = {
            "sp2d_number": found.number,
            "satker_code": found.satker_code,
            "satker_name": found.satker_name,
            "spm_number": found.spm_number,
            "amount": found.amount,
            "date": found.date.isoformat(),
            "status": found.status,
        }
        return json_reply(200, payload, delay=self._delay(found.simulate))

    def _contract_lookup(self, fields: dict[str, str]) -> Reply:
        wanted = fields["contract_number"].strip().casefold()
        found: ContractRecord | None = next(
            (
                r
                for r in self.fixtures.contracts
                if r.satker_code == fields["satker_code"] and r.contract_number.casefold() == wanted
            ),
            None,
        )
        if found is None:
            raise ApiError(404, "not_found", "no such contract for this satker")
        fault = self._fault(found.simulate)
        if fault is not None:
            return fault
        payload = {
            "satker_code": found.satker_code,
            "contract_number": found.contract_number,
            "registered": found.registered,
            "register_number": found.register_number,
            "registered_at": found.registered_at.isoformat() if found.registered_at else None,
            "kppn": found.kppn,
        }
        return json_reply(200, payload, delay=self._delay(found.simulate))

    def _find_digit_user(self, fields: dict[str, str]) -> tuple[int, DigitUserRecord]:
        for index, user in enumerate(self.fixtures.digit_users):
            if user.identifier(fields["id_type"]) == fields["id_value"]:
                return index, user
        raise ApiError(404, "not_found", f"no DIGIT account with this {fields['id_type']}")

    def _digit_lookup(self, fields: dict[str, str]) -> Reply:
        index, user = self._find_digit_user(fields)
        fault = self._fault(user.simulate)
        if fault is not None:
            return fault
        with self._lock:
            status = self._digit_status[index]
        payload = {
            "id_type": fields["id_type"],
            "status": status,
            "email_masked": mask_email(user.email),
        }
        return json_reply(200, payload, delay=self._delay(user.simulate))

    def _digit_email_check(self, fields: dict[str, str]) -> Reply:
        _, user = self._find_digit_user(fields)
        fault = self._fault(user.simulate)
        if fault is not None:
            return fault
        payload = {
            "matches": _same_email(fields["email"], user.email),
            "email_masked": mask_email(user.email),
        }
        return json_reply(200, payload, delay=self._delay(user.simulate))

    def _digit_request(self, fields: dict[str, str]) -> Reply:
        index, user = self._find_digit_user(fields)
        fault = self._fault(user.simulate)
        if fault is not None:
            return fault
        if not _same_email(fields["email"], user.email):
            raise ApiError(409, "email_mismatch", "the e-mail is not the registered one")
        action = fields["action"]
        with self._lock:
            status = self._digit_status[index]
            if status == "proses reset":
                raise ApiError(409, "request_in_progress", "a reset of this account is in progress")
            if action == "activation" and status != "belum aktif":
                raise ApiError(409, "already_active", "the account has been activated already")
            if action == "unblock" and status != "diblokir":
                raise ApiError(409, "not_blocked", "the account is not blocked")
            if action == "reset" and status not in ("aktif", "diblokir"):
                raise ApiError(409, "not_active", "the account has not been activated yet")
            if action in ("reset", "unblock"):
                status = self._digit_status[index] = "proses reset"
        payload = {
            "request_id": self._next_id("DGT"),
            "action": action,
            "status": status,
            "sent_to": mask_email(user.email),
        }
        return json_reply(202, payload, delay=self._delay(user.simulate))

    def _sakti_registrations(
        self, fields: dict[str, str]
    ) -> tuple[tuple[SaktiUserRecord, ...], str | None]:
        """The NIK's SAKTI registrations and the first `simulate` mode among them."""
        records = tuple(r for r in self.fixtures.sakti_users if r.nik == fields["nik"])
        if not records:
            raise _not_owner()
        return records, next((r.simulate for r in records if r.simulate), None)

    def _sakti_satkers(self, fields: dict[str, str]) -> Reply:
        records, simulate = self._sakti_registrations(fields)
        fault = self._fault(simulate)
        if fault is not None:
            return fault
        _check_owner(records, fields["requester_phone"])
        payload = {
            "satkers": [
                {"satker_code": r.satker_code, "satker_name": r.satker_name} for r in records
            ]
        }
        return json_reply(200, payload, delay=self._delay(simulate))

    def _sakti_reset(self, fields: dict[str, str]) -> Reply:
        records, simulate = self._sakti_registrations(fields)
        record = next((r for r in records if r.satker_code == fields["satker_code"]), None)
        if record is not None and record.simulate:
            simulate = record.simulate
        fault = self._fault(simulate)
        if fault is not None:
            return fault
        _check_owner(records, fields["requester_phone"])
        if record is None:
            raise ApiError(404, "not_found", "the NIK is not a SAKTI user in this satker")
        payload = {
            "request_id": self._next_id("SKT"),
            "kind": fields["kind"],
            "satker_code": record.satker_code,
            "sms_to": mask_phone(record.phone),
        }
        return json_reply(202, payload, delay=self._delay(simulate))


def _not_owner() -> ApiError:
    return ApiError(403, "requester_not_owner", "the requester is not the owner of the account")


def _check_owner(records: tuple[SaktiUserRecord, ...], requester_phone: str) -> None:
    """Refuse unless the requester's phone is the one registered for the NIK."""
    if normalise_phone(requester_phone) != records[0].phone:
        raise _not_owner()


def _same_email(given: str, registered: str) -> bool:
    return given.strip().casefold() == registered.strip().casefold()

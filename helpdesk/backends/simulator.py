"""The backend simulator: every path of `docs/backend-api.yaml`, answered from fixtures.

`BackendSimulator` holds the logic and the in-memory state (DIGIT statuses) and turns one
request into one `Reply` without any networking, so it can be tested directly.
`make_server` puts it behind a standard-library `ThreadingHTTPServer`; `serve` runs that server
until SIGTERM or SIGINT.

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
- One log line per request: method, path (its first `LOGGED_PATH_CHARS` characters), status
  and duration; bodies are never logged.
- Malformed input is a 4xx, never a crash: JSON nested too deep for Python's parser and numbers
  of thousands of digits are 422, a lone surrogate echoed in an error is replaced, a body
  shorter than its `Content-Length` is 408 once the connection's timeout passes.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, cast
from urllib.parse import urlsplit

from helpdesk.backends.fixtures import (
    ContractRecord,
    DigitUserRecord,
    Fixtures,
    SaktiUserRecord,
    Sp2dRecord,
    normalise_phone,
)
from helpdesk.backends.masking import mask_email, mask_phone
from helpdesk.backends.models import DIGIT_ACTIONS, ID_TYPES, SAKTI_RESET_KINDS

logger = logging.getLogger(__name__)

#: Largest request body read, in bytes; every valid body is far smaller.
MAX_BODY_BYTES = 64 * 1024
#: How much of a request path a log line holds.
LOGGED_PATH_CHARS = 120

#: The body of a `garbage` answer: what a misconfigured proxy might send. It is labelled
#: `application/json`, so a client only notices when it parses the body.
GARBAGE_BODY = b"<html><body><h1>Gateway</h1><p>Upstream returned no data.</p></body></html>"

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


# -- the simulator ----------------------------------------------------------------------------
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


# -- HTTP -------------------------------------------------------------------------------------
class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that answers with a `BackendSimulator`.

    Attributes:
        simulator: The logic and state behind the server.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: BackendSimulator) -> None:
        self.simulator = simulator
        self.stopping = threading.Event()
        super().__init__(address, SimulatorRequestHandler)

    @property
    def url(self) -> str:
        """The base URL of the API, e.g. "http://127.0.0.1:8081"."""
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def shutdown(self) -> None:
        """Stop serving; answers waiting for a `slow` delay are sent at once."""
        self.stopping.set()
        super().shutdown()


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    """Reads one HTTP request, asks the simulator, writes its reply and logs one line."""

    protocol_version = "HTTP/1.1"
    server_version = "HelpdeskBackendSimulator/1.0"
    sys_version = ""
    #: Seconds an idle keep-alive connection is kept open.
    timeout = 30
    #: Headers and body are two writes: without this, Nagle's algorithm delays keep-alive answers.
    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> Any:
        # The base class calls `do_<METHOD>`: every method is dispatched, so that a method the
        # path does not allow (PUT, QUERY, ...) is a 405, not the base class's 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        started = time.perf_counter()
        server = cast(SimulatorServer, self.server)
        path = urlsplit(self.path).path
        body, problem = self._read_body()
        if problem is not None:
            reply = problem
        else:
            reply = server.simulator.handle(
                self.command, path, body, api_key=self.headers.get("X-API-Key")
            )
        if reply.delay > 0:
            server.stopping.wait(reply.delay)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Logged before the answer is written, so the line exists once the client has it.
        logger.info(
            "%s %s %d %.1f ms",
            self.command,
            path[:LOGGED_PATH_CHARS] + ("..." if len(path) > LOGGED_PATH_CHARS else ""),
            reply.status,
            elapsed_ms,
        )
        self._write(reply)

    def _read_body(self) -> tuple[bytes, Reply | None]:
        """The request body, or the reply that refuses it (and closes the connection)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return b"", error_reply(422, "invalid_request", "send the body with Content-Length")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b"", None
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return b"", error_reply(
                422, "invalid_request", f"Content-Length must be 0 to {MAX_BODY_BYTES} bytes"
            )
        try:
            body = self.rfile.read(length)
        except OSError:  # the client sent less than it announced and the timeout passed
            body = None
        if body is None or len(body) < length:
            self.close_connection = True
            return b"", error_reply(408, "invalid_request", "the body ended before Content-Length")
        return body, None

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the HTTP parser rejected with an `Error` body (not HTML)."""
        self.close_connection = True
        reply = error_reply(
            code, "not_found" if code == 404 else "invalid_request", message or "bad request"
        )
        with contextlib.suppress(OSError):  # the client may have gone
            self._write(reply)
        logger.warning("rejected a malformed HTTP request: %d", code)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default access line (`_dispatch` logs its own, without the query)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log the base class's messages without arguments (they can quote the request line)."""
        logger.debug("http.server: %s", format.split("%", 1)[0].rstrip(" :,"))


def make_server(
    fixtures: Fixtures,
    host: str = "127.0.0.1",
    port: int = 8081,
    api_key: str | None = None,
    slow_seconds: float = 10.0,
) -> SimulatorServer:
    """Bind a simulator server (not yet serving: call `serve_forever`, e.g. in a thread).

    Args:
        fixtures: The records to answer from.
        host: The address to listen on.
        port: The port; 0 picks a free one (see `server.url`).
        api_key: When not empty, the `X-API-Key` every request but `/v1/health` must send.
        slow_seconds: The delay of records marked `"simulate": "slow"`.

    Returns:
        The bound server.

    Raises:
        OSError: If the address cannot be bound.
        ValueError: If `slow_seconds` is negative.
    """
    simulator = BackendSimulator(fixtures, api_key=api_key, slow_seconds=slow_seconds)
    return SimulatorServer((host, port), simulator)


def serve(
    fixtures: Fixtures,
    host: str = "127.0.0.1",
    port: int = 8081,
    api_key: str | None = None,
    slow_seconds: float = 10.0,
    on_start: Callable[[SimulatorServer], None] | None = None,
) -> None:
    """Run the simulator until SIGTERM or SIGINT, then shut it down cleanly.

    Must be called from the main thread (it installs signal handlers, restored on return).

    Args:
        fixtures: The records to answer from.
        host: The address to listen on.
        port: The port; 0 picks a free one.
        api_key: When not empty, the `X-API-Key` every request but `/v1/health` must send.
        slow_seconds: The delay of records marked `"simulate": "slow"`.
        on_start: Called with the bound server before it starts serving (e.g. to print its URL).

    Raises:
        OSError: If the address cannot be bound.
    """
    server = make_server(fixtures, host, port, api_key=api_key, slow_seconds=slow_seconds)

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("received %s, shutting down", signal.Signals(signum).name)
        # shutdown() waits for serve_forever() to return: call it from another thread.
        threading.Thread(target=server.shutdown, name="simulator-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_start is not None:
            on_start(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()

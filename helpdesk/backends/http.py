"""The HTTP layer shared by the backend clients (`docs/backend-api.yaml`).

`BackendHttp` owns one `requests.Session` for all clients and turns every answer into either a
JSON object (the documented success status of the call) or one of the typed errors of
`helpdesk.backends.errors`:

- 404 with an `Error` body -> `NotFound`;
- 403, 409, 422 with an `Error` body -> `Rejected(code, message, field)`;
- timeouts, connection errors, 401, 5xx, any other status, and bodies that do not match the
  spec -> `BackendUnavailable`.

Time budget: one call, retries included, ends within about `timeout` seconds
(`HELPDESK_BACKEND_TIMEOUT`, default 4): the citizen is waiting. Idempotent lookups are retried
on connection errors and on 502/503/504 while attempts (`HELPDESK_BACKEND_RETRIES`) and time
remain; read timeouts are never retried (the backend is already slow) and state changes are
sent once.

Every call is measured (`helpdesk.metrics`): `helpdesk_backend_request_seconds{service,
operation, outcome}` (the whole call, retries included; `outcome` ok, not_found, rejected or
unavailable) and, for an unavailable one, `helpdesk_backend_errors_total{service, kind}` with
why (read_timeout, connect_timeout, connection, busy, server_error, unauthorized, bad_status,
off_spec, request). `service` and `operation` come from the path ("/v1/sp2d/lookup": sp2d,
lookup), so every client is measured here.

Request and response bodies are never logged. Messages that come from the backend are scrubbed
of long digit runs and e-mail addresses before they reach a log line or an exception
(`helpdesk.backends.decoding` decodes, scrubs and checks the answers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import requests

from helpdesk import metrics, retry
from helpdesk.backends.decoding import _error_body, _error_code, _json_object, scrub
from helpdesk.backends.errors import BackendUnavailable, NotFound, Rejected
from helpdesk.retry import Backoff, Failure, RetryPolicy

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from helpdesk.settings import Settings

logger = logging.getLogger(__name__)

#: Statuses after which an idempotent call is tried again (a proxy or the backend is busy).
RETRY_STATUSES = frozenset({502, 503, 504})
#: Statuses whose `Error` body is a refusal the citizen can be told about.
REJECT_STATUSES = frozenset({403, 409, 422})
#: Upper bound of the connect timeout, in seconds (capped by the call's whole budget).
DEFAULT_CONNECT_TIMEOUT = 2.0
#: First pause between attempts, in seconds; doubled for each further attempt.
DEFAULT_BACKOFF = 0.2
#: An attempt is not started with less time than this left in the budget, in seconds.
MIN_ATTEMPT_SECONDS = 0.5
#: Request fields whose values are personal data (masked wherever they could be echoed).
SENSITIVE_FIELDS = frozenset({"account_number", "id_value", "nik", "requester_phone", "email"})

#: The API's liveness check (`BackendHttp.ping`).
HEALTH_PATH = "/v1/health"

_USER_AGENT = "helpdesk-assistant/0.1 (+docs/backend-api.yaml)"


def _secrets_of(body: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        value for key, value in body.items() if key in SENSITIVE_FIELDS and isinstance(value, str)
    )


class BackendHttp:
    """POSTs JSON to the backend API over one shared `requests.Session`.

    Args:
        base_url: The API's base URL, e.g. "http://localhost:8081" (no trailing path needed).
        api_key: Sent as the `X-API-Key` header when not empty.
        timeout: Seconds a whole call may take, retries included; also the read timeout.
        retries: Attempts in total for idempotent calls (1 means no retry).
        connect_timeout: Seconds to wait for a connection; default `min(2.0, timeout)`.
        backoff: First pause between attempts in seconds, doubled after each further attempt.
        session: The session to use (default: a new one, closed by `close()`).
        sleep: Pause function (tests replace it).
        clock: Monotonic clock in seconds (tests replace it).

    Raises:
        ValueError: If the URL is not http(s) or a number is out of range.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        timeout: float = 4.0,
        retries: int = 2,
        connect_timeout: float | None = None,
        backoff: float = DEFAULT_BACKOFF,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = (base_url or "").strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if retries < 1:
            raise ValueError("retries must be >= 1 (attempts in total)")
        if connect_timeout is not None and connect_timeout <= 0:
            raise ValueError("connect_timeout must be > 0")
        if backoff < 0:
            raise ValueError("backoff must be >= 0")
        self.base_url = url
        self.timeout = float(timeout)
        self.connect_timeout = min(
            float(connect_timeout) if connect_timeout is not None else DEFAULT_CONNECT_TIMEOUT,
            self.timeout,
        )
        self.retries = int(retries)
        self.backoff = float(backoff)
        self._sleep = sleep
        self._clock = clock
        self.session = session if session is not None else requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": _USER_AGENT})
        if api_key:
            self.session.headers["X-API-Key"] = api_key
        else:
            self.session.headers.pop("X-API-Key", None)

    @classmethod
    def from_settings(cls, settings: Settings) -> BackendHttp:
        """Build from `HELPDESK_BACKEND_URL`, `_API_KEY`, `_TIMEOUT` and `_RETRIES`.

        A retry count below 1 is read as "no retry" (one attempt).
        """
        return cls(
            settings.backend_url,
            api_key=settings.backend_api_key,
            timeout=settings.backend_timeout,
            retries=max(1, settings.backend_retries),
        )

    def close(self) -> None:
        """Close the session's pooled connections."""
        self.session.close()

    def __enter__(self) -> BackendHttp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ping(self, timeout: float = 2.0) -> None:
        """`GET /v1/health` once, for health checks (not measured as a backend call).

        Args:
            timeout: Seconds for the connection and for the answer.

        Raises:
            BackendUnavailable: No connection, no answer in time, or a status other than 200.
        """
        try:
            response = self.session.get(
                self.base_url + HEALTH_PATH, timeout=(timeout, timeout), allow_redirects=False
            )
        except requests.exceptions.RequestException as exc:
            raise BackendUnavailable(f"backend health: {type(exc).__name__}") from exc
        status = response.status_code
        response.close()
        if status != 200:
            raise BackendUnavailable(f"backend health: status {status}")

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        idempotent: bool,
        expected_status: int = 200,
    ) -> dict[str, Any]:
        """POST `body` as JSON to `path` and return the JSON object of the answer.

        Args:
            path: The API path, e.g. "/v1/sp2d/lookup".
            body: The request body (never logged).
            idempotent: True for read-only lookups, which may be retried; False for state
                changes, which are sent exactly once.
            expected_status: The documented success status of the call (200 or 202); any
                other status that is not a documented error is treated as off the spec.

        Returns:
            The decoded JSON object.

        Raises:
            NotFound: 404 with an `Error` body.
            Rejected: 403, 409 or 422 with an `Error` body.
            BackendUnavailable: Timeout, connection error, 401, 5xx, any other status, or a body
                that is not what the spec describes.
        """
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        url = self.base_url + path
        secrets = _secrets_of(body)
        policy = RetryPolicy(
            attempts=self.retries if idempotent else 1,
            backoff=Backoff(self.backoff),
            min_attempt=MIN_ATTEMPT_SECONDS,
        )
        start = self._clock()
        deadline = start + self.timeout
        attempt = 0
        attempt_start = start

        def send() -> requests.Response:
            nonlocal attempt, attempt_start
            attempt += 1
            remaining = deadline - self._clock()
            timeout = (min(self.connect_timeout, remaining), remaining)
            attempt_start = self._clock()
            response = self.session.post(
                url, json=dict(body), timeout=timeout, allow_redirects=False
            )
            if response.status_code != expected_status and response.status_code in RETRY_STATUSES:
                raise _BusyStatus(response)
            return response

        def log_retry(failure: Failure) -> None:
            if failure.pause is None:
                return
            if isinstance(failure.error, _BusyStatus):
                failure.error.response.close()
            logger.warning(
                "backend POST %s attempt %d failed (%s); retrying in %.1f s",
                path,
                failure.attempt,
                _failure_reason(failure.error),
                failure.pause,
            )

        busy: requests.Response | None = None
        try:
            response = retry.call(
                send,
                policy,
                retry_on=_is_retryable,
                on_failure=log_retry,
                sleep=self._sleep,
                clock=self._clock,
                deadline=deadline,
            )
        except _BusyStatus as exc:
            busy = exc.response  # its error is raised below, outside this handler
        except requests.exceptions.ReadTimeout as exc:
            self._fail(path, start, attempt, "read timeout", "read_timeout", exc)
        except requests.exceptions.ConnectionError as exc:
            # Includes ConnectTimeout: retried above while attempts and time were left.
            kind = (
                "connect_timeout"
                if isinstance(exc, requests.exceptions.ConnectTimeout)
                else "connection"
            )
            self._fail(path, start, attempt, _failure_reason(exc), kind, exc)
        except requests.exceptions.RequestException as exc:
            self._fail(path, start, attempt, type(exc).__name__, "request", exc)
        if busy is not None:
            self._raise_for_status(path, busy, start, attempt, secrets)

        status = response.status_code
        elapsed_ms = (self._clock() - attempt_start) * 1000
        if status == expected_status:
            data = _json_object(response)
            response.close()
            if data is None:
                reason = f"{status} with a body that is not an object"
                self._fail(path, start, attempt, reason, "off_spec")
            metrics.backend_request(path, "ok", self._clock() - start)
            logger.info(
                "backend POST %s -> %d in %.0f ms (attempt %d)",
                path,
                status,
                elapsed_ms,
                attempt,
            )
            return data
        self._raise_for_status(path, response, start, attempt, secrets)

    def _fail(
        self,
        path: str,
        start: float,
        attempts: int,
        reason: str,
        kind: str,
        cause: BaseException | None = None,
    ) -> NoReturn:
        """Measure, log and raise `BackendUnavailable` (`kind`: `metrics.BACKEND_ERROR_KINDS`)."""
        seconds = self._clock() - start
        metrics.backend_request(path, "unavailable", seconds)
        metrics.backend_error(path, kind)
        elapsed_ms = seconds * 1000
        logger.warning(
            "backend POST %s unavailable: %s after %.0f ms (%d attempt%s)",
            path,
            reason,
            elapsed_ms,
            attempts,
            "" if attempts == 1 else "s",
        )
        error = BackendUnavailable(f"backend POST {path} unavailable: {reason}")
        if cause is None:
            raise error
        raise error from cause

    def _raise_for_status(
        self,
        path: str,
        response: requests.Response,
        start: float,
        attempts: int,
        secrets: tuple[str, ...],
    ) -> NoReturn:
        """Raise the error that an unexpected status stands for (explicit, status by status)."""
        status = response.status_code
        if status not in REJECT_STATUSES and status != 404:
            code = _error_code(response)
            response.close()
            if status == 401:
                reason, kind = "401 unauthorized (check HELPDESK_BACKEND_API_KEY)", "unauthorized"
            elif 500 <= status <= 599:
                reason = f"server error {status}" + (f" {code}" if code else "")
                kind = "busy" if status in RETRY_STATUSES else "server_error"
            else:
                reason, kind = f"undocumented status {status}", "bad_status"
            self._fail(path, start, attempts, reason, kind)

        error = _error_body(response)
        response.close()
        if error is None:
            self._fail(path, start, attempts, f"{status} without an Error body", "off_spec")
        code, message, field = error
        code, message = scrub(code, secrets), scrub(message, secrets)
        field = scrub(field, secrets) if field is not None else None
        seconds = self._clock() - start
        metrics.backend_request(path, "not_found" if status == 404 else "rejected", seconds)
        elapsed_ms = seconds * 1000
        logger.info(
            "backend POST %s -> %d %s in %.0f ms (attempt %d)",
            path,
            status,
            code,
            elapsed_ms,
            attempts,
        )
        if status == 404:
            raise NotFound(f"backend POST {path}: {code}: {message}")
        raise Rejected(code, message, field)


class _BusyStatus(Exception):
    """A retryable status (`RETRY_STATUSES`), raised inside an attempt so that it is retried.

    Args:
        response: The answer (its error is raised from it when retries are over).
    """

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"status {response.status_code}")
        self.response = response


def _is_retryable(error: Exception) -> bool:
    """Connection errors (nothing was answered) and busy statuses may be sent again.

    Read timeouts are not retried: the backend is already slow.
    """
    return isinstance(error, (_BusyStatus, requests.exceptions.ConnectionError))


def _failure_reason(error: Exception) -> str:
    """A short reason for the log of a retryable failure (never a message of the backend)."""
    if isinstance(error, _BusyStatus):
        return f"status {error.response.status_code}"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    return "connection error"

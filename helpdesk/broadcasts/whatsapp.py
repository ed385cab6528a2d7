"""`CloudApiSender`: one broadcast message to the WhatsApp Cloud API, and what its answer means.

It lives in helpdesk/ (plain HTTP with requests), not in connectors/whatsapp/: the broadcast
sender runs in the desk's process, which may not import the Rasa channels.

What matters for "never twice" is whether a failed request may have reached Meta:
- `ACCEPTED`: 200 with the message id;
- `REFUSED`: Meta refused this recipient for good (undeliverable, not a WhatsApp number, an
  invalid parameter): marked failed, never sent again;
- `RETRY`: certainly not sent (throttled: HTTP 429 or Meta's rate-limit codes; no connection
  could be made): the recipient waits again;
- `STOP`: nothing of this broadcast can go now (the token, the account, the template or the
  number's quality limits): the broadcast is paused with the reason, the recipient waits;
- `UNCERTAIN`: the request may have arrived (a timeout, a dropped connection, a 5xx): the
  recipient stays claimed until the status callbacks settle it
  (`helpdesk.storage.broadcasts.BroadcastRepository.reconcile`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from helpdesk.settings import DEFAULT_GRAPH_API_URL
from helpdesk.storage.enums import StrEnum

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.settings import Settings

logger = logging.getLogger("helpdesk.broadcasts")

#: Seconds to wait for the Graph API.
TIMEOUT = 15.0

#: Meta's throttling error codes (the request was refused, nothing sent).
_THROTTLED = {4, 17, 32, 613, 80007, 130429, 131056}
#: Codes after which nothing of the broadcast can go: token, permissions, account, template,
#: the number's spam/quality limits.
_STOP = {
    0,
    3,
    10,
    190,
    368,
    131031,
    131048,
    132000,
    132001,
    132005,
    132007,
    132012,
    132015,
    132016,
    133010,
}
#: Codes that are Meta's own trouble (the request may or may not have been handled).
_UNKNOWN = {1, 2, 131000, 131016}


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    RETRY = "retry"
    STOP = "stop"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class SendResult:
    """What became of one request (`error` names Meta's code and title, no personal data)."""

    outcome: Outcome
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None


def _error(payload: Any) -> tuple[int | None, str]:
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, ""
    code = error.get("code")
    title = str(error.get("error_user_title") or error.get("message") or "")[:120]
    return (code if isinstance(code, int) else None), title


def classify(status: int, payload: Any, headers: Any = None) -> SendResult:
    """The outcome of a Graph API answer with HTTP `status` and JSON `payload`."""
    if 200 <= status < 300:
        messages = payload.get("messages") if isinstance(payload, dict) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        message_id = first.get("id") if isinstance(first, dict) else None
        if isinstance(message_id, str) and message_id:
            return SendResult(Outcome.ACCEPTED, message_id=message_id)
        return SendResult(Outcome.UNCERTAIN, error="jawaban WhatsApp tanpa id pesan")
    code, title = _error(payload)
    error = f"{code or status}: {title}".strip().rstrip(":")
    retry_after = None
    if headers is not None:
        try:
            retry_after = float(headers.get("Retry-After") or "") or None
        except ValueError:
            retry_after = None
    if status == 429 or code in _THROTTLED:
        return SendResult(Outcome.RETRY, error=error, retry_after=retry_after)
    if status in (401, 403) or code in _STOP:
        return SendResult(Outcome.STOP, error=error)
    if status >= 500 or code in _UNKNOWN:
        return SendResult(Outcome.UNCERTAIN, error=error)
    return SendResult(Outcome.REFUSED, error=error)


def _never_connected(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    # requests wraps urllib3's MaxRetryError whose `reason` says whether a connection was
    # ever made (NewConnectionError: refused, unreachable, DNS) - read by name so that
    # urllib3 stays requests' own dependency.
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return type(reason).__name__ in ("NewConnectionError", "NameResolutionError")


class CloudApiSender:
    """Posts template messages to `{api_url}/{phone_number_id}/messages`."""

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        api_url: str = DEFAULT_GRAPH_API_URL,
        *,
        timeout: float = TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        if not access_token or not phone_number_id:
            raise ValueError("access_token and phone_number_id must not be empty")
        self.url = f"{api_url.rstrip('/')}/{phone_number_id}/messages"
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    @classmethod
    def from_settings(cls, settings: "Settings", **kwargs: Any) -> "CloudApiSender | None":
        """The sender of WHATSAPP_ACCESS_TOKEN / WHATSAPP_PHONE_NUMBER_ID / WHATSAPP_API_URL;
        None when WhatsApp is not configured."""
        token = settings.whatsapp_access_token.strip()
        number = settings.whatsapp_phone_number_id.strip()
        if not token or token.startswith("${") or not number or number.startswith("${"):
            return None
        api_url = settings.whatsapp_api_url.strip() or DEFAULT_GRAPH_API_URL
        return cls(token, number, api_url, **kwargs)

    def send(self, body: dict[str, Any]) -> SendResult:
        """Post one message body; never raises for the platform's or the network's trouble."""
        try:
            answer = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            if _never_connected(exc):
                return SendResult(Outcome.RETRY, error="WhatsApp tidak dapat dihubungi")
            logger.warning("broadcast: request outcome unknown (%s)", type(exc).__name__)
            return SendResult(Outcome.UNCERTAIN, error=f"tanpa jawaban ({type(exc).__name__})")
        try:
            payload = answer.json()
        except ValueError:
            payload = None
        return classify(answer.status_code, payload, answer.headers)

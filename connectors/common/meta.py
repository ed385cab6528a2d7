"""What every Meta channel shares (WhatsApp Cloud API, Messenger, Instagram Messaging).

Meta's webhooks all work the same way: a GET subscription check (`hub.mode`,
`hub.verify_token`, `hub.challenge`), POST deliveries signed with the app secret
(`X-Hub-Signature-256`: the HMAC-SHA256 of the raw body), retried by Meta for days unless
answered 200. Their Graph API answers errors the same way too (`error.code`,
`error.error_subcode`). One version of each piece lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from typing import Any, Callable, Mapping, TypeVar

import aiohttp
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common.payloads import as_dict, json_object, read_body
from helpdesk.handoff.agent_files import AgentFile
from helpdesk.retry import Failure, RetryPolicy, acall
from helpdesk.settings import DEFAULT_GRAPH_API_URL as SETTINGS_GRAPH_API_URL

#: The largest webhook body read (bytes); larger ones get 413 unread. Meta documents webhook
#: payloads of up to 3 MB (a batch of several messages; one text of 4096 emoji, each escaped
#: as two "\\uXXXX", is about 50 KB), so this refuses only what Meta never sends.
BODY_LIMIT = 3 * 1024 * 1024


#: The Graph API base URL the Meta channels use when none is configured.
DEFAULT_GRAPH_API_URL = SETTINGS_GRAPH_API_URL


def verify_signature(app_secret: str, body: bytes, signature_header: str | None) -> bool:
    """Check Meta's `X-Hub-Signature-256` header against the raw request body.

    Args:
        app_secret: The Meta app secret.
        body: The raw request body, exactly as received.
        signature_header: The header value, `sha256=<hex digest>`.

    Returns:
        True when the header is the HMAC-SHA256 of `body` keyed with `app_secret`.
    """
    if not app_secret or not signature_header:
        return False
    scheme, _, received = signature_header.strip().partition("=")
    if scheme.lower() != "sha256" or not received:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), received.strip().lower().encode("utf-8"))


def verify_subscription(args: Mapping[str, Any], verify_token: str) -> str | None:
    """Meta's webhook subscription check (`GET ...?hub.mode=subscribe&hub.verify_token=...`).

    Args:
        args: The query arguments, one value per name.
        verify_token: The verify token configured in the Meta app.

    Returns:
        The `hub.challenge` to echo when the request is a subscription with the right token,
        else None.
    """
    mode = args.get("hub.mode")
    token = args.get("hub.verify_token")
    challenge = args.get("hub.challenge")
    if mode != "subscribe" or not isinstance(token, str) or not verify_token:
        return None
    if not hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return challenge if isinstance(challenge, str) and challenge else None


def subscription_answer(
    request: Request, verify_token: str, channel: str, log: logging.Logger
) -> HTTPResponse:
    """The answer to Meta's GET subscription check: the challenge, or 403."""
    args = {name: request.args.get(name) for name in request.args}
    challenge = verify_subscription(args, verify_token)
    if challenge is None:
        log.warning("%s: webhook verification refused", channel)
        return response.text("forbidden", status=403)
    log.info("%s: webhook verified", channel)
    return response.text(challenge)


async def signed_delivery(
    request: Request,
    app_secret: str,
    channel: str,
    log: logging.Logger,
    *,
    limit: int = BODY_LIMIT,
) -> dict[str, Any] | HTTPResponse:
    """A POSTed delivery's JSON object, or the refusal to answer with.

    Refusals: 413 for a body over `limit` (unread), 403 for a missing or wrong signature,
    400 for a body that is not a JSON object (or nests too deep). Each is logged without
    content.
    """
    body = await read_body(request, limit)
    if body is None:
        log.warning("%s: delivery refused: body over %d bytes", channel, limit)
        return response.json({"status": "payload too large"}, status=413)
    signature = request.headers.get("X-Hub-Signature-256")
    if not verify_signature(app_secret, body, signature):
        log.warning(
            "%s: delivery refused: %s signature", channel, "invalid" if signature else "missing"
        )
        return response.json({"status": "forbidden"}, status=403)
    payload = json_object(body)
    if payload is None:
        log.warning("%s: delivery refused: malformed JSON (%d bytes)", channel, len(body))
        return response.json({"status": "bad request"}, status=400)
    return payload


class GraphNotAccepted(Exception):
    """The Graph API answered a message with an error status (raised inside one attempt)."""

    def __init__(self, status: int, error_code: Any) -> None:
        super().__init__(status)
        self.status = status
        self.error_code = error_code


def may_retry(error: Exception) -> bool:
    """Connection errors, timeouts, HTTP 429 and 5xx are retried; other 4xx are not."""
    if isinstance(error, GraphNotAccepted):
        return error.status == 429 or error.status >= 500
    return isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError))


async def graph_error_code(resp: aiohttp.ClientResponse) -> Any:
    """Meta's error code (`error.code`, with `/error_subcode` when given), or None."""
    with contextlib.suppress(Exception):
        error = as_dict(as_dict(json.loads(await resp.text())).get("error"))
        code, subcode = error.get("code"), error.get("error_subcode")
        return f"{code}/{subcode}" if subcode is not None else code
    return None


_Client = TypeVar("_Client", bound="GraphClient")


class GraphClient:
    """What Meta's output channels share: one HTTP session to the Graph API per event loop
    (made on first use, bearer token), and one message posted with retries.

    A subclass sets `access_token`, `timeout`, `attempts` and `retry_policy` in its
    constructor and calls `_init_session()`.
    """

    access_token: str
    timeout: float
    attempts: int
    retry_policy: RetryPolicy

    def _init_session(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    async def _client(self) -> aiohttp.ClientSession:
        """One HTTP session per event loop, made on first use."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {self.access_token}"},
            )
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (a new one is made when something is sent later)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # its event loop is gone
                await session.close()

    async def __aenter__(self: _Client) -> _Client:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def post_message(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        kind: str,
        recipient: str,
        channel: str,
        log: logging.Logger,
    ) -> tuple[int | None, Any] | None:
        """POST one message body to `url`, retrying connection errors, timeouts, 429 and 5xx.

        Each failed attempt is logged under `log` (the HTTP status and Meta's error code, the
        message's `kind` and the masked `recipient`, never the content).

        Returns:
            None when the Graph API accepted it, else the last (HTTP status, Meta's error
            code); the status is None when no answer came.
        """
        failure, _ = await self._post(
            url, lambda: {"json": dict(body)}, kind, recipient, channel, log
        )
        return failure

    async def upload_file(
        self,
        url: str,
        fields: Mapping[str, str],
        file_field: str,
        upload: AgentFile,
        *,
        recipient: str,
        channel: str,
        log: logging.Logger,
    ) -> dict[str, Any] | None:
        """POST a file as multipart form data (`fields`, then the file as `file_field`) to
        `url`, retried as messages are (logged as a "file upload", never the content).

        Returns:
            The Graph API's JSON answer (the uploaded file's id), or None when it was not
            accepted.
        """

        def form() -> dict[str, Any]:
            data = aiohttp.FormData()
            for name, value in fields.items():
                data.add_field(name, value)
            data.add_field(
                file_field, upload.data, filename=upload.filename, content_type=upload.content_type
            )
            return {"data": data}

        failure, answer = await self._post(url, form, "file upload", recipient, channel, log)
        return answer if failure is None else None

    async def _post(
        self,
        url: str,
        request: Callable[[], dict[str, Any]],
        kind: str,
        recipient: str,
        channel: str,
        log: logging.Logger,
    ) -> tuple[tuple[int | None, Any] | None, dict[str, Any]]:
        """POST what `request()` gives (made again for each attempt) with the retries of
        `post_message`; (None, the JSON answer) when accepted, else (the failure, {})."""
        answer: dict[str, Any] = {}

        async def post_once() -> None:
            session = await self._client()
            async with session.post(url, **request()) as resp:
                if 200 <= resp.status < 300:
                    with contextlib.suppress(ValueError):
                        answer.update(as_dict(json.loads(await resp.text() or "{}")))
                    return
                raise GraphNotAccepted(resp.status, await graph_error_code(resp))

        def on_failure(failure: Failure) -> None:
            error = failure.error
            reason = (
                f"HTTP {error.status}, error code {error.error_code}"
                if isinstance(error, GraphNotAccepted)
                else type(error).__name__
            )
            log.log(
                logging.ERROR if failure.giving_up else logging.WARNING,
                "%s: sending a %s message to %s failed (%s; attempt %d of %d)%s",
                channel,
                kind,
                recipient,
                reason,
                failure.attempt,
                self.attempts,
                "" if failure.giving_up else "; retrying",
            )

        try:
            await acall(post_once, self.retry_policy, retry_on=may_retry, on_failure=on_failure)
            return None, answer
        except GraphNotAccepted as exc:
            return (exc.status, exc.error_code), {}
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return (None, None), {}

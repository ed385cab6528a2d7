"""Only the Rasa server may call the action server.

The action server runs whatever action it is sent, with whatever tracker it is sent: a forged
call of `action_sakti_reset` with a made-up tracker (latest input channel `whatsapp`, a
citizen's phone as sender) would reach the backend as if the citizen had asked on WhatsApp.
So the action server

- listens on loopback unless `RASA_ACTIONS_HOST` says otherwise (an address of a private
  network, for Rasa servers on other machines): rasa-sdk reads `SANIC_HOST` after the plugins
  are attached (`rasa_sdk.endpoint.run`), and this plugin sets it;
- answers every request but `GET /health`, `/healthz` and `/metrics` only when it carries
  `Authorization: Bearer <token>`
  with the shared secret `RASA_ACTIONS_TOKEN`, which the Rasa server sends on every call
  (endpoints.yml `action_endpoint.headers`); anything else gets 401 with a JSON body. The
  comparison is constant-time (`hmac.compare_digest`).

It fails closed: with no token configured every call is refused, and one error at start says
to set `RASA_ACTIONS_TOKEN`. `make run` (scripts/run.py) generates a token per run when none is
set, and the test stacks (tests/support/stack.py) do the same.
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any, Mapping

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from helpdesk.settings import environment

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("rasa_sdk")

#: The shared secret the Rasa server sends (endpoints.yml) and the action server checks.
TOKEN_VARIABLE = "RASA_ACTIONS_TOKEN"  # noqa: S105 - a variable name, not a secret
#: Where the action server listens; rasa-sdk's own `SANIC_HOST` is used when this is unset.
HOST_VARIABLE = "RASA_ACTIONS_HOST"
DEFAULT_HOST = "127.0.0.1"
#: Paths answered without the token: the health checks of `make run`, the stacks and probes,
#: and Prometheus' `/metrics`, which checks its own callers (`rasa_sdk_plugins.ops`).
OPEN_PATHS = frozenset({"/health", "/healthz", "/metrics"})
#: Shorter tokens are accepted with a warning (`make run` generates 32 characters).
MIN_TOKEN_LENGTH = 16


def listen_host(env: Mapping[str, str]) -> str:
    """The address the action server binds to: `RASA_ACTIONS_HOST`, else rasa-sdk's
    `SANIC_HOST`, else loopback."""
    for name in (HOST_VARIABLE, "SANIC_HOST"):
        value = (env.get(name) or "").strip()
        if value:
            return value
    return DEFAULT_HOST


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def is_authorized(authorization: str | None, expected: str) -> bool:
    """Whether an `Authorization` header value carries the expected token.

    Args:
        authorization: The header's value as received (None when absent).
        expected: The configured token; empty means none is configured and nothing passes.
    """
    presented = bearer_token(authorization)
    if not expected or presented is None:
        return False
    # Bytes, so that any header text compares (str needs ASCII); surrogatepass never raises.
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def refusal() -> HTTPResponse:
    """The 401 answer to a call without the right token."""
    return response.json(
        {
            "error": "unauthorized",
            "message": "The action server only answers the Rasa server (bearer token required).",
        },
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="action server"'},
    )


def attach(app: Sanic, token: str) -> None:
    """Make `app` refuse every request but `OPEN_PATHS` that lacks `token`.

    Args:
        app: The action server's Sanic app (`rasa_sdk.endpoint.create_app`).
        token: The shared secret; empty: every such request is refused (fail closed).
    """
    token = token.strip()
    if not token:
        logger.error(
            "%s is not set: the action server refuses every call (HTTP 401). Set %s to the "
            "token the Rasa server sends (endpoints.yml action_endpoint headers); `make run` "
            "generates one per run.",
            TOKEN_VARIABLE,
            TOKEN_VARIABLE,
        )
    elif len(token) < MIN_TOKEN_LENGTH:
        logger.warning(
            "%s is shorter than %d characters: use a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(24))')",
            TOKEN_VARIABLE,
            MIN_TOKEN_LENGTH,
        )

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if is_authorized(request.headers.get("authorization"), token):
            return None
        if token:  # without a token every call fails; the error above said why, once
            logger.warning(
                "refused %s %s from %s: missing or wrong bearer token",
                request.method,
                request.path,
                request.ip,
            )
        return refusal()

    app.register_middleware(require_token, "request")


@hookimpl
def attach_sanic_app_extensions(app: Any) -> None:
    """rasa-sdk's hook, called once the app exists and before it is served: bind to
    `listen_host` (rasa-sdk reads `SANIC_HOST` next) and require the token."""
    env = environment()
    os.environ["SANIC_HOST"] = listen_host(env)
    attach(app, env.get(TOKEN_VARIABLE) or "")

"""`OpsInput`: `/healthz` and `/metrics` of the Rasa server, as a channel that takes no messages.

Rasa mounts every channel's blueprint under `/webhooks/` + `url_prefix()`; this one's prefix is
"/", so `urljoin("/webhooks/", "/")` puts its routes at the root of the server, beside Rasa's
own `/status` and `/version`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

from rasa.core.channels.channel import InputChannel
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import OnNewMessage
from connectors.ops.checks import rasa_server_checks
from helpdesk import metrics
from helpdesk.health import run_checks

logger = logging.getLogger("connectors.ops")

#: The channel's name (`InputChannel.name`); it never receives messages.
CHANNEL_NAME = "ops"


class OpsConfigError(RasaException):
    """The `connectors.ops.OpsInput` credentials are invalid."""


class OpsInput(InputChannel):
    """Serves `GET /healthz` and `GET /metrics` (see the package docstring).

    Args:
        metrics_token: The bearer token that lets other machines read `/metrics` ("": this
            machine only).
        session_factory: Returns the helpdesk database's session factory (default: that of
            the process-wide `helpdesk.services`, looked up at each check).
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> "OpsInput":
        """The channel with the token of `HELPDESK_METRICS_TOKEN` (`helpdesk.settings`).

        Raises:
            OpsConfigError: When the block has any key (the token belongs in the environment).
        """
        if credentials:
            raise OpsConfigError(
                f"connectors.ops.OpsInput takes no credentials ({', '.join(sorted(credentials))}"
                " given): set HELPDESK_METRICS_TOKEN in the environment"
            )
        from helpdesk.settings import get_settings

        return cls(metrics_token=get_settings().metrics_token)

    def __init__(self, metrics_token: str = "", session_factory: Any = None) -> None:
        self.metrics_token = metrics_token
        self._session_factory = session_factory

    def url_prefix(self) -> str:
        """At the root: Rasa joins "/webhooks/" and "/" into "/"."""
        return "/"

    def session_factory(self) -> Any:
        if self._session_factory is not None:
            return self._session_factory()
        from helpdesk.services import get_services

        return get_services().session_factory

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """`/healthz` and `/metrics`; `on_new_message` is never called."""
        ops = Blueprint("ops_health_metrics", __name__)

        @ops.route("/healthz", methods=["GET"])
        async def healthz(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            checks = rasa_server_checks(agent, self.session_factory)
            report = await asyncio.to_thread(run_checks, checks)
            return response.json(report.as_dict(), status=report.http_status)

        @ops.route("/metrics", methods=["GET"])
        async def metrics_page(request: Request) -> HTTPResponse:
            if not metrics.scrape_allowed(request.ip, request.headers, self.metrics_token):
                logger.warning("ops: /metrics refused to %s", request.ip)
                return response.json({"error": "forbidden"}, status=403)
            return response.raw(metrics.render(), content_type=metrics.CONTENT_TYPE)

        return ops

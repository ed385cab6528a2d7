"""The agent desk web app (Sanic): where helpdesk agents take over conversations.

`create_app` wires the pieces: the services and the login sessions on `app.ctx`, the Jinja
environment, the session/CSRF middleware and security headers (`helpdesk.desk.auth`), the
blueprints of every view module, static files, `/healthz` (the database: 200, or 503 naming
it), `/metrics` (Prometheus, with the agents' queue read at scrape time; to this machine only,
or with `HELPDESK_METRICS_TOKEN`) and Indonesian error pages. What each module may use:

- `app.ctx.services`: the `helpdesk.services.Services` (views reach it through
  `helpdesk.desk.views.services_of`: users, divisions, canned responses, contacts, tickets,
  handoffs, office hours... all come from there).
- `app.ctx.relay`: the outbox relay (`deliver_soon()` wakes it), or None in tests.
- `app.ctx.worker`: the background worker, or None.
- `app.ctx.jinja`: the Jinja2 environment (templates in helpdesk/desk/templates).
- `app.ctx.desk_config`: `helpdesk.desk.auth.DeskConfig`.
- `app.ctx.login_throttle`: `helpdesk.desk.throttle.LoginThrottle`.
- `app.ctx.media_sources`: fetch citizens' media by channel (`helpdesk.desk.media`).
- `app.ctx.desk_sessions`: the login sessions
  (`helpdesk.storage.desk_sessions.DeskSessionRepository`, with the configured idle expiry),
  used through `helpdesk.desk.auth`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Request, Sanic, response
from sanic.exceptions import NotFound, SanicException
from sanic.response import HTTPResponse

from helpdesk import metrics
from helpdesk.conversation.dates import format_datetime_id
from helpdesk.desk import audit as desk_audit
from helpdesk.desk import auth
from helpdesk.desk.media import MediaSource, configured_sources
from helpdesk.desk.throttle import LoginThrottle
from helpdesk.desk.views import admin as admin_views
from helpdesk.desk.views import admin_audit as admin_audit_views
from helpdesk.desk.views import admin_canned as admin_canned_views
from helpdesk.desk.views import admin_divisions as admin_division_views
from helpdesk.desk.views import admin_tokens as admin_token_views
from helpdesk.desk.views import admin_users as admin_user_views
from helpdesk.desk.views import auth as auth_views
from helpdesk.desk.views import broadcasts as broadcast_views
from helpdesk.desk.views import conversations as conversation_views
from helpdesk.desk.views import id_in_range
from helpdesk.desk.views import knowledge as knowledge_views
from helpdesk.desk.views import knowledge_files as knowledge_file_views
from helpdesk.desk.views import knowledge_flows as knowledge_flow_views
from helpdesk.desk.views import knowledge_inbox as knowledge_inbox_views
from helpdesk.desk.views import privacy_requests as privacy_request_views
from helpdesk.desk.views import queue as queue_views
from helpdesk.desk.views import reports as report_views
from helpdesk.desk.views import tickets as ticket_views
from helpdesk.health import database_check, run_checks
from helpdesk.security.masking import mask_identifiers
from helpdesk.services import Services
from helpdesk.storage.attachments import MAX_BYTES
from helpdesk.storage.desk_sessions import DeskSessionRepository
from helpdesk.storage.enums import DeskRole

logger = logging.getLogger(__name__)

DESK_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = DESK_DIR / "templates"
STATIC_DIR = DESK_DIR / "static"

#: The largest request body the desk reads (bytes): its forms are a few KB, but a reply may
#: carry a file of up to `MAX_BYTES` (10 MB); the margin lets a slightly larger file reach the
#: reply route and get its polite refusal. Sanic's default is 100 MB.
REQUEST_MAX_SIZE = MAX_BYTES + 512 * 1024

#: Error pages the desk's auth module does not define: (title, message), in Indonesian.
SIZE_ERRORS = {
    413: (
        "Data terlalu besar",
        "Data yang Anda kirim terlalu besar untuk diproses. Silakan periksa isian Anda.",
    ),
    414: (
        "Alamat terlalu panjang",
        "Alamat halaman yang Anda buka terlalu panjang. Silakan kembali ke beranda.",
    ),
}

#: View modules whose `bp` blueprints make up the desk, in registration order.
VIEW_MODULES = (
    auth_views,
    admin_views,
    admin_user_views,
    admin_division_views,
    admin_canned_views,
    admin_audit_views,
    admin_token_views,
    queue_views,
    conversation_views,
    ticket_views,
    knowledge_inbox_views,
    knowledge_flow_views,
    knowledge_file_views,
    knowledge_views,
    report_views,
    privacy_request_views,
    broadcast_views,
)


def format_local(value: datetime | None, tz: tzinfo, style: str = "short") -> str:
    """A datetime for desk pages in the helpdesk's time zone.

    Args:
        style: "short" ("14-04-2026 09.30"), "time" ("09.30") or "long"
            ("14 April 2026 pukul 09.30 WIB").
    """
    if value is None:
        return "-"
    local = value.astimezone(tz)
    if style == "time":
        return f"{local:%H.%M}"
    if style == "long":
        return format_datetime_id(local)
    return f"{local:%d-%m-%Y %H.%M}"


def make_jinja(tz: tzinfo) -> Environment:
    """The Jinja2 environment of the desk templates (autoescaped; `localtime` filter)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["localtime"] = lambda value, style="short": format_local(value, tz, style)
    env.filters["masked"] = lambda value: (
        mask_identifiers(value) if isinstance(value, str) else value
    )
    env.globals["role_labels"] = ROLE_LABELS
    return env


#: Role names as desk pages show them.
ROLE_LABELS: dict[str, str] = {
    DeskRole.AGENT: "Agen",
    DeskRole.SUPERVISOR: "Supervisor",
    DeskRole.ADMIN: "Admin",
    DeskRole.KNOWLEDGE: "Pengelola Pengetahuan",
}


def create_app(
    services: Services,
    *,
    relay: Any = None,
    worker: Any = None,
    name: str = "helpdesk_desk",
    config: auth.DeskConfig | None = None,
    tracker_engine: Any = None,
    media_sources: Mapping[str, MediaSource] | None = None,
) -> Sanic:
    """Build the desk app.

    Args:
        services: The helpdesk services (settings, session factory, ...).
        relay: Delivers agents' replies; its `deliver_soon()` is called after a reply is
            stored or a conversation ended. Defaults to waking `worker` when one is given.
        worker: Background worker (`helpdesk.handoff.worker.DeskWorker`: `start()`, `stop()`,
            `wake()`), started after the server starts and stopped before it stops.
        name: The Sanic app name (unique per process).
        config: Cookie and login settings; default from the environment.
        tracker_engine: Engine of Rasa's SQL tracker store (the conversations' record);
            default: the worker's, else one on `settings.effective_tracker_store_url`.
        media_sources: Fetch citizens' media by channel name; default: the channels the
            settings configure (`helpdesk.desk.media.configured_sources`).

    Returns:
        The Sanic app.
    """
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "html"
    app.config.REQUEST_MAX_SIZE = REQUEST_MAX_SIZE
    desk_config = config or auth.DeskConfig.from_settings(services.settings)
    session_factory = services.session_factory

    app.ctx.services = services
    app.ctx.relay = relay if relay is not None else (WorkerRelay(worker) if worker else None)
    app.ctx.worker = worker
    if tracker_engine is None:
        tracker_engine = getattr(worker, "tracker_engine", None)
    if tracker_engine is None:
        from sqlalchemy import create_engine

        tracker_engine = create_engine(services.settings.effective_tracker_store_url)
    app.ctx.tracker_engine = tracker_engine
    app.ctx.desk_config = desk_config
    app.ctx.media_sources = (
        media_sources if media_sources is not None else configured_sources(services.settings)
    )
    app.ctx.jinja = make_jinja(services.settings.tz)
    app.ctx.login_throttle = LoginThrottle(
        desk_config.login_max_failures, desk_config.login_lockout_seconds
    )
    app.ctx.desk_sessions = DeskSessionRepository(session_factory, ttl=desk_config.session_ttl)

    app.register_middleware(ids_in_range_middleware, "request")
    app.register_middleware(auth.desk_request_middleware, "request")
    app.register_middleware(auth.security_headers_middleware, "response")
    app.register_middleware(desk_audit.audit_response_middleware, "response")
    app.static("/static", str(STATIC_DIR), name="static")

    checks = [database_check(lambda: session_factory)]
    queue = metrics.collector_registry(
        metrics.HandoffQueueCollector(lambda: services.handoffs.queue_summary())
    )

    async def healthz(request: Request) -> HTTPResponse:
        """200 when the desk can read its database, 503 (naming it) when it cannot."""
        report = await asyncio.to_thread(run_checks, checks)
        return response.json(report.as_dict(), status=report.http_status)

    async def metrics_page(request: Request) -> HTTPResponse:
        """Prometheus' text format, with the queue gauges; 403 for callers not let in."""
        token = services.settings.metrics_token
        if not metrics.scrape_allowed(request.ip, request.headers, token):
            return response.json({"error": "forbidden"}, status=403)
        body = await asyncio.to_thread(metrics.render, queue)
        return response.raw(body, content_type=metrics.CONTENT_TYPE)

    app.add_route(healthz, "/healthz", methods=["GET"], name="healthz")
    app.add_route(metrics_page, "/metrics", methods=["GET"], name="metrics")

    for module in VIEW_MODULES:
        app.blueprint(module.bp)

    app.error_handler.add(SanicException, _http_error)
    app.error_handler.add(Exception, _server_error)

    if worker is not None:
        attach_loop(app, worker)
    return app


class WorkerRelay:
    """`app.ctx.relay` when only a worker is given: `deliver_soon()` wakes the worker."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def deliver_soon(self) -> None:
        """Run a worker pass now (deliver pending replies, resume ended conversations)."""
        self.worker.wake()


def attach_loop(app: Sanic, worker: Any, label: str = "desk worker") -> None:
    """Start a background loop's thread (`helpdesk.jobs.loop.LeaderLoop`: the desk worker,
    the broadcast sender) after the server starts; stop it before the server stops."""

    async def start_worker(app: Sanic, loop: Any) -> None:
        worker.start()
        logger.info("%s started", label)

    async def stop_worker(app: Sanic, loop: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, worker.stop)
        logger.info("%s stopped", label)

    app.register_listener(start_worker, "after_server_start")
    app.register_listener(stop_worker, "before_server_stop")


def _ensure_request_state(request: Request) -> None:
    """Errors raised before the middleware ran (e.g. 404) still render with the user's nav."""
    if not hasattr(request.ctx, "user"):
        try:
            auth._load_session(request)
        except Exception:  # the error page must render even when the store is down
            request.ctx.user = request.ctx.desk_session = request.ctx.flash = None


async def ids_in_range_middleware(request: Request) -> None:
    """404 for a route whose URL names an id no row can have ("/conversations/9999...9").

    Sanic's `<id:int>` takes any run of digits; past `helpdesk.desk.views.MAX_ID` the database
    would refuse the number with an error (a 500 page) instead of finding nothing.

    Raises:
        NotFound: For such an id.
    """
    for value in (request.match_info or {}).values():
        if isinstance(value, int) and not id_in_range(value):
            raise NotFound("no such id")


def _size_error(request: Request, status: int) -> HTTPResponse:
    """The Indonesian page (or JSON error on the API) for a request that is too large."""
    title, message = SIZE_ERRORS[status]
    if auth.wants_json(request):
        return response.json({"error": title, "message": message}, status)
    return auth.render(request, "error.html", status=status, title=title, message=message)


def _http_error(request: Request, exception: SanicException) -> HTTPResponse:
    status = int(getattr(exception, "status_code", 500) or 500)
    _ensure_request_state(request)
    if status == 413:
        # Sanic says 413 also when the request line (the URL) and headers pass 8 KB.
        header = "header" in str(exception).lower()
        return _size_error(request, 414 if header else 413)
    if status >= 500:
        logger.error("desk error on %s %s: %s", request.method, request.path, exception)
    resp = auth.error_page(request, status if status in auth.ERROR_MESSAGES else 500)
    if status == 405:
        resp.status = 405
    return resp


def _server_error(request: Request, exception: Exception) -> HTTPResponse:
    logger.exception("unexpected desk error on %s %s", request.method, request.path)
    _ensure_request_state(request)
    return auth.error_page(request, 500)

"""`WebChatInput` (the page) and `SocketIOInput` (the socket.io chat) routes."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from connectors.common import ConversationGuard, add_health_route, clean_text, mask_id
from connectors.common.agent_files import ATTACHMENT_KEY, file_name_of, with_notice, without_file
from connectors.webchat.page import (
    ASSET_HEADERS,
    DEFAULT_SOCKET_PATH,
    DEFAULT_TITLE,
    INDEX_FILE,
    TITLE_LIMIT,
    WEBCHAT_DIR,
    assets_version,
    load_assets,
    page_headers,
    render_index,
)
from connectors.webchat.payloads import (
    CHANNEL_NAME,
    MESSAGE_LIMIT,
    PACKET_LIMIT,
    SOCKETIO_METADATA,
    is_session_id,
)
from connectors.webchat.widget import (
    LOADER_HEADERS,
    LOADER_TEMPLATE,
    clean_name,
    frame_ancestors,
    office_status,
    read_offline,
    record_offline,
    render_loader,
    widget_config,
)
from helpdesk import metrics
from helpdesk.services import get_services
from helpdesk.settings import Settings, get_settings

logger = logging.getLogger("connectors.webchat")


class SocketIOOutput(RasaSocketIOOutput):
    """Rasa's socket.io output channel, counting what it sends (`helpdesk_messages_total`).

    An agent's file cannot be shown without a public address: the visitor gets the reply's
    text with a notice that a file was sent and how to get it (`FILE_NOTICE`).
    """

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if ATTACHMENT_KEY in message:
            filename = file_name_of(message[ATTACHMENT_KEY])
            message = {**without_file(message), "text": with_notice(message.get("text"), filename)}
        await super().send_response(recipient_id, message)
        metrics.message_out(self.name())


class WebChatConfigError(RasaException):
    """The `connectors.webchat.WebChatInput` credentials are invalid."""


class WebChatInput(InputChannel):
    """Serves the web chat page; the socket.io channel handles its messages.

    This channel registers no message route and never calls `on_new_message`: the page
    connects to the socket.io channel of the same server (same origin), which must be
    configured too, as `connectors.webchat.SocketIOInput` with `session_persistence: true`
    (Rasa's own `socketio` channel never delivers answers then; see the module docstring).

    Args:
        title: Page title and header text (plain text; escaped).
        socket_path: The path of Rasa's socket.io server (`socketio_path` of the socketio
            channel).
        root: The folder holding `index.html` and the assets (tests).
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> "WebChatInput":
        """Build the channel from its optional credentials (`title`, `socket_path`).

        Raises:
            WebChatConfigError: On an unknown key or a value of the wrong form.
        """
        credentials = dict(credentials or {})
        unknown = sorted(set(credentials) - {"title", "socket_path"})
        if unknown:
            raise WebChatConfigError(
                f"unknown {CHANNEL_NAME} credentials: {', '.join(unknown)} "
                "(allowed: title, socket_path)"
            )
        return cls(
            title=credentials.get("title") or _profile_name(),
            socket_path=credentials.get("socket_path") or DEFAULT_SOCKET_PATH,
        )

    def __init__(
        self,
        title: str = DEFAULT_TITLE,
        socket_path: str = DEFAULT_SOCKET_PATH,
        root: Path = WEBCHAT_DIR,
    ) -> None:
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_LIMIT:
            raise WebChatConfigError(f"title must be a text of 1 to {TITLE_LIMIT} characters")
        if (
            not isinstance(socket_path, str)
            or not socket_path.startswith("/")
            or any(ch.isspace() or ch in "\"'<>?#" for ch in socket_path)
        ):
            raise WebChatConfigError(
                f"socket_path must be an absolute URL path such as {DEFAULT_SOCKET_PATH!r}"
            )
        self.title = title.strip()
        self.socket_path = socket_path.rstrip("/") or DEFAULT_SOCKET_PATH
        self.root = root

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The page, asset and health routes (read from `root` now; fails if the page is missing).

        Raises:
            WebChatConfigError: When `root` has no `index.html`.
        """
        index_path = self.root / INDEX_FILE
        if not index_path.is_file():
            raise WebChatConfigError(f"the web chat page {index_path} is missing")
        assets = load_assets(self.root)
        settings = get_settings()
        config = widget_config(settings, self.title)
        page = render_index(
            index_path.read_text(encoding="utf-8"),
            title=self.title,
            socket_path=self.socket_path,
            version=assets_version(assets),
            colour=config.colour,
            prechat_name=config.prechat_name,
        )
        headers = page_headers(frame_ancestors(config.allowed_origins))
        template = self.root / LOADER_TEMPLATE
        if not template.is_file():  # a custom page folder without its own loader
            template = WEBCHAT_DIR / LOADER_TEMPLATE
        loader = render_loader(template.read_text(encoding="utf-8"), config)
        logger.debug("web chat: serving %d assets from %s", len(assets), self.root)

        webchat = Blueprint("webchat_webhook", __name__)

        @webchat.route("/", methods=["GET", "HEAD"], strict_slashes=True)
        async def index(_: Request) -> HTTPResponse:
            return response.html(page, headers=headers)

        @webchat.route("", methods=["GET", "HEAD"], strict_slashes=True)
        async def index_without_slash(request: Request) -> HTTPResponse:
            # Relative asset URLs need the trailing slash.
            target = request.path + "/"
            if request.query_string:
                target += "?" + request.query_string
            return response.redirect(target, status=301)

        add_health_route(webchat, "/health")
        add_widget_routes(webchat, loader)

        @webchat.route("/static/<name:path>", methods=["GET", "HEAD"])
        async def static(_: Request, name: str) -> HTTPResponse:
            asset = assets.get(name)
            if asset is None:
                return response.text("Tidak ditemukan", status=404)
            return response.raw(
                asset.body, content_type=asset.content_type, headers=dict(ASSET_HEADERS)
            )

        return webchat


def _profile_name() -> str:
    """The organisation's service name (the page's default title)."""
    try:
        return get_settings().profile.name[:TITLE_LIMIT]
    except Exception:  # a bad profile stops the other processes with its own message
        logger.exception("web chat: the profile could not be read; default title used")
        return DEFAULT_TITLE


#: Messages left outside office hours: per visitor address, so the form cannot flood tickets.
OFFLINE_RULE_LIMIT = (5, 3600)


def _same_site(request: Request) -> bool:
    """Whether a POST comes from this server's own page (its Origin names this host)."""
    origin = request.headers.get("origin") or ""
    host = origin.partition("://")[2]
    return bool(host) and host.lower() == (request.host or "").lower()


def add_widget_routes(webchat: Blueprint, loader: str) -> None:
    """`widget.js` (the loader), `status` (office status) and `offline` (a message left
    outside office hours, kept as a ticket): `connectors.webchat.widget`."""

    @webchat.route("/widget.js", methods=["GET", "HEAD"])
    async def widget_js(_: Request) -> HTTPResponse:
        return response.text(
            loader, content_type="text/javascript; charset=utf-8", headers=dict(LOADER_HEADERS)
        )

    @webchat.route("/status", methods=["GET"])
    async def status(_: Request) -> HTTPResponse:
        def work() -> dict[str, Any]:
            services = get_services()
            return office_status(services, services.settings.now())

        try:
            body = await asyncio.get_running_loop().run_in_executor(None, work)
        except Exception:
            logger.exception("web chat: the office status could not be read")
            return response.json({"error": "unavailable"}, status=503)
        return response.json(body, headers={"Cache-Control": "no-store"})

    @webchat.route("/offline", methods=["POST"])
    async def offline(request: Request) -> HTTPResponse:
        if not _same_site(request):
            return response.json({"errors": {"form": "Permintaan ditolak."}}, status=403)
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        message, errors = read_offline(body)
        if message is None:
            return response.json({"errors": errors}, status=400)
        session_id = body.get("session_id") if isinstance(body, dict) else None
        client = request.remote_addr or request.ip or "unknown"

        def work() -> tuple[int, dict[str, Any]]:
            from helpdesk.security.ratelimit import Rule

            services = get_services()
            rule = Rule("webchat_offline", *OFFLINE_RULE_LIMIT)
            if not services.rate_limiter.hit(rule, client).allowed:
                text = "Terlalu banyak pesan dari alamat Anda. Silakan coba lagi nanti."
                return 429, {"errors": {"form": text}}
            now = services.settings.now()
            sender = session_id if is_session_id(session_id) else None
            return 200, record_offline(services, message, now, sender)

        try:
            code, result = await asyncio.get_running_loop().run_in_executor(None, work)
        except Exception:
            logger.exception("web chat: a message left outside office hours was not stored")
            text = "Maaf, pesan Anda belum tersimpan karena gangguan teknis. Silakan coba lagi."
            return response.json({"errors": {"form": text}}, status=503)
        return response.json(result, status=code)


def share_rooms(sio: AsyncServer, settings: Settings | None = None) -> bool:
    """With `HELPDESK_REDIS_URL` set (several Rasa servers), socket.io rooms span every server
    through Redis (python-socketio's `AsyncRedisManager`): an answer or an agent's reply
    emitted by one Rasa server reaches a web chat connected to another. The balancer keeps each
    connection on one server (sticky sessions, as socket.io requires).

    Returns:
        True when the rooms are shared.
    """
    settings = settings or get_settings()
    if not settings.redis_url:
        return False
    channel = f"{settings.redis_key_prefix or 'helpdesk'}:socketio"
    manager = AsyncRedisManager(settings.redis_url, channel=channel, logger=logger)
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False
    logger.info("socket.io: rooms shared by every Rasa server through Redis")
    return True


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel with working, bound sessions (see the module docstring).

    Same credentials and name ("socketio") as Rasa's. With `session_persistence: true`:

    * `session_request` keeps the requested `session_id` only when it has the form of an id
      this channel issues (32 hex digits), else issues a new one; the connection joins that
      session's room (awaited) and is bound to it;
    * a user message is handled under the connection's confirmed session; one naming another
      session, or sent before `session_request`, is dropped;
    * the metadata of every message is `{"channel": "socketio"}`, whatever the client sent;
    * a session id whose conversation belongs to another channel (`ConversationGuard`) is
      replaced by a new one at `session_request`, and a message for it is dropped.

    Always: a packet over `PACKET_LIMIT` bytes is refused (a long-polling POST with 413,
    unread; a WebSocket frame closes the connection), a message over `MESSAGE_LIMIT`
    characters is dropped, and NUL characters and lone surrogates are taken out of the text.

    Without session persistence, Rasa's behaviour is kept, but for the metadata.
    """

    def get_output_channel(self) -> OutputChannel | None:
        """The socket.io output channel (agents' replies, the idle message), counting."""
        return None if self.sio is None else SocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, with the session and message handlers replaced."""
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by super().blueprint
        namespace = self.namespace
        sio.eio.max_http_buffer_size = PACKET_LIMIT
        share_rooms(sio)
        _limit_polling_bodies(socketio_webhook, self.socketio_path, PACKET_LIMIT)
        guard = ConversationGuard(self.name())
        guard.attach(socketio_webhook)

        async def other_channel(session_id: str) -> str | None:
            """The channel owning the conversation `session_id` when it is not socket.io;
            "unknown" when the tracker store cannot tell (then nothing passes)."""
            try:
                return await guard.other_channel(session_id)
            except Exception as error:
                logger.error("socket.io: checking a session failed (%s)", type(error).__name__)
                return "unknown"

        async def confirmed_session(sid: str) -> str | None:
            session = await sio.get_session(sid, namespace=namespace)
            return session.get("session_id") if isinstance(session, dict) else None

        async def session_name(sid: str) -> str | None:
            session = await sio.get_session(sid, namespace=namespace)
            return session.get("name") if isinstance(session, dict) else None

        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if is_session_id(requested) else uuid.uuid4().hex
            if session_id == requested and await other_channel(session_id) is not None:
                logger.warning(
                    "socket.io: session %s belongs to another channel; a new one is issued",
                    mask_id(session_id),
                )
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                previous = await confirmed_session(sid)
                if previous and previous != session_id:
                    await _maybe_await(sio.leave_room(sid, previous, namespace=namespace))
                await _maybe_await(sio.enter_room(sid, session_id, namespace=namespace))
                session: dict[str, Any] = {"session_id": session_id}
                name = clean_name(data.get("name")) if isinstance(data, dict) else None
                if name:  # the widget's pre-chat name: greeted and shown to officers by it
                    session["name"] = name
                await sio.save_session(sid, session, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            logger.debug("socket.io: connection %s confirmed its session", sid)

        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning("socket.io: malformed user message from %s dropped", sid)
                return
            text = clean_text(data.get("message", ""))
            if len(text) > MESSAGE_LIMIT:
                logger.warning("socket.io: a message over %d characters dropped", MESSAGE_LIMIT)
                return
            metadata: dict[str, Any] = dict(SOCKETIO_METADATA)
            if self.session_persistence:
                sender_id = await confirmed_session(sid)
                name = await session_name(sid)
                if name:
                    metadata["name"] = name
                if sender_id is None or data.get("session_id") != sender_id:
                    logger.warning(
                        "socket.io: message from %s outside its confirmed session dropped", sid
                    )
                    return
            else:
                sender_id = sid
            other = await other_channel(sender_id)
            if other is not None:
                logger.warning(
                    "socket.io: message for %s dropped: the conversation belongs to the %s channel",
                    mask_id(sender_id),
                    other,
                )
                return
            output_channel = SocketIOOutput(sio, self.bot_message_evt)
            message = UserMessage(
                text,
                output_channel,
                sender_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            metrics.message_in(self.name())
            await on_new_message(message)

        sio.on("session_request", session_request, namespace=namespace)
        sio.on(self.user_message_evt, handle_message, namespace=namespace)
        return socketio_webhook


def _limit_polling_bodies(blueprint: Blueprint, socketio_path: str, limit: int) -> None:
    """Make Sanic refuse (413, unread) request bodies over `limit` bytes under `socketio_path`.

    Engine.IO's long-polling route is an ordinary Sanic route, whose body Sanic reads whole
    before any handler or middleware runs. The `http.routing.after` signal comes just before
    that read: lowering the request's size limit there makes Sanic stop at `limit`. Blueprint
    signals run for every request of the app, hence the path check.
    """
    prefix = "/" + socketio_path.strip("/")

    async def limit_body(request: Request, **_: Any) -> None:
        if request.path == prefix or request.path.startswith(prefix + "/"):
            stream = request.stream
            if stream is not None and hasattr(stream, "request_max_size"):
                stream.request_max_size = min(stream.request_max_size, limit)

    blueprint.signal("http.routing.after")(limit_body)


async def _maybe_await(result: Any) -> None:
    """Await `result` when it is awaitable (python-socketio >= 5.10 room methods)."""
    if inspect.isawaitable(result):
        await result

"""The web chat page ("live chat" of the service's website), served by the Rasa server.

`WebChatInput` serves a single-page chat client and nothing else: the page talks to Rasa's own
socket.io channel (`socketio:` in `credentials.yml`), which receives the messages and sends the
answers. Serving the page from the Rasa server keeps it on the same origin as socket.io, whose
server Rasa creates with `cors_allowed_origins=[]` (cross-origin browsers are refused).

Routes, under `/webhooks/webchat/`:

* `/webhooks/webchat/`: the page (`webchat/index.html`, with the title and socket.io path
  filled in and asset URLs versioned by their content),
* `/webhooks/webchat/static/<file>`: its assets (`webchat/*.css`, `webchat/*.js`,
  `webchat/vendor/socket.io.min.js`, images), read into memory when the server starts,
* `/webhooks/webchat/health`: `{"status": "ok"}`.

Register it in `credentials.yml` beside the socket.io channel; both keys are optional::

    socketio:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
    connectors.webchat.WebChatInput:
      title: Layanan Bantuan        # page title and header
      socket_path: /socket.io       # must equal `socketio_path` of the socketio channel

The page needs `session_persistence: true` and the default event names shown above.
"""

from __future__ import annotations

import hashlib
import html
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: The channel name: the URL prefix `/webhooks/webchat`.
CHANNEL_NAME = "webchat"
#: Where the page and its assets live (the `webchat/` folder of the project).
WEBCHAT_DIR = Path(__file__).resolve().parent.parent / "webchat"
INDEX_FILE = "index.html"

DEFAULT_TITLE = "Layanan Bantuan"
DEFAULT_SOCKET_PATH = "/socket.io"
TITLE_LIMIT = 80

#: The file types served as assets; anything else under `webchat/` is not served.
CONTENT_TYPES: Mapping[str, str] = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
}

#: The page loads only its own scripts and styles; bot images may come from anywhere on the
#: web (`https:`); socket.io connects to the same origin ('self' covers ws/wss of the same host).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
#: Asset URLs carry `?v=<content hash>`, so a changed file gets a new URL.
ASSET_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=86400",
}


class WebChatConfigError(RasaException):
    """The `connectors.webchat.WebChatInput` credentials are invalid."""


@dataclass(frozen=True)
class Asset:
    """One static file of the page, held in memory."""

    body: bytes
    content_type: str


def load_assets(root: Path) -> dict[str, Asset]:
    """The servable files under `root`, by their `/`-separated path relative to it.

    Only files with a known type (`CONTENT_TYPES`) are included; hidden files and folders, and
    the page itself, are not. Looking requests up in this mapping (never joining a requested
    path onto the file system) is what keeps path traversal out.
    """
    assets: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if (
            not path.is_file()
            or relative.as_posix() == INDEX_FILE
            or any(part.startswith(".") for part in relative.parts)
            or path.suffix.lower() not in CONTENT_TYPES
        ):
            continue
        assets[relative.as_posix()] = Asset(path.read_bytes(), CONTENT_TYPES[path.suffix.lower()])
    return assets


def assets_version(assets: Mapping[str, Asset]) -> str:
    """A short hash of every asset's name and content (the `?v=` of the asset URLs)."""
    digest = hashlib.sha256()
    for name in sorted(assets):
        digest.update(name.encode())
        digest.update(hashlib.sha256(assets[name].body).digest())
    return digest.hexdigest()[:12]


def render_index(template: str, *, title: str, socket_path: str, version: str) -> str:
    """Fill the `{{ title }}`, `{{ socket_path }}` and `{{ version }}` slots of the page."""
    values = {"title": title, "socket_path": socket_path, "version": version}
    page = template
    for key, value in values.items():
        page = page.replace("{{ %s }}" % key, html.escape(value, quote=True))
    return page


class WebChatInput(InputChannel):
    """Serves the web chat page; the socket.io channel handles its messages.

    This channel registers no message route and never calls `on_new_message`: the page
    connects to Rasa's `socketio` channel (same server, same origin), which must be configured
    too (with `session_persistence: true`).

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
            title=credentials.get("title") or DEFAULT_TITLE,
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
        page = render_index(
            index_path.read_text(encoding="utf-8"),
            title=self.title,
            socket_path=self.socket_path,
            version=assets_version(assets),
        )
        logger.debug("web chat: serving %d assets from %s", len(assets), self.root)

        webchat = Blueprint("webchat_webhook", __name__)

        @webchat.route("/", methods=["GET", "HEAD"], strict_slashes=True)
        async def index(_: Request) -> HTTPResponse:
            return response.html(page, headers=dict(PAGE_HEADERS))

        @webchat.route("", methods=["GET", "HEAD"], strict_slashes=True)
        async def index_without_slash(request: Request) -> HTTPResponse:
            # Relative asset URLs need the trailing slash.
            target = request.path + "/"
            if request.query_string:
                target += "?" + request.query_string
            return response.redirect(target, status=301)

        @webchat.route("/health", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webchat.route("/static/<name:path>", methods=["GET", "HEAD"])
        async def static(_: Request, name: str) -> HTTPResponse:
            asset = assets.get(name)
            if asset is None:
                return response.text("Tidak ditemukan", status=404)
            return response.raw(
                asset.body, content_type=asset.content_type, headers=dict(ASSET_HEADERS)
            )

        return webchat

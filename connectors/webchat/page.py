"""The web chat page and its assets, rendered with the deployment's title and socket path (pure)."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

#: Where the page and its assets live (the `webchat/` folder of the project).
WEBCHAT_DIR = Path(__file__).resolve().parents[2] / "webchat"


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


def page_headers(frame_ancestors: str) -> dict[str, str]:
    """The page's headers, with the CSP directive naming who may frame it (the widget)."""
    headers = dict(PAGE_HEADERS)
    headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; {frame_ancestors}"
    return headers


def render_index(
    template: str,
    *,
    title: str,
    socket_path: str,
    version: str,
    colour: str = "#0b4a8b",
    prechat_name: bool = False,
) -> str:
    """Fill the `{{ title }}`, `{{ socket_path }}`, `{{ version }}`, `{{ colour }}` and
    `{{ prechat_name }}` slots of the page."""
    values = {
        "title": title,
        "socket_path": socket_path,
        "version": version,
        "colour": colour,
        "prechat_name": "true" if prechat_name else "false",
    }
    page = template
    for key, value in values.items():
        page = page.replace("{{ " + key + " }}", html.escape(value, quote=True))
    return page

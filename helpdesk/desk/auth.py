"""Sessions, CSRF protection, role guards and page rendering of the agent desk.

- A login opens a server-side session (`start_session`, on
  `helpdesk.storage.desk_sessions.DeskSessionRepository`); the `desk_session` cookie holds a
  random token (HttpOnly, SameSite=Lax, Secure when `HELPDESK_DESK_SECURE_COOKIES=true`), the
  database only its SHA-256. Sessions end after 12 hours without a request, at logout, and
  when the user is deactivated.
- Every POST/PUT/PATCH/DELETE carries the session's CSRF token (form field `csrf_token` or
  header `X-CSRF-Token`), checked centrally by `desk_request_middleware`; the login form
  carries a pre-session token kept in its own cookie.
- `login_required(*roles)` guards handlers; `render` renders a template with the base context
  (user, CSRF token, navigation, flash message); responses get strict security headers.

Passwords are hashed in `helpdesk.desk.passwords`, failed logins throttled in
`helpdesk.desk.throttle`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Coroutine, TypeVar, cast
from urllib.parse import quote

from sanic import Request, response
from sanic.response import BaseHTTPResponse, HTTPResponse

# Re-exported: scripts and tests outside tests/unit import it from here.
from helpdesk.security.access import bearer_token
from helpdesk.settings import Settings
from helpdesk.storage.desk_sessions import SESSION_IDLE_TTL, DeskSessionRecord
from helpdesk.storage.desk_users import DeskUserRecord
from helpdesk.storage.enums import DeskRole
from helpdesk.storage.models import DESK_ROLES

logger = logging.getLogger(__name__)

#: Cookie with the session token.
SESSION_COOKIE = "desk_session"
#: Cookie with the login form's pre-session CSRF token (path /login only).
LOGIN_CSRF_COOKIE = "desk_login_csrf"
#: Cookie of a browser that logged in successfully before (path /login only).
DEVICE_COOKIE = "desk_device"
#: Cookie carrying a one-time message to the next page (set by `flash_redirect`).
FLASH_COOKIE = "desk_flash"
#: Form field and header carrying the CSRF token.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change state and so need the CSRF token.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Roles that see every conversation and the reports.
SUPERVISOR_ROLES = (DeskRole.SUPERVISOR, DeskRole.ADMIN)
#: Roles that work the queue, the conversations and the tickets (a knowledge manager sees no
#: citizen's conversation).
STAFF_ROLES = (DeskRole.AGENT, DeskRole.SUPERVISOR, DeskRole.ADMIN)
#: Roles that write and publish the knowledge base (agents read it).
KNOWLEDGE_EDITORS = (DeskRole.KNOWLEDGE, DeskRole.SUPERVISOR, DeskRole.ADMIN)
#: Where each role lands after logging in.
HOME_BY_ROLE: dict[str, str] = {DeskRole.KNOWLEDGE: "/knowledge"}
#: Paths answered with JSON (401/403) instead of pages and redirects.
API_PREFIX = "/api/"
#: Paths served without looking up a session.
STATIC_PREFIX = "/static/"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

#: Indonesian messages shown to desk users.
MSG_LOGIN_FAILED = "Nama pengguna atau kata sandi salah."
MSG_LOGIN_THROTTLED = "Terlalu banyak percobaan masuk. Silakan coba lagi dalam {wait}."
MSG_LOGGED_OUT = "Anda sudah keluar."
ERROR_MESSAGES = {
    400: ("Permintaan tidak valid", "Permintaan tidak dapat diproses. Silakan periksa isian Anda."),
    401: ("Perlu masuk", "Silakan masuk terlebih dahulu."),
    403: ("Akses ditolak", "Anda tidak memiliki izin untuk membuka halaman ini."),
    404: ("Halaman tidak ditemukan", "Halaman yang Anda cari tidak ada atau sudah dipindahkan."),
    405: ("Metode tidak diizinkan", "Permintaan ini tidak didukung untuk halaman tersebut."),
    429: ("Terlalu banyak permintaan", "Silakan tunggu sebentar lalu coba lagi."),
    500: (
        "Terjadi kesalahan",
        "Maaf, terjadi kesalahan pada sistem. Silakan coba lagi beberapa saat lagi.",
    ),
}
MSG_CSRF = "Formulir sudah kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi."


# -- configuration ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeskConfig:
    """Settings of the desk web app (from the helpdesk settings by `from_settings`).

    Attributes:
        secure_cookies: Mark cookies Secure (`HELPDESK_DESK_SECURE_COOKIES`; set it behind HTTPS).
        session_ttl: Idle time after which a session ends.
        login_max_failures: Failed logins per account from one address (or one trusted
            browser) before that pair pauses.
        login_lockout_seconds: The sliding window the failures are counted in (and so, at
            most, how long a pause lasts).
        login_max_failures_per_source: Failed logins from one address, all user names
            together (a password spray), before unknown browsers there pause.
        login_max_failures_per_account: Failed logins of one account from unknown browsers,
            all addresses together, before they pause (trusted browsers go on).
    """

    secure_cookies: bool = False
    session_ttl: timedelta = SESSION_IDLE_TTL
    login_max_failures: int = 5
    login_lockout_seconds: float = 900.0
    login_max_failures_per_source: int = 30
    login_max_failures_per_account: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> "DeskConfig":
        """The desk's settings from the helpdesk settings every process reads."""
        return cls(secure_cookies=settings.desk_secure_cookies)


# -- request state ----------------------------------------------------------------------------
def current_user(request: Request) -> DeskUserRecord | None:
    """The logged-in user of the request, or None."""
    return getattr(request.ctx, "user", None)


def current_session(request: Request) -> DeskSessionRecord | None:
    """The login session of the request, or None."""
    return getattr(request.ctx, "desk_session", None)


def csrf_token(request: Request) -> str | None:
    """The CSRF token forms of this request's page must carry (None when logged out)."""
    session = current_session(request)
    return session.csrf_token if session is not None else None


def wants_json(request: Request) -> bool:
    """Whether the request is for the JSON API (answered with status codes, not pages)."""
    return request.path.startswith(API_PREFIX)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after login; anything else (other sites, odd schemes) -> default."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\t") or target.startswith("/login"):
        return default
    return target


def login_url(request: Request) -> str:
    """/login with `next` pointing back to this request's page."""
    here = request.path + (f"?{request.query_string}" if request.query_string else "")
    return f"/login?next={quote(here, safe='/')}"


# -- sessions ---------------------------------------------------------------------------------
def start_session(request: Request, user_id: int) -> str:
    """Open a login session for the user; returns the token for the session cookie.

    A session the browser had before is ended first (session rotation: a token that existed
    before the login is never kept).
    """
    sessions = request.app.ctx.desk_sessions
    old_token = request.cookies.get(SESSION_COOKIE)
    if old_token:
        sessions.delete(old_token)
    token, _ = sessions.create(user_id)
    return str(token)


def end_session(request: Request) -> None:
    """End the session of the request's cookie on the server (logout)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.ctx.desk_sessions.delete(token)


def end_user_sessions(request: Request, user_id: int) -> int:
    """End every session of a user (e.g. after a password reset); returns how many."""
    return int(request.app.ctx.desk_sessions.delete_for_user(user_id))


#: An async route handler.
HandlerT = TypeVar("HandlerT", bound=Callable[..., Coroutine[Any, Any, HTTPResponse]])


def login_required(*roles: str, scope: str | None = None) -> Callable[[HandlerT], HandlerT]:
    """Guard a handler: only logged-in users, and only these roles when any are given.

    Roles are listed explicitly (use `SUPERVISOR_ROLES` for supervisors and admins). Without a
    session, pages redirect to /login?next=... and `/api/` paths answer 401 JSON; a user of
    another role gets the 403 page (403 JSON on the API). The user and session are in
    `request.ctx.user` and `request.ctx.desk_session`.

    With `scope`, an integrator's API token holding it (`Authorization: Bearer hd_...`, GET
    only) is let in too (`request.ctx.api_token`; no user); a token without it gets 403.
    """
    for role in roles:
        if role not in DESK_ROLES:
            raise ValueError(f"unknown desk role {role!r}")

    def decorator(handler: HandlerT) -> HandlerT:
        @functools.wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            user = current_user(request)
            token = getattr(request.ctx, "api_token", None)
            if user is None and token is not None:
                if scope is not None and scope in token.scopes:
                    return await handler(request, *args, **kwargs)
                return response.json({"error": "forbidden", "scope": scope}, status=403)
            if user is None:
                if wants_json(request):
                    return response.json({"error": "unauthorized"}, status=401)
                return response.redirect(login_url(request))
            if roles and user.role not in roles:
                return error_page(request, 403)
            return await handler(request, *args, **kwargs)

        return cast(HandlerT, guarded)

    return decorator


# -- cookies and flash messages ---------------------------------------------------------------
def set_cookie(
    request: Request,
    resp: HTTPResponse,
    name: str,
    value: str,
    *,
    path: str = "/",
    max_age: int | None = None,
) -> None:
    """Set an HttpOnly, SameSite=Lax cookie (Secure when the desk is configured so)."""
    config: DeskConfig = request.app.ctx.desk_config
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["path"] = path
    cookie["httponly"] = True
    cookie["samesite"] = "Lax"
    if config.secure_cookies:
        cookie["secure"] = True
    if max_age is not None:
        cookie["max-age"] = max_age


def expire_cookie(request: Request, resp: HTTPResponse, name: str, *, path: str = "/") -> None:
    """Tell the browser to drop a cookie."""
    set_cookie(request, resp, name, "", path=path, max_age=0)


def _encode_flash(message: str, kind: str) -> str:
    raw = json.dumps({"k": kind, "m": message[:500]}, ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_flash(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), str):
        return None
    kind = data.get("k") if data.get("k") in ("success", "error", "info") else "info"
    return {"kind": str(kind), "message": data["m"]}


def flash_redirect(
    request: Request, location: str, message: str, *, kind: str = "success"
) -> HTTPResponse:
    """Redirect (303) and show `message` once on the next page rendered.

    Args:
        kind: "success", "error" or "info" (the message's colour).
    """
    resp = response.redirect(location, status=303)
    set_cookie(request, resp, FLASH_COOKIE, _encode_flash(message, kind))
    return resp


# -- rendering --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NavItem:
    """An entry of the navigation bar."""

    label: str
    href: str
    active: bool


_NAV = (
    ("Antrean & Percakapan", "/", STAFF_ROLES, ("/conversations",)),
    ("Tiket", "/tickets", STAFF_ROLES, ()),
    ("Basis Pengetahuan", "/knowledge", DESK_ROLES, ()),
    ("Laporan", "/reports", SUPERVISOR_ROLES, ()),
    ("Data Pribadi", "/privacy/requests", SUPERVISOR_ROLES, ("/privacy",)),
    ("Siaran", "/broadcasts", SUPERVISOR_ROLES, ()),
    ("Admin", "/admin", (DeskRole.ADMIN,), ()),
)


def nav_items(user: DeskUserRecord | None, path: str) -> list[NavItem]:
    """The navigation entries the user's role may see, the current one marked active."""
    if user is None:
        return []
    items = []
    for label, href, roles, also in _NAV:
        if user.role not in roles:
            continue
        prefixes = (href, *also) if href != "/" else also
        active = path == href or any(path == p or path.startswith(p + "/") for p in prefixes)
        items.append(NavItem(label, href, active))
    return items


def render(
    request: Request, template_name: str, *, status: int = 200, **context: Any
) -> HTTPResponse:
    """Render a desk template with the base context, as an HTML response.

    The base context: `user`, `csrf_token`, `csrf_field` (the field name), `nav` (list of
    `NavItem`), `flash` ({"kind", "message"} or None), `request_path`. Explicit `context`
    entries win.
    """
    flash = getattr(request.ctx, "flash", None)
    base: dict[str, Any] = {
        "user": current_user(request),
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "nav": nav_items(current_user(request), request.path),
        "flash": flash,
        "request_path": request.path,
    }
    base.update(context)
    html = request.app.ctx.jinja.get_template(template_name).render(**base)
    resp = response.html(html, status=status)
    if flash is not None or request.cookies.get(FLASH_COOKIE):
        expire_cookie(request, resp, FLASH_COOKIE)
    return resp


def error_page(request: Request, status: int, message: str | None = None) -> HTTPResponse:
    """The Indonesian error page (or a JSON error on the API) for an HTTP status."""
    title, default_message = ERROR_MESSAGES.get(status, ERROR_MESSAGES[500])
    if wants_json(request):
        return response.json({"error": title, "message": message or default_message}, status)
    return render(
        request, "error.html", status=status, title=title, message=message or default_message
    )


# -- middleware -------------------------------------------------------------------------------
def _load_session(request: Request) -> None:
    request.ctx.user = None
    request.ctx.desk_session = None
    request.ctx.api_token = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = request.app.ctx.desk_sessions.get_valid(token)
        if found is not None:
            request.ctx.desk_session, request.ctx.user = found
    request.ctx.flash = _decode_flash(request.cookies.get(FLASH_COOKIE))
    bearer = bearer_token(request.headers.get("authorization"))
    if request.ctx.user is None and bearer and request.method in ("GET", "HEAD"):
        tokens = request.app.ctx.services.api_tokens
        request.ctx.api_token = tokens.find(bearer, now=datetime.now(timezone.utc))


def _submitted_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return request.form.get(CSRF_FIELD) or ""
    return ""


def _tokens_match(expected: str | None, submitted: str) -> bool:
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))


async def desk_request_middleware(request: Request) -> HTTPResponse | None:
    """Load the session of every request and check the CSRF token of state changes."""
    if request.path.startswith(STATIC_PREFIX):
        request.ctx.user = request.ctx.desk_session = request.ctx.flash = None
        return None
    _load_session(request)
    if request.method not in UNSAFE_METHODS:
        return None
    if request.path == "/login":
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not _tokens_match(expected, _submitted_token(request)):
            logger.warning("login form without a valid CSRF token from %s", request.ip)
            return error_page(request, 403, MSG_CSRF)
        return None
    session = current_session(request)
    if session is None:
        if wants_json(request):
            return response.json({"error": "unauthorized"}, status=401)
        return response.redirect("/login", status=303)
    if not _tokens_match(session.csrf_token, _submitted_token(request)):
        logger.warning("%s %s without a valid CSRF token", request.method, request.path)
        return error_page(request, 403, MSG_CSRF)
    return None


async def security_headers_middleware(request: Request, resp: BaseHTTPResponse) -> None:
    """Strict headers on every response; pages are never cached."""
    headers = resp.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(STATIC_PREFIX):
        headers.setdefault("Cache-Control", "private, max-age=300")
    else:
        headers["Cache-Control"] = "no-store"

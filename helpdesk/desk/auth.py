"""Authentication, sessions, CSRF protection and page rendering of the agent desk.

- Passwords are hashed with argon2id (`hash_password`, `verify_password`); older scrypt
  hashes still verify and are replaced by an argon2id hash at the next successful login
  (`password_needs_rehash`), as are argon2 hashes made with weaker parameters.
- A login opens a server-side session (`helpdesk.storage.accounts.DeskSessionRepository`);
  the `desk_session` cookie holds a random token (HttpOnly, SameSite=Lax, Secure when
  `HELPDESK_DESK_SECURE_COOKIES=true`), the database only its SHA-256. Sessions end after
  12 hours without a request, at logout, and when the user is deactivated.
- Every POST/PUT/PATCH/DELETE carries the session's CSRF token (form field `csrf_token` or
  header `X-CSRF-Token`), checked centrally by `desk_request_middleware`; the login form
  carries a pre-session token kept in its own cookie.
- `login_required(*roles)` guards handlers; `render` renders a template with the base context
  (user, CSRF token, navigation, flash message); responses get strict security headers.
- Failed logins are throttled by `LoginThrottle` on the shared, database-backed rate limiter
  (`helpdesk.ratelimit`), so every desk process counts together and a restart forgets
  nothing: per account and address, per address (a password spray across user names) and
  per account (guessing from many addresses). A browser that logged in as the user before
  (the `desk_device` cookie) is counted on its own, so others' failures never lock it out.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Mapping, TypeVar, cast
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sanic import Request, response
from sanic.response import BaseHTTPResponse, HTTPResponse

from helpdesk.ratelimit import Rule
from helpdesk.settings import environment
from helpdesk.storage.accounts import (
    SESSION_IDLE_TTL,
    DeskSessionRecord,
    DeskUserRecord,
    normalise_username,
)
from helpdesk.storage.models import DESK_ROLES

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.ratelimit import RateLimiter

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
#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 10
#: Roles that see every conversation and the reports.
SUPERVISOR_ROLES = ("supervisor", "admin")
#: Paths answered with JSON (401/403) instead of pages and redirects.
API_PREFIX = "/api/"
#: Paths served without looking up a session.
STATIC_PREFIX = "/static/"

#: argon2id with argon2-cffi's defaults: RFC 9106's second recommended option (t=3,
#: m=64 MiB, p=4), above OWASP's minimum (m=19 MiB, t=2, p=1).
_ARGON2 = PasswordHasher()
_ARGON2_PREFIX = "$argon2"
#: Limits of the scrypt hashes still accepted (made by earlier versions).
_MAX_SCRYPT_N = 2**20

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
def _to_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "ya"}


@dataclass(frozen=True)
class DeskConfig:
    """Settings of the desk web app (read from the environment by `from_env`).

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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "DeskConfig":
        env = environment() if environ is None else environ
        return cls(secure_cookies=_to_bool(env.get("HELPDESK_DESK_SECURE_COOKIES", "false")))


# -- passwords --------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    """Hash a password with argon2id and a random salt.

    Returns:
        The PHC string, "$argon2id$v=19$m=...,t=...,p=...$salt$hash".
    """
    return _ARGON2.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Check a hash of earlier versions: "scrypt$n$r$p$salt_b64$hash_b64"."""
    try:
        scheme, n_text, r_text, p_text, salt_text, hash_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(hash_text, validate=True)
    except (ValueError, binascii.Error, AttributeError):
        return False
    if scheme != "scrypt" or not (1 < n <= _MAX_SCRYPT_N) or n & (n - 1) or not 0 < r <= 32:
        return False
    if not 0 < p <= 16 or not expected:
        return False
    try:
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=256 * n * r + 1024 * 1024,
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a stored hash: argon2 (current) or scrypt (earlier versions).

    A malformed hash never matches.
    """
    if not isinstance(stored, str):
        return False
    if stored.startswith(_ARGON2_PREFIX):
        try:
            return bool(_ARGON2.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(password, stored)


def password_needs_rehash(stored: str) -> bool:
    """Whether a stored hash should be replaced at the next successful login: anything that
    is not argon2id with the current parameters (scrypt, weaker argon2 settings)."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return bool(_ARGON2.check_needs_rehash(stored))
    except (InvalidHashError, ValueError):
        return True


_DUMMY_HASH: str | None = None


def dummy_password_check(password: str) -> None:
    """Spend the time of a password check, so an unknown user name answers as slowly."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    verify_password(password, _DUMMY_HASH)


def password_problem(password: str, username: str | None = None) -> str | None:
    """What is wrong with a new password, in Indonesian, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter."
    if password.strip() != password:
        return "Kata sandi tidak boleh diawali atau diakhiri spasi."
    if username and password.lower() == username.strip().lower():
        return "Kata sandi tidak boleh sama dengan nama pengguna."
    return None


# -- login throttle ---------------------------------------------------------------------------
def wait_label(seconds: float) -> str:
    """A wait in Indonesian: "45 detik", "15 menit"."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} detik"
    return f"{math.ceil(seconds / 60)} menit"


class LoginThrottle:
    """Pauses logins after failures, counted in the database for every desk process.

    Following OWASP's guidance against both guessing and lockout abuse:

    - an unknown browser is checked against three rules: failures of this account from this
      address (`max_failures`), failures from this address for any user name (a password
      spray, `max_failures_per_source`) and failures of this account from any address
      (guessing spread over many addresses, `max_failures_per_account`);
    - a browser the account's owner logged in with before (a valid `desk_device` cookie for
      that account) is checked only against its own failures (`max_failures`): failures of an
      attacker, even one behind the same address, never lock the owner out, while a stolen
      device cookie still allows only a few guesses.

    Failures are counted in a sliding window of `lockout_seconds`; a pause ends when enough of
    them have aged out of it, never later than one window after the last failure. A
    successful login forgets the failures of its own account and address (or browser), not
    the address's or the account's totals, which others may have caused.

    Args:
        max_failures: Failures per account and address (or trusted browser).
        lockout_seconds: Length of the sliding window.
        limiter: The shared rate limiter; the desk attaches its services' one on first use
            when none is given (`login_throttle`).
        max_failures_per_source: Failures per address, all user names together.
        max_failures_per_account: Failures per account from unknown browsers.
    """

    def __init__(
        self,
        max_failures: int = 5,
        lockout_seconds: float = 900.0,
        *,
        limiter: "RateLimiter | None" = None,
        max_failures_per_source: int = 30,
        max_failures_per_account: int = 10,
    ) -> None:
        window = max(1, int(lockout_seconds))
        self.limiter = limiter
        self.pair_rule = Rule("login_account_source", max_failures, window)
        self.source_rule = Rule("login_source", max_failures_per_source, window)
        self.account_rule = Rule("login_account", max_failures_per_account, window)

    @classmethod
    def from_config(cls, config: DeskConfig, limiter: "RateLimiter") -> "LoginThrottle":
        """The throttle of a desk configured so, on the shared limiter."""
        return cls(
            config.login_max_failures,
            config.login_lockout_seconds,
            limiter=limiter,
            max_failures_per_source=config.login_max_failures_per_source,
            max_failures_per_account=config.login_max_failures_per_account,
        )

    def _limiter(self) -> "RateLimiter":
        if self.limiter is None:
            raise RuntimeError("LoginThrottle has no rate limiter (use login_throttle(request))")
        return self.limiter

    def _rules(self, username: str, source: str, device: str | None) -> list[tuple[Rule, str]]:
        account = normalise_username(username)
        if device:
            return [(self.pair_rule, f"{account}\x00device\x00{device}")]
        return [
            (self.pair_rule, f"{account}\x00address\x00{source}"),
            (self.source_rule, source),
            (self.account_rule, account),
        ]

    def retry_after(self, username: str, source: str, device: str | None = None) -> float:
        """Seconds to wait before the next attempt; 0 when an attempt is allowed.

        Args:
            username: The user name typed (any case).
            source: The client's address.
            device: The trusted browser's id when the attempt comes from one for this account
                (`TrustedDeviceRepository.device_of`), else None.
        """
        limiter = self._limiter()
        waits = [limiter.peek(rule, key) for rule, key in self._rules(username, source, device)]
        return max((d.retry_after for d in waits if not d.allowed), default=0.0)

    def record_failure(self, username: str, source: str, device: str | None = None) -> None:
        """Count one failed attempt under every rule that applies to it."""
        limiter = self._limiter()
        for rule, key in self._rules(username, source, device):
            limiter.add(rule, key)

    def reset(self, username: str, source: str, device: str | None = None) -> None:
        """After a successful login: forget this account's failures from this address (or
        browser). The totals per address and per account are left to age out."""
        rule, key = self._rules(username, source, device)[0]
        self._limiter().reset(rule, key)


def login_throttle(request: Request) -> LoginThrottle:
    """The desk's login throttle, on its services' shared rate limiter."""
    ctx = request.app.ctx
    throttle = getattr(ctx, "login_throttle", None)
    if not isinstance(throttle, LoginThrottle) or throttle.limiter is None:
        throttle = LoginThrottle.from_config(ctx.desk_config, ctx.services.rate_limiter)
        ctx.login_throttle = throttle
    return throttle


def client_address(request: Request) -> str:
    """The client's address: the one a trusted proxy forwarded (Sanic's `PROXIES_COUNT` /
    `REAL_IP_HEADER`, e.g. `SANIC_PROXIES_COUNT=1` behind nginx), else the peer's."""
    return request.remote_addr or request.ip or "-"


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


#: An async route handler.
HandlerT = TypeVar("HandlerT", bound=Callable[..., Coroutine[Any, Any, HTTPResponse]])


def login_required(*roles: str) -> Callable[[HandlerT], HandlerT]:
    """Guard a handler: only logged-in users, and only these roles when any are given.

    Roles are listed explicitly (use `SUPERVISOR_ROLES` for supervisors and admins). Without a
    session, pages redirect to /login?next=... and `/api/` paths answer 401 JSON; a user of
    another role gets the 403 page (403 JSON on the API). The user and session are in
    `request.ctx.user` and `request.ctx.desk_session`.
    """
    for role in roles:
        if role not in DESK_ROLES:
            raise ValueError(f"unknown desk role {role!r}")

    def decorator(handler: HandlerT) -> HandlerT:
        @functools.wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            user = current_user(request)
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
    ("Antrean & Percakapan", "/", DESK_ROLES, ("/conversations",)),
    ("Tiket", "/tickets", DESK_ROLES, ()),
    ("Laporan", "/reports", SUPERVISOR_ROLES, ()),
    ("Admin", "/admin", ("admin",), ()),
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
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = request.app.ctx.desk_sessions.get_valid(token)
        if found is not None:
            request.ctx.desk_session, request.ctx.user = found
    request.ctx.flash = _decode_flash(request.cookies.get(FLASH_COOKIE))


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

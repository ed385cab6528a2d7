"""Login and logout of the agent desk."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets

from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    DEVICE_COOKIE,
    LOGIN_CSRF_COOKIE,
    MSG_LOGGED_OUT,
    MSG_LOGIN_FAILED,
    MSG_LOGIN_THROTTLED,
    SESSION_COOKIE,
    DeskUserRecord,
    current_session,
    current_user,
    end_session,
    expire_cookie,
    flash_redirect,
    render,
    safe_next,
    set_cookie,
    start_session,
)
from helpdesk.desk.passwords import (
    dummy_password_check,
    hash_password,
    password_needs_rehash,
    verify_password,
)
from helpdesk.desk.throttle import client_address, login_throttle, wait_label
from helpdesk.storage.desk_sessions import TRUSTED_DEVICE_TTL

logger = logging.getLogger(__name__)

bp = Blueprint("desk_auth")

#: Longest user name and password read from the login form (longer ones are refused).
MAX_FIELD_LENGTH = 256


def _login_page(
    request: Request,
    *,
    token: str,
    next_url: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    resp = render(
        request,
        "login.html",
        status=status,
        login_csrf=token,
        next_url=next_url,
        username=username,
        error=error,
    )
    set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, path="/login")
    return resp


def _login_token(request: Request) -> str:
    """The login form's CSRF token: the browser's current one, or a new one."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    return current if 20 <= len(current) <= 128 else secrets.token_urlsafe(32)


@bp.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    """The login page (a logged-in user goes on to the desk)."""
    next_url = safe_next(request.args.get("next"))
    if current_user(request) is not None:
        return response.redirect(next_url)
    return _login_page(request, token=_login_token(request), next_url=next_url)


def _rehash(request: Request, user: DeskUserRecord, password: str, stored: str) -> None:
    """Replace an old-style hash (scrypt, weaker argon2 parameters) after a good login."""
    if not password_needs_rehash(stored):
        return
    try:
        users = request.app.ctx.services.desk_users
        if users.rehash_password(user.id, stored, hash_password(password)):
            logger.info("desk user %s: password hash upgraded to argon2id", user.username)
    except Exception:  # the login itself succeeded; the next one tries again
        logger.exception("could not upgrade the password hash of desk user %s", user.username)


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    """Check the credentials (CSRF already checked by the middleware) and open a session."""
    form = request.form
    username = (form.get("username") or "").strip()[:MAX_FIELD_LENGTH]
    password = form.get("password") or ""
    next_url = safe_next(form.get("next"))
    ip = client_address(request)
    throttle = login_throttle(request)
    token = secrets.token_urlsafe(32)

    services = request.app.ctx.services
    found = services.desk_users.credentials(username) if username else None
    device_token = request.cookies.get(DEVICE_COOKIE)
    device = services.trusted_devices.device_of(device_token, found[0].id) if found else None

    wait = math.ceil(throttle.retry_after(username, ip, device))  # whole seconds, as shown
    if wait > 0:
        logger.warning(
            "desk login throttled for %r from %s (%s browser)",
            username,
            ip,
            "trusted" if device else "unknown",
        )
        resp = _login_page(
            request,
            token=token,
            next_url=next_url,
            username=username,
            error=MSG_LOGIN_THROTTLED.format(wait=wait_label(wait)),
            status=429,
        )
        resp.headers["Retry-After"] = str(wait)
        return resp

    if found is None or len(password) > MAX_FIELD_LENGTH:
        # Password hashing is slow on purpose: off the event loop.
        await asyncio.to_thread(dummy_password_check, password[:MAX_FIELD_LENGTH])
        ok = False
    else:
        user, password_hash = found
        matches = await asyncio.to_thread(verify_password, password, password_hash)
        ok = matches and user.active
    if not ok or found is None:
        throttle.record_failure(username, ip, device)
        logger.info("desk login failed for %r from %s", username, ip)
        return _login_page(
            request,
            token=token,
            next_url=next_url,
            username=username,
            error=MSG_LOGIN_FAILED,
            status=401,
        )

    user, password_hash = found
    throttle.reset(username, ip, device)
    await asyncio.to_thread(_rehash, request, user, password, password_hash)
    session_token = start_session(request, user.id)  # ends the browser's earlier session
    new_device = services.trusted_devices.issue(user.id, replaces=device_token if device else None)
    logger.info("desk login: %s (%s) from %s", user.username, user.role, ip)
    resp = response.redirect(next_url, status=303)
    set_cookie(request, resp, SESSION_COOKIE, session_token)
    set_cookie(
        request,
        resp,
        DEVICE_COOKIE,
        new_device,
        path="/login",
        max_age=int(TRUSTED_DEVICE_TTL.total_seconds()),
    )
    expire_cookie(request, resp, LOGIN_CSRF_COOKIE, path="/login")
    return resp


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    """End the session on the server and in the browser (CSRF checked by the middleware)."""
    end_session(request)
    user = current_user(request)
    if user is not None and current_session(request) is not None:
        logger.info("desk logout: %s", user.username)
    resp = flash_redirect(request, "/login", MSG_LOGGED_OUT, kind="info")
    expire_cookie(request, resp, SESSION_COOKIE)
    return resp

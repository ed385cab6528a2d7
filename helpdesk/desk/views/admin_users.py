"""Admin pages of the desk: users (role admin).

- `GET /admin/users`: every desk user, with role, division, limit and status.
- `GET|POST /admin/users/new`: create a user with an initial password.
- `GET|POST /admin/users/<id>`: edit a user's name, role, division and limit;
  `POST .../password` sets a new password, `POST .../active` (de)activates.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    DESK_ROLES,
    DeskRole,
    current_user,
    end_user_sessions,
    error_page,
    flash_redirect,
    login_required,
    render,
)
from helpdesk.desk.passwords import hash_password, password_problem
from helpdesk.desk.views import parse_id, services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.storage.desk_users import DuplicateNameError, LastAdminError

logger = logging.getLogger(__name__)

bp = Blueprint("desk_admin_users", url_prefix="/admin")

#: User names: lower-case letters, digits, dot, dash, underscore; 3-64 characters.
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
#: Highest per-agent conversation limit the form accepts.
MAX_CONVERSATIONS_LIMIT = 50

MSG_DUPLICATE_USER = "Nama pengguna sudah dipakai."
MSG_LAST_ADMIN = "Perubahan ditolak: harus tetap ada minimal satu admin yang aktif."
MSG_PASSWORD_MISMATCH = "Konfirmasi kata sandi tidak sama."  # noqa: S105 - a message


def _divisions_by_id(request: Request) -> dict[int, Any]:
    return {division.id: division for division in services_of(request).divisions.list()}


@bp.get("/users")
@login_required(DeskRole.ADMIN)
async def users_list(request: Request) -> HTTPResponse:
    """Every desk user, with role, division, limit and status."""
    return render(
        request,
        "admin_users.html",
        users=services_of(request).desk_users.list(),
        divisions=_divisions_by_id(request),
    )


def _profile_from_form(request: Request, errors: dict[str, str]) -> dict[str, Any]:
    """Display name, role, division and limit from the user form (errors collected)."""
    display_name = form_field(request, "display_name")
    if not display_name:
        errors["display_name"] = "Nama lengkap wajib diisi."
    elif len(display_name) > 128:
        errors["display_name"] = "Nama lengkap maksimal 128 karakter."
    role = form_field(request, "role")
    if role not in DESK_ROLES:
        errors["role"] = "Pilih peran: agen, supervisor, admin atau pengelola pengetahuan."
    division_text = form_field(request, "division_id")
    division_id: int | None = None
    if division_text:
        division_id = parse_id(division_text) or -1
        if services_of(request).divisions.get(division_id) is None:
            errors["division_id"] = "Divisi tidak ditemukan."
    limit_text = form_field(request, "max_conversations")
    limit = int(limit_text) if limit_text.isdigit() and len(limit_text) <= 4 else 0
    if not 1 <= limit <= MAX_CONVERSATIONS_LIMIT:
        errors["max_conversations"] = (
            f"Batas percakapan harus angka 1 sampai {MAX_CONVERSATIONS_LIMIT}."
        )
    return {
        "display_name": display_name,
        "role": role,
        "division_id": division_id,
        "max_conversations": limit,
    }


def _new_password_from_form(request: Request, username: str, errors: dict[str, str]) -> str:
    password = request.form.get("password") or ""
    problem = password_problem(password, username)
    if problem:
        errors["password"] = problem
    elif password != (request.form.get("password_confirm") or ""):
        errors["password_confirm"] = MSG_PASSWORD_MISMATCH
    return password


def _user_form(
    request: Request,
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    edited: Any = None,
    status: int = 200,
) -> HTTPResponse:
    return render(
        request,
        "admin_user_form.html",
        status=status,
        values=values,
        errors=errors or {},
        edited=edited,
        roles=DESK_ROLES,
        divisions=services_of(request).divisions.list(),
        max_limit=MAX_CONVERSATIONS_LIMIT,
    )


@bp.get("/users/new")
@login_required(DeskRole.ADMIN)
async def user_new_form(request: Request) -> HTTPResponse:
    """The form for a new user."""
    values = {"role": DeskRole.AGENT, "max_conversations": 3, "division_id": None}
    return _user_form(request, values=values)


@bp.post("/users/new")
@login_required(DeskRole.ADMIN)
async def user_create(request: Request) -> HTTPResponse:
    """Create a user with an initial password (shown again nowhere)."""
    errors: dict[str, str] = {}
    username = form_field(request, "username").lower()
    if not USERNAME_PATTERN.match(username):
        errors["username"] = (
            "Nama pengguna 3-64 karakter: huruf kecil, angka, titik, garis bawah atau tanda hubung."
        )
    profile = _profile_from_form(request, errors)
    _new_password_from_form(request, username, errors)
    values = {"username": username, **profile}
    if errors:
        return _user_form(request, values=values, errors=errors, status=400)
    try:
        created = services_of(request).desk_users.create(
            username,
            profile["display_name"],
            hash_password(request.form.get("password") or ""),
            role=profile["role"],
            division_id=profile["division_id"],
            max_conversations=profile["max_conversations"],
        )
    except DuplicateNameError:
        errors["username"] = MSG_DUPLICATE_USER
        return _user_form(request, values=values, errors=errors, status=400)
    logger.info("desk user %s (%s) created by %s", created.username, created.role, actor(request))
    return flash_redirect(request, "/admin/users", f"Pengguna {created.display_name} dibuat.")


@bp.get("/users/<user_id:int>")
@login_required(DeskRole.ADMIN)
async def user_edit_form(request: Request, user_id: int) -> HTTPResponse:
    """The form to edit a user, reset the password and (de)activate."""
    edited = services_of(request).desk_users.get(user_id)
    if edited is None:
        return error_page(request, 404)
    values = {
        "username": edited.username,
        "display_name": edited.display_name,
        "role": edited.role,
        "division_id": edited.division_id,
        "max_conversations": edited.max_conversations,
    }
    return _user_form(request, values=values, edited=edited)


@bp.post("/users/<user_id:int>")
@login_required(DeskRole.ADMIN)
async def user_update(request: Request, user_id: int) -> HTTPResponse:
    """Save a user's name, role, division and limit."""
    edited = services_of(request).desk_users.get(user_id)
    if edited is None:
        return error_page(request, 404)
    errors: dict[str, str] = {}
    profile = _profile_from_form(request, errors)
    values = {"username": edited.username, **profile}
    if errors:
        return _user_form(request, values=values, errors=errors, edited=edited, status=400)
    try:
        services_of(request).desk_users.update(user_id, **profile)
    except LastAdminError:
        errors["role"] = MSG_LAST_ADMIN
        return _user_form(request, values=values, errors=errors, edited=edited, status=400)
    logger.info("desk user %s updated by %s", edited.username, actor(request))
    return flash_redirect(request, "/admin/users", f"Data {profile['display_name']} disimpan.")


@bp.post("/users/<user_id:int>/password")
@login_required(DeskRole.ADMIN)
async def user_reset_password(request: Request, user_id: int) -> HTTPResponse:
    """Set a new password; the user's sessions end (they log in again with it)."""
    edited = services_of(request).desk_users.get(user_id)
    if edited is None:
        return error_page(request, 404)
    errors: dict[str, str] = {}
    _new_password_from_form(request, edited.username, errors)
    if errors:
        values = {
            "username": edited.username,
            "display_name": edited.display_name,
            "role": edited.role,
            "division_id": edited.division_id,
            "max_conversations": edited.max_conversations,
        }
        return _user_form(request, values=values, errors=errors, edited=edited, status=400)
    services_of(request).desk_users.set_password(
        user_id, hash_password(request.form.get("password") or "")
    )
    end_user_sessions(request, user_id)
    logger.info("desk password of %s reset by %s", edited.username, actor(request))
    own = current_user(request)
    if own is not None and own.id == user_id:
        return flash_redirect(
            request,
            "/login",
            "Kata sandi diganti. Silakan masuk dengan kata sandi baru.",
            kind="info",
        )
    return flash_redirect(
        request, f"/admin/users/{user_id}", f"Kata sandi {edited.display_name} diganti."
    )


@bp.post("/users/<user_id:int>/active")
@login_required(DeskRole.ADMIN)
async def user_set_active(request: Request, user_id: int) -> HTTPResponse:
    """Deactivate (sessions end at once, cannot log in) or reactivate a user."""
    edited = services_of(request).desk_users.get(user_id)
    if edited is None:
        return error_page(request, 404)
    active = form_field(request, "active") == "1"
    own = current_user(request)
    if not active and own is not None and own.id == user_id:
        return flash_redirect(
            request,
            f"/admin/users/{user_id}",
            "Anda tidak dapat menonaktifkan akun Anda sendiri.",
            kind="error",
        )
    try:
        services_of(request).desk_users.update(user_id, active=active)
    except LastAdminError:
        return flash_redirect(request, f"/admin/users/{user_id}", MSG_LAST_ADMIN, kind="error")
    state = "diaktifkan" if active else "dinonaktifkan"
    logger.info("desk user %s %s by %s", edited.username, state, actor(request))
    return flash_redirect(request, "/admin/users", f"Akun {edited.display_name} {state}.")

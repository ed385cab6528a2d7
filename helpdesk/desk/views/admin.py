"""Admin pages of the desk: users, divisions, canned responses and office hours (role admin)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    current_user,
    error_page,
    flash_redirect,
    hash_password,
    login_required,
    password_problem,
    render,
)
from helpdesk.desk.views import parse_id
from helpdesk.handoff.desk_settings import (
    OFFICE_HOURS_KEY,
    office_hours_provider,
    office_hours_text,
    parse_office_hours_text,
    summarise_office_hours,
)
from helpdesk.handoff.office_hours import OfficeHoursError
from helpdesk.storage.accounts import (
    NAME_PLACEHOLDER,
    DuplicateNameError,
    LastAdminError,
    fill_placeholder,
)
from helpdesk.storage.models import DESK_ROLES

logger = logging.getLogger(__name__)

bp = Blueprint("desk_admin", url_prefix="/admin")

#: User names: lower-case letters, digits, dot, dash, underscore; 3-64 characters.
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
#: Highest per-agent conversation limit the form accepts.
MAX_CONVERSATIONS_LIMIT = 50
#: Name used to preview canned responses.
PREVIEW_NAME = "Budi"

MSG_DUPLICATE_USER = "Nama pengguna sudah dipakai."
MSG_LAST_ADMIN = "Perubahan ditolak: harus tetap ada minimal satu admin yang aktif."
MSG_PASSWORD_MISMATCH = "Konfirmasi kata sandi tidak sama."  # noqa: S105 - a message


def _field(request: Request, name: str) -> str:
    return (request.form.get(name) or "").strip()


def _users(request: Request) -> Any:
    return request.app.ctx.users


def _divisions_by_id(request: Request) -> dict[int, Any]:
    return {division.id: division for division in request.app.ctx.divisions.list()}


# -- overview ---------------------------------------------------------------------------------
@bp.get("/")
@login_required("admin")
async def index(request: Request) -> HTTPResponse:
    """The admin overview, with links to each admin page."""
    users = _users(request).list()
    _, source = office_hours_text(request.app.ctx.services.settings, _session_factory(request))
    return render(
        request,
        "admin_index.html",
        user_count=len(users),
        active_count=sum(1 for u in users if u.active),
        online_count=sum(1 for u in users if u.online and u.active),
        division_count=len(request.app.ctx.divisions.list()),
        canned_count=len(request.app.ctx.canned.list()),
        office_hours_source=source,
    )


# -- users ------------------------------------------------------------------------------------
@bp.get("/users")
@login_required("admin")
async def users_list(request: Request) -> HTTPResponse:
    """Every desk user, with role, division, limit and status."""
    return render(
        request,
        "admin_users.html",
        users=_users(request).list(),
        divisions=_divisions_by_id(request),
    )


def _profile_from_form(request: Request, errors: dict[str, str]) -> dict[str, Any]:
    """Display name, role, division and limit from the user form (errors collected)."""
    display_name = _field(request, "display_name")
    if not display_name:
        errors["display_name"] = "Nama lengkap wajib diisi."
    elif len(display_name) > 128:
        errors["display_name"] = "Nama lengkap maksimal 128 karakter."
    role = _field(request, "role")
    if role not in DESK_ROLES:
        errors["role"] = "Pilih peran: agen, supervisor atau admin."
    division_text = _field(request, "division_id")
    division_id: int | None = None
    if division_text:
        division_id = parse_id(division_text) or -1
        if request.app.ctx.divisions.get(division_id) is None:
            errors["division_id"] = "Divisi tidak ditemukan."
    limit_text = _field(request, "max_conversations")
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
        divisions=request.app.ctx.divisions.list(),
        max_limit=MAX_CONVERSATIONS_LIMIT,
    )


@bp.get("/users/new")
@login_required("admin")
async def user_new_form(request: Request) -> HTTPResponse:
    """The form for a new user."""
    values = {"role": "agent", "max_conversations": 3, "division_id": None}
    return _user_form(request, values=values)


@bp.post("/users/new")
@login_required("admin")
async def user_create(request: Request) -> HTTPResponse:
    """Create a user with an initial password (shown again nowhere)."""
    errors: dict[str, str] = {}
    username = _field(request, "username").lower()
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
        created = _users(request).create(
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
    logger.info("desk user %s (%s) created by %s", created.username, created.role, _actor(request))
    return flash_redirect(request, "/admin/users", f"Pengguna {created.display_name} dibuat.")


def _actor(request: Request) -> str:
    user = current_user(request)
    return user.username if user is not None else "-"


@bp.get("/users/<user_id:int>")
@login_required("admin")
async def user_edit_form(request: Request, user_id: int) -> HTTPResponse:
    """The form to edit a user, reset the password and (de)activate."""
    edited = _users(request).get(user_id)
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
@login_required("admin")
async def user_update(request: Request, user_id: int) -> HTTPResponse:
    """Save a user's name, role, division and limit."""
    edited = _users(request).get(user_id)
    if edited is None:
        return error_page(request, 404)
    errors: dict[str, str] = {}
    profile = _profile_from_form(request, errors)
    values = {"username": edited.username, **profile}
    if errors:
        return _user_form(request, values=values, errors=errors, edited=edited, status=400)
    try:
        _users(request).update(user_id, **profile)
    except LastAdminError:
        errors["role"] = MSG_LAST_ADMIN
        return _user_form(request, values=values, errors=errors, edited=edited, status=400)
    logger.info("desk user %s updated by %s", edited.username, _actor(request))
    return flash_redirect(request, "/admin/users", f"Data {profile['display_name']} disimpan.")


@bp.post("/users/<user_id:int>/password")
@login_required("admin")
async def user_reset_password(request: Request, user_id: int) -> HTTPResponse:
    """Set a new password; the user's sessions end (they log in again with it)."""
    edited = _users(request).get(user_id)
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
    _users(request).set_password(user_id, hash_password(request.form.get("password") or ""))
    request.app.ctx.desk_sessions.delete_for_user(user_id)
    logger.info("desk password of %s reset by %s", edited.username, _actor(request))
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
@login_required("admin")
async def user_set_active(request: Request, user_id: int) -> HTTPResponse:
    """Deactivate (sessions end at once, cannot log in) or reactivate a user."""
    edited = _users(request).get(user_id)
    if edited is None:
        return error_page(request, 404)
    active = _field(request, "active") == "1"
    own = current_user(request)
    if not active and own is not None and own.id == user_id:
        return flash_redirect(
            request,
            f"/admin/users/{user_id}",
            "Anda tidak dapat menonaktifkan akun Anda sendiri.",
            kind="error",
        )
    try:
        _users(request).update(user_id, active=active)
    except LastAdminError:
        return flash_redirect(request, f"/admin/users/{user_id}", MSG_LAST_ADMIN, kind="error")
    state = "diaktifkan" if active else "dinonaktifkan"
    logger.info("desk user %s %s by %s", edited.username, state, _actor(request))
    return flash_redirect(request, "/admin/users", f"Akun {edited.display_name} {state}.")


# -- divisions --------------------------------------------------------------------------------
def _division_values(request: Request, errors: dict[str, str]) -> dict[str, str]:
    name = _field(request, "name")
    if not name:
        errors["name"] = "Nama divisi wajib diisi."
    elif len(name) > 100:
        errors["name"] = "Nama divisi maksimal 100 karakter."
    return {"name": name, "categories": _field(request, "categories")}


def _divisions_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    edited: Any = None,
    status: int = 200,
) -> HTTPResponse:
    return render(
        request,
        "admin_divisions.html",
        status=status,
        divisions=request.app.ctx.divisions.list(),
        values=values or {"name": "", "categories": ""},
        errors=errors or {},
        edited=edited,
    )


@bp.get("/divisions")
@login_required("admin")
async def divisions_list(request: Request) -> HTTPResponse:
    """The divisions and the form for a new one."""
    return _divisions_page(request)


@bp.post("/divisions")
@login_required("admin")
async def division_create(request: Request) -> HTTPResponse:
    """Create a division (name and FAQ categories, comma-separated)."""
    errors: dict[str, str] = {}
    values = _division_values(request, errors)
    if not errors:
        try:
            request.app.ctx.divisions.create(values["name"], values["categories"])
        except DuplicateNameError:
            errors["name"] = "Nama divisi sudah dipakai."
    if errors:
        return _divisions_page(request, values=values, errors=errors, status=400)
    return flash_redirect(request, "/admin/divisions", f"Divisi {values['name']} dibuat.")


@bp.get("/divisions/<division_id:int>")
@login_required("admin")
async def division_edit_form(request: Request, division_id: int) -> HTTPResponse:
    """The form to rename a division or change its categories."""
    division = request.app.ctx.divisions.get(division_id)
    if division is None:
        return error_page(request, 404)
    values = {"name": division.name, "categories": ", ".join(division.categories)}
    return _divisions_page(request, values=values, edited=division)


@bp.post("/divisions/<division_id:int>")
@login_required("admin")
async def division_update(request: Request, division_id: int) -> HTTPResponse:
    """Save a division."""
    division = request.app.ctx.divisions.get(division_id)
    if division is None:
        return error_page(request, 404)
    errors: dict[str, str] = {}
    values = _division_values(request, errors)
    if not errors:
        try:
            request.app.ctx.divisions.update(
                division_id, name=values["name"], categories=values["categories"]
            )
        except DuplicateNameError:
            errors["name"] = "Nama divisi sudah dipakai."
    if errors:
        return _divisions_page(request, values=values, errors=errors, edited=division, status=400)
    return flash_redirect(request, "/admin/divisions", f"Divisi {values['name']} disimpan.")


@bp.post("/divisions/<division_id:int>/delete")
@login_required("admin")
async def division_delete(request: Request, division_id: int) -> HTTPResponse:
    """Delete a division (its agents keep working, without a division)."""
    division = request.app.ctx.divisions.get(division_id)
    if division is None or not request.app.ctx.divisions.delete(division_id):
        return error_page(request, 404)
    logger.info("division %s deleted by %s", division.name, _actor(request))
    return flash_redirect(request, "/admin/divisions", f"Divisi {division.name} dihapus.")


# -- canned responses -------------------------------------------------------------------------
def _canned_form(
    request: Request,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    edited: Any = None,
    preview: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    return render(
        request,
        "admin_canned_form.html",
        status=status,
        values=values,
        errors=errors or {},
        edited=edited,
        preview=preview,
        placeholder=NAME_PLACEHOLDER,
        preview_name=PREVIEW_NAME,
    )


def _canned_values(request: Request, errors: dict[str, str]) -> dict[str, str]:
    title, body = _field(request, "title"), _field(request, "body")
    if not title:
        errors["title"] = "Judul wajib diisi."
    elif len(title) > 100:
        errors["title"] = "Judul maksimal 100 karakter."
    if not body:
        errors["body"] = "Isi balasan wajib diisi."
    return {"title": title, "body": body}


@bp.get("/canned")
@login_required("admin")
async def canned_list(request: Request) -> HTTPResponse:
    """Canned responses with a preview for a sample name."""
    return render(
        request,
        "admin_canned.html",
        responses=request.app.ctx.canned.list(),
        preview_name=PREVIEW_NAME,
    )


@bp.get("/canned/new")
@login_required("admin")
async def canned_new_form(request: Request) -> HTTPResponse:
    """The form for a new canned response."""
    return _canned_form(request, values={"title": "", "body": ""})


async def _save_canned(request: Request, edited: Any) -> HTTPResponse:
    errors: dict[str, str] = {}
    values = _canned_values(request, errors)
    if errors:
        return _canned_form(request, values=values, errors=errors, edited=edited, status=400)
    if _field(request, "action") == "preview":
        preview = fill_placeholder(values["body"], PREVIEW_NAME)
        return _canned_form(request, values=values, edited=edited, preview=preview)
    if edited is None:
        request.app.ctx.canned.create(values["title"], values["body"])
        message = f"Balasan cepat \u201c{values['title']}\u201d dibuat."
    else:
        request.app.ctx.canned.update(edited.id, title=values["title"], body=values["body"])
        message = f"Balasan cepat \u201c{values['title']}\u201d disimpan."
    return flash_redirect(request, "/admin/canned", message)


@bp.post("/canned/new")
@login_required("admin")
async def canned_create(request: Request) -> HTTPResponse:
    """Preview or create a canned response."""
    return await _save_canned(request, None)


@bp.get("/canned/<response_id:int>")
@login_required("admin")
async def canned_edit_form(request: Request, response_id: int) -> HTTPResponse:
    """The form to edit a canned response."""
    edited = request.app.ctx.canned.get(response_id)
    if edited is None:
        return error_page(request, 404)
    return _canned_form(request, values={"title": edited.title, "body": edited.body}, edited=edited)


@bp.post("/canned/<response_id:int>")
@login_required("admin")
async def canned_update(request: Request, response_id: int) -> HTTPResponse:
    """Preview or save a canned response."""
    edited = request.app.ctx.canned.get(response_id)
    if edited is None:
        return error_page(request, 404)
    return await _save_canned(request, edited)


@bp.post("/canned/<response_id:int>/delete")
@login_required("admin")
async def canned_delete(request: Request, response_id: int) -> HTTPResponse:
    """Delete a canned response."""
    edited = request.app.ctx.canned.get(response_id)
    if edited is None or not request.app.ctx.canned.delete(response_id):
        return error_page(request, 404)
    return flash_redirect(
        request, "/admin/canned", f"Balasan cepat \u201c{edited.title}\u201d dihapus."
    )


# -- office hours -----------------------------------------------------------------------------
def _session_factory(request: Request) -> Any:
    return request.app.ctx.services.session_factory


def _office_hours_page(
    request: Request,
    *,
    text: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    settings = request.app.ctx.services.settings
    stored_text, source = office_hours_text(settings, _session_factory(request))
    try:
        snapshot = office_hours_provider(settings, _session_factory(request)).snapshot()
        summary = summarise_office_hours(snapshot.hours, datetime.now(timezone.utc))
        in_force_error, updated_at = None, snapshot.updated_at
    except OfficeHoursError as exc:
        summary, in_force_error, updated_at = None, str(exc), None
    return render(
        request,
        "admin_office_hours.html",
        status=status,
        text=stored_text if text is None else text,
        source=source,
        error=error,
        summary=summary,
        in_force_error=in_force_error,
        updated_at=updated_at,
        file_path=str(settings.office_hours_file),
    )


@bp.get("/office-hours")
@login_required("admin")
async def office_hours_form(request: Request) -> HTTPResponse:
    """The office hours as YAML (the file's without its comments), with the hours in force."""
    return _office_hours_page(request)


@bp.post("/office-hours")
@login_required("admin")
async def office_hours_save(request: Request) -> HTTPResponse:
    """Validate and save the office hours, or go back to the file's (action=reset)."""
    if _field(request, "action") == "reset":
        request.app.ctx.desk_settings.delete(OFFICE_HOURS_KEY)
        logger.info("office hours reset to the file by %s", _actor(request))
        return flash_redirect(
            request, "/admin/office-hours", "Jam layanan kembali mengikuti berkas konfigurasi."
        )
    text = (request.form.get("office_hours") or "").replace("\r\n", "\n")
    if not text.strip():
        return _office_hours_page(
            request, text=text, error="Jam layanan tidak boleh kosong.", status=400
        )
    try:
        hours = parse_office_hours_text(text)
    except OfficeHoursError as exc:
        return _office_hours_page(
            request, text=text, error=f"Jam layanan tidak valid: {exc}", status=400
        )
    request.app.ctx.desk_settings.set(OFFICE_HOURS_KEY, text)
    logger.info("office hours changed by %s: %s", _actor(request), hours.describe())
    return flash_redirect(
        request, "/admin/office-hours", f"Jam layanan disimpan: {hours.describe()}."
    )

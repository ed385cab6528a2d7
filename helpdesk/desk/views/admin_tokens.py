"""Admin page of integrators' API tokens (role admin).

- `GET /admin/tokens`: the tokens (name, scopes, who made them, last use, expiry, revoked) and
  the form for a new one;
- `POST /admin/tokens`: make a token; the page shows it once (only its hash is kept);
- `POST /admin/tokens/<id>/revoke`: revoke one (it stops working at once).

A token reads what its scopes allow (`helpdesk.storage.api_tokens.API_SCOPES`) with
`Authorization: Bearer hd_...`; each of its downloads is in the audit trail as "token:<name>".
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import DeskRole, flash_redirect, login_required, render
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.storage.api_tokens import API_SCOPES, ApiTokenRepository, TokenError
from helpdesk.storage.models import utcnow

bp = Blueprint("desk_admin_tokens", url_prefix="/admin")

#: The longest life a token may be given (days); empty: no expiry.
MAX_DAYS = 3650


def _repository(request: Request) -> ApiTokenRepository:
    return services_of(request).api_tokens


def _page(
    request: Request, *, made: str | None = None, error: str | None = None, status: int = 200
) -> HTTPResponse:
    return render(
        request,
        "admin_tokens.html",
        status=status,
        tokens=_repository(request).list(),
        scopes=API_SCOPES,
        made=made,
        error=error,
        now=utcnow(),
    )


@bp.get("/tokens")
@login_required(DeskRole.ADMIN)
async def token_list(request: Request) -> HTTPResponse:
    """The tokens and the form for a new one."""
    return await asyncio.to_thread(_page, request)


@bp.post("/tokens")
@login_required(DeskRole.ADMIN)
async def token_create(request: Request) -> HTTPResponse:
    """Make a token and show it once."""
    scopes = {s for s in request.form.getlist("scope") or [] if isinstance(s, str)}
    days_text = form_field(request, "days")
    expires = None
    if days_text:
        if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_DAYS:
            return _page(request, error=f"Masa berlaku 1 sampai {MAX_DAYS} hari.", status=400)
        expires = utcnow() + timedelta(days=int(days_text))
    try:
        token, _ = await asyncio.to_thread(
            _repository(request).create,
            form_field(request, "name"),
            scopes,
            created_by=actor(request),
            expires_at=expires,
        )
    except TokenError as exc:
        return _page(request, error=_message(exc), status=400)
    return await asyncio.to_thread(_page, request, made=token)


def _message(error: TokenError) -> str:
    text = str(error)
    if "name" in text and "exists" not in text:
        return "Nama token wajib diisi (nama sistem yang memakainya)."
    if "exists" in text:
        return "Nama token sudah dipakai."
    return "Pilih minimal satu hak akses."


@bp.post("/tokens/<token_id:int>/revoke")
@login_required(DeskRole.ADMIN)
async def token_revoke(request: Request, token_id: int) -> HTTPResponse:
    """Revoke a token."""
    done = await asyncio.to_thread(_repository(request).revoke, token_id)
    message = "Token dicabut." if done else "Token tidak ditemukan atau sudah dicabut."
    return flash_redirect(request, "/admin/tokens", message, kind="success" if done else "error")

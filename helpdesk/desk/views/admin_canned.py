"""Admin pages of the desk: canned responses, the agents' reply templates (role admin).

- `GET /admin/canned`: the canned responses with a preview for a sample name.
- `GET|POST /admin/canned/new`, `GET|POST /admin/canned/<id>`: preview or save one;
  `POST .../delete` deletes it.
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import DeskRole, error_page, flash_redirect, login_required, render
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import form_field
from helpdesk.storage.canned_responses import NAME_PLACEHOLDER, fill_placeholder

bp = Blueprint("desk_admin_canned", url_prefix="/admin")

#: Name used to preview canned responses.
PREVIEW_NAME = "Budi"


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
    title, body = form_field(request, "title"), form_field(request, "body")
    if not title:
        errors["title"] = "Judul wajib diisi."
    elif len(title) > 100:
        errors["title"] = "Judul maksimal 100 karakter."
    if not body:
        errors["body"] = "Isi balasan wajib diisi."
    return {"title": title, "body": body}


@bp.get("/canned")
@login_required(DeskRole.ADMIN)
async def canned_list(request: Request) -> HTTPResponse:
    """Canned responses with a preview for a sample name."""
    return render(
        request,
        "admin_canned.html",
        responses=services_of(request).canned_responses.list(),
        preview_name=PREVIEW_NAME,
    )


@bp.get("/canned/new")
@login_required(DeskRole.ADMIN)
async def canned_new_form(request: Request) -> HTTPResponse:
    """The form for a new canned response."""
    return _canned_form(request, values={"title": "", "body": ""})


async def _save_canned(request: Request, edited: Any) -> HTTPResponse:
    errors: dict[str, str] = {}
    values = _canned_values(request, errors)
    if errors:
        return _canned_form(request, values=values, errors=errors, edited=edited, status=400)
    if form_field(request, "action") == "preview":
        preview = fill_placeholder(values["body"], PREVIEW_NAME)
        return _canned_form(request, values=values, edited=edited, preview=preview)
    if edited is None:
        services_of(request).canned_responses.create(values["title"], values["body"])
        message = f"Balasan cepat \u201c{values['title']}\u201d dibuat."
    else:
        services_of(request).canned_responses.update(
            edited.id, title=values["title"], body=values["body"]
        )
        message = f"Balasan cepat \u201c{values['title']}\u201d disimpan."
    return flash_redirect(request, "/admin/canned", message)


@bp.post("/canned/new")
@login_required(DeskRole.ADMIN)
async def canned_create(request: Request) -> HTTPResponse:
    """Preview or create a canned response."""
    return await _save_canned(request, None)


@bp.get("/canned/<response_id:int>")
@login_required(DeskRole.ADMIN)
async def canned_edit_form(request: Request, response_id: int) -> HTTPResponse:
    """The form to edit a canned response."""
    edited = services_of(request).canned_responses.get(response_id)
    if edited is None:
        return error_page(request, 404)
    return _canned_form(request, values={"title": edited.title, "body": edited.body}, edited=edited)


@bp.post("/canned/<response_id:int>")
@login_required(DeskRole.ADMIN)
async def canned_update(request: Request, response_id: int) -> HTTPResponse:
    """Preview or save a canned response."""
    edited = services_of(request).canned_responses.get(response_id)
    if edited is None:
        return error_page(request, 404)
    return await _save_canned(request, edited)


@bp.post("/canned/<response_id:int>/delete")
@login_required(DeskRole.ADMIN)
async def canned_delete(request: Request, response_id: int) -> HTTPResponse:
    """Delete a canned response."""
    edited = services_of(request).canned_responses.get(response_id)
    if edited is None or not services_of(request).canned_responses.delete(response_id):
        return error_page(request, 404)
    return flash_redirect(
        request, "/admin/canned", f"Balasan cepat \u201c{edited.title}\u201d dihapus."
    )

"""Admin pages of the desk: divisions, the teams of agents (role admin).

- `GET|POST /admin/divisions`: the divisions and the form for a new one.
- `GET|POST /admin/divisions/<id>`: rename a division or change its FAQ categories;
  `POST .../delete` deletes it.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import DeskRole, error_page, flash_redirect, login_required, render
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.storage.desk_users import DuplicateNameError

logger = logging.getLogger(__name__)

bp = Blueprint("desk_admin_divisions", url_prefix="/admin")


def _division_values(request: Request, errors: dict[str, str]) -> dict[str, str]:
    name = form_field(request, "name")
    if not name:
        errors["name"] = "Nama divisi wajib diisi."
    elif len(name) > 100:
        errors["name"] = "Nama divisi maksimal 100 karakter."
    return {"name": name, "categories": form_field(request, "categories")}


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
        divisions=services_of(request).divisions.list(),
        values=values or {"name": "", "categories": ""},
        errors=errors or {},
        edited=edited,
    )


@bp.get("/divisions")
@login_required(DeskRole.ADMIN)
async def divisions_list(request: Request) -> HTTPResponse:
    """The divisions and the form for a new one."""
    return _divisions_page(request)


@bp.post("/divisions")
@login_required(DeskRole.ADMIN)
async def division_create(request: Request) -> HTTPResponse:
    """Create a division (name and FAQ categories, comma-separated)."""
    errors: dict[str, str] = {}
    values = _division_values(request, errors)
    if not errors:
        try:
            services_of(request).divisions.create(values["name"], values["categories"])
        except DuplicateNameError:
            errors["name"] = "Nama divisi sudah dipakai."
    if errors:
        return _divisions_page(request, values=values, errors=errors, status=400)
    return flash_redirect(request, "/admin/divisions", f"Divisi {values['name']} dibuat.")


@bp.get("/divisions/<division_id:int>")
@login_required(DeskRole.ADMIN)
async def division_edit_form(request: Request, division_id: int) -> HTTPResponse:
    """The form to rename a division or change its categories."""
    division = services_of(request).divisions.get(division_id)
    if division is None:
        return error_page(request, 404)
    values = {"name": division.name, "categories": ", ".join(division.categories)}
    return _divisions_page(request, values=values, edited=division)


@bp.post("/divisions/<division_id:int>")
@login_required(DeskRole.ADMIN)
async def division_update(request: Request, division_id: int) -> HTTPResponse:
    """Save a division."""
    division = services_of(request).divisions.get(division_id)
    if division is None:
        return error_page(request, 404)
    errors: dict[str, str] = {}
    values = _division_values(request, errors)
    if not errors:
        try:
            services_of(request).divisions.update(
                division_id, name=values["name"], categories=values["categories"]
            )
        except DuplicateNameError:
            errors["name"] = "Nama divisi sudah dipakai."
    if errors:
        return _divisions_page(request, values=values, errors=errors, edited=division, status=400)
    return flash_redirect(request, "/admin/divisions", f"Divisi {values['name']} disimpan.")


@bp.post("/divisions/<division_id:int>/delete")
@login_required(DeskRole.ADMIN)
async def division_delete(request: Request, division_id: int) -> HTTPResponse:
    """Delete a division (its agents keep working, without a division)."""
    division = services_of(request).divisions.get(division_id)
    if division is None or not services_of(request).divisions.delete(division_id):
        return error_page(request, 404)
    logger.info("division %s deleted by %s", division.name, actor(request))
    return flash_redirect(request, "/admin/divisions", f"Divisi {division.name} dihapus.")

"""Admin pages of the desk: the overview and the office hours (role admin).

The users, divisions and canned responses have their own modules (`admin_users`,
`admin_divisions`, `admin_canned`), on blueprints under the same `/admin` prefix; the form
helpers they share are here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import DeskRole, current_user, flash_redirect, login_required, render
from helpdesk.desk.views import services_of
from helpdesk.handoff.desk_settings import summarise_office_hours
from helpdesk.handoff.office_hours import OfficeHoursError

logger = logging.getLogger(__name__)

bp = Blueprint("desk_admin", url_prefix="/admin")


def form_field(request: Request, name: str) -> str:
    """A form field's value, trimmed ("" when missing)."""
    return (request.form.get(name) or "").strip()


def actor(request: Request) -> str:
    """The user name of the admin acting (for the logs)."""
    user = current_user(request)
    return user.username if user is not None else "-"


# -- overview ---------------------------------------------------------------------------------
@bp.get("/")
@login_required(DeskRole.ADMIN)
async def index(request: Request) -> HTTPResponse:
    """The admin overview, with links to each admin page."""
    services = services_of(request)
    users = services.desk_users.list()
    _, source = services.office_hours_settings.text()
    return render(
        request,
        "admin_index.html",
        user_count=len(users),
        active_count=sum(1 for u in users if u.active),
        online_count=sum(1 for u in users if u.online and u.active),
        division_count=len(services.divisions.list()),
        canned_count=len(services.canned_responses.list()),
        office_hours_source=source,
    )


# -- office hours -----------------------------------------------------------------------------
def _office_hours_page(
    request: Request,
    *,
    text: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTTPResponse:
    services = services_of(request)
    office_hours = services.office_hours_settings
    stored_text, source = office_hours.text()
    try:
        snapshot = office_hours.snapshot()
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
        file_path=str(services.settings.office_hours_file),
    )


@bp.get("/office-hours")
@login_required(DeskRole.ADMIN)
async def office_hours_form(request: Request) -> HTTPResponse:
    """The office hours as YAML (the file's without its comments), with the hours in force."""
    return _office_hours_page(request)


@bp.post("/office-hours")
@login_required(DeskRole.ADMIN)
async def office_hours_save(request: Request) -> HTTPResponse:
    """Validate and save the office hours, or go back to the file's (action=reset)."""
    if form_field(request, "action") == "reset":
        services_of(request).office_hours_settings.reset()
        logger.info("office hours reset to the file by %s", actor(request))
        return flash_redirect(
            request, "/admin/office-hours", "Jam layanan kembali mengikuti berkas konfigurasi."
        )
    text = (request.form.get("office_hours") or "").replace("\r\n", "\n")
    if not text.strip():
        return _office_hours_page(
            request, text=text, error="Jam layanan tidak boleh kosong.", status=400
        )
    try:
        hours = services_of(request).office_hours_settings.save(text)
    except OfficeHoursError as exc:
        return _office_hours_page(
            request, text=text, error=f"Jam layanan tidak valid: {exc}", status=400
        )
    logger.info("office hours changed by %s: %s", actor(request), hours.describe())
    return flash_redirect(
        request, "/admin/office-hours", f"Jam layanan disimpan: {hours.describe()}."
    )

"""Supervisors' WhatsApp broadcasts in the desk (issue 19): upload, preview, send, follow.

Supervisors and admins only; the work is `helpdesk.broadcasts.service.BroadcastService`
(`services.broadcasts`), the sending is the broadcast sender's (it polls every few seconds).

- `GET /broadcasts`: the latest broadcasts with their totals;
- `GET|POST /broadcasts/new`: a name, an approved template, the CSV of recipients
  (`helpdesk.broadcasts.recipients`) and how they consented; on success the broadcast's page
  with the rows left out in a flash message;
- `GET /broadcasts/<id>`: status, preview, totals, the recipients (masked numbers, a status
  filter, pages) and the buttons the status allows;
- `POST /broadcasts/<id>/send|schedule|pause|resume|cancel`: each back to the page with the
  result or the service's refusal;
- `GET /broadcasts/<id>/export.csv`: every recipient and its status, streamed.

Every POST and the export (a download) are recorded by the desk's audit middleware
(`helpdesk.desk.audit`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from itertools import islice
from typing import Any, cast
from urllib.parse import urlencode

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, ResponseStream

from helpdesk.broadcasts.service import (
    BROADCAST_LABELS,
    RECIPIENT_LABELS,
    BroadcastError,
    BroadcastService,
    Upload,
    mask_number,
)
from helpdesk.conversation.message_templates import MessageTemplate, TemplateError
from helpdesk.desk.auth import (
    SUPERVISOR_ROLES,
    error_page,
    flash_redirect,
    login_required,
    render,
)
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.storage.broadcasts import BroadcastRecord
from helpdesk.storage.enums import BroadcastStatus, RecipientStatus

logger = logging.getLogger(__name__)

bp = Blueprint("desk_broadcasts", url_prefix="/broadcasts")

#: Broadcasts listed on /broadcasts.
LIST_LIMIT = 100
#: Recipients per page of a broadcast's table.
PAGE_SIZE = 50
#: Seconds between reloads of a broadcast's page while it is sending.
REFRESH_SECONDS = 10
#: Longest consent note kept.
MAX_CONSENT_NOTE = 2000
#: Export lines read from the database per chunk sent.
EXPORT_CHUNK = 500
#: Length of the upload summary in the flash message (the flash cookie keeps 500 characters).
MAX_SUMMARY = 480
#: The totals shown in the list, in this order.
LIST_TOTALS = (
    RecipientStatus.SENT,
    RecipientStatus.DELIVERED,
    RecipientStatus.READ,
    RecipientStatus.FAILED,
    RecipientStatus.OPTED_OUT,
)
#: The buttons of a broadcast's page, by its status.
ACTIONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    BroadcastStatus.DRAFT: ("send", "schedule", "cancel"),
    BroadcastStatus.SCHEDULED: ("send", "schedule", "pause", "cancel"),
    BroadcastStatus.SENDING: ("pause", "cancel"),
    BroadcastStatus.PAUSED: ("resume", "cancel"),
}
#: Badge class of each broadcast status.
STATUS_BADGES = {
    BroadcastStatus.DRAFT: "badge-muted",
    BroadcastStatus.SCHEDULED: "badge-warn",
    BroadcastStatus.SENDING: "badge-ok",
    BroadcastStatus.PAUSED: "badge-warn",
    BroadcastStatus.DONE: "badge-ok",
    BroadcastStatus.CANCELLED: "badge-muted",
}

MSG_NO_FILE = "Pilih berkas CSV berisi daftar penerima."
MSG_NO_TEMPLATE = "Pilih templat WhatsApp yang akan dikirim."
MSG_REGISTRY = (
    "Registri templat WhatsApp tidak dapat dibaca. Hubungi admin untuk memeriksa berkasnya."
)
MSG_BAD_TIME = "Isi tanggal dan jam pengiriman dengan benar."
MSG_SENT = "Siaran mulai dikirim. Angka di halaman ini diperbarui selama pengiriman."
MSG_SCHEDULED = "Siaran dijadwalkan pada {when}."
MSG_PAUSED = "Siaran dijeda. Pesan yang belum terkirim menunggu sampai dilanjutkan."
MSG_RESUMED = "Siaran dilanjutkan."
MSG_CANCELLED = "Siaran dibatalkan. Pesan yang belum terkirim tidak akan dikirim."


# -- pure helpers ------------------------------------------------------------------------------
def parse_local_time(text: str, tz: tzinfo) -> datetime | None:
    """A `datetime-local` field's value ("2026-05-04T09:30") as an aware time in `tz` (the
    helpdesk's time zone, as every time the desk shows); None when it is not such a value."""
    text = text.strip()
    if not text or len(text) > 32:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        return None
    return value.replace(tzinfo=tz)


def upload_summary(upload: Upload) -> tuple[str, str]:
    """The flash message after an upload, and its kind: the recipients taken, the duplicates
    and the rows left out with their line and reason (as many as fit, then how many more)."""

    def compose(listed: list[str]) -> str:
        parts = [f"Siaran dibuat dengan {upload.recipients} penerima."]
        if upload.duplicates:
            parts.append(f"{upload.duplicates} nomor ganda hanya dimasukkan sekali.")
        if upload.problem_count:
            rest = upload.problem_count - len(listed)
            items = [*listed, f"dan {rest} baris lainnya"] if listed and rest else listed
            where = f": {'; '.join(items)}" if items else ""
            parts.append(f"{upload.problem_count} baris dilewati{where}.")
        parts.append("Periksa pratinjau sebelum mengirim.")
        return " ".join(parts)

    listed: list[str] = []
    for problem in upload.problems:
        item = f"baris {problem.line} ({problem.reason})"
        if len(compose([*listed, item])) > MAX_SUMMARY:
            break
        listed.append(item)
    return compose(listed), "info" if upload.problem_count else "success"


def template_columns(template: MessageTemplate) -> list[str]:
    """The CSV columns a template needs: the number, the name, then its variables."""
    columns = ["nomor", "nama"]
    columns += [v for v in template.variables if v.lower() not in ("name", "nama")]
    return columns


# -- pages ---------------------------------------------------------------------------------------
def _service(request: Request) -> BroadcastService:
    return services_of(request).broadcasts


def _tz(request: Request) -> tzinfo:
    return services_of(request).settings.tz


def _labels() -> dict[str, Any]:
    return {
        "broadcast_labels": BROADCAST_LABELS,
        "recipient_labels": RECIPIENT_LABELS,
        "status_badges": STATUS_BADGES,
    }


@bp.get("")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_list(request: Request) -> HTTPResponse:
    """The latest broadcasts, newest first, with their totals per recipient status."""
    service = _service(request)

    def work() -> list[tuple[BroadcastRecord, dict[str, int]]]:
        return [(b, service.totals(b.id)) for b in service.latest(LIST_LIMIT)]

    rows = await asyncio.to_thread(work)
    return render(request, "broadcasts_list.html", rows=rows, list_totals=LIST_TOTALS, **_labels())


def _templates(request: Request) -> tuple[tuple[MessageTemplate, ...], str | None]:
    """The approved templates, or none and why."""
    try:
        return services_of(request).whatsapp_templates().templates, None
    except TemplateError as error:
        logger.error("broadcasts: the WhatsApp template registry cannot be read: %s", error)
        return (), MSG_REGISTRY


def _new_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
) -> HTTPResponse:
    templates, registry_error = _templates(request)
    return render(
        request,
        "broadcasts_new.html",
        status=400 if error else 200,
        templates=templates,
        columns={t.name: template_columns(t) for t in templates},
        form=form or {"name": "", "template_name": "", "consent_note": ""},
        error=error or registry_error,
        max_consent_note=MAX_CONSENT_NOTE,
    )


@bp.get("/new")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_new(request: Request) -> HTTPResponse:
    """The upload form: name, template, CSV file, consent note."""
    return _new_page(request)


@bp.post("/new")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_create(request: Request) -> HTTPResponse:
    """Make a draft from the upload; back to the form with the reason when it cannot be."""
    form = {
        "name": form_field(request, "name"),
        "template_name": form_field(request, "template_name"),
        "consent_note": form_field(request, "consent_note")[:MAX_CONSENT_NOTE],
    }
    upload = request.files.get("file") if request.files else None
    if not form["template_name"]:
        return _new_page(request, form=form, error=MSG_NO_TEMPLATE)
    if upload is None or not upload.body:
        return _new_page(request, form=form, error=MSG_NO_FILE)
    service = _service(request)
    try:
        made = await asyncio.to_thread(
            lambda: service.create(
                name=form["name"],
                template_name=form["template_name"],
                data=upload.body,
                consent_note=form["consent_note"],
                created_by=actor(request),
            )
        )
    except BroadcastError as error:
        return _new_page(request, form=form, error=str(error))
    except TemplateError:
        logger.exception("broadcasts: the WhatsApp template registry cannot be read")
        return _new_page(request, form=form, error=MSG_REGISTRY)
    logger.info(
        "broadcast %d made by %s: %d recipients, %d rows left out, %d duplicates",
        made.broadcast.id,
        actor(request),
        made.recipients,
        made.problem_count,
        made.duplicates,
    )
    message, kind = upload_summary(made)
    return flash_redirect(request, f"/broadcasts/{made.broadcast.id}", message, kind=kind)


def _page_link(broadcast_id: int, status: str, page: int) -> str:
    query = {"status": status} if status else {}
    if page > 1:
        query["halaman"] = str(page)
    return f"/broadcasts/{broadcast_id}" + (f"?{urlencode(query)}" if query else "")


def _page_number(text: str | None) -> int:
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return 1
    return max(int(text), 1)


@bp.get("/<broadcast_id:int>")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_detail(request: Request, broadcast_id: int) -> HTTPResponse:
    """A broadcast: status, preview, totals, recipients, the actions its status allows."""
    service = _service(request)
    status = request.args.get("status") or ""
    status = status if status in set(RecipientStatus) else ""
    page = _page_number(request.args.get("halaman"))

    def work() -> dict[str, Any]:
        broadcast = service.get(broadcast_id)
        totals = service.totals(broadcast_id)
        recipients = service.recipients(
            broadcast_id, status=status, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
        )
        return {
            "broadcast": broadcast,
            "preview": service.preview(broadcast_id),
            "totals": totals,
            "total": sum(totals.values()),
            "recipients": recipients[:PAGE_SIZE],
            "has_next": len(recipients) > PAGE_SIZE,
        }

    try:
        found = await asyncio.to_thread(work)
    except BroadcastError as error:
        return error_page(request, 404, str(error))
    except TemplateError:
        logger.exception("broadcasts: the WhatsApp template registry cannot be read")
        return error_page(request, 503, MSG_REGISTRY)
    broadcast = found["broadcast"]
    return render(
        request,
        "broadcasts_detail.html",
        **found,
        selected=status,
        statuses=list(RecipientStatus),
        page=page,
        previous_link=_page_link(broadcast_id, status, page - 1) if page > 1 else None,
        next_link=_page_link(broadcast_id, status, page + 1) if found["has_next"] else None,
        actions=ACTIONS_BY_STATUS.get(broadcast.status, ()),
        refresh=REFRESH_SECONDS if broadcast.status == BroadcastStatus.SENDING else None,
        schedule_value=(
            f"{broadcast.scheduled_at.astimezone(_tz(request)):%Y-%m-%dT%H:%M}"
            if broadcast.scheduled_at
            else ""
        ),
        tz_name=services_of(request).settings.timezone,
        mask_number=mask_number,
        **_labels(),
    )


# -- actions -------------------------------------------------------------------------------------
async def _act(
    request: Request, broadcast_id: int, change: Callable[[], None], done: str
) -> HTTPResponse:
    """Run a supervisor's change; back to the broadcast's page with the result or refusal."""
    service = _service(request)
    where = f"/broadcasts/{broadcast_id}"
    try:
        await asyncio.to_thread(service.get, broadcast_id)
    except BroadcastError as error:
        return error_page(request, 404, str(error))
    try:
        await asyncio.to_thread(change)
    except BroadcastError as error:
        return flash_redirect(request, where, str(error), kind="error")
    action = request.path.rsplit("/", 1)[-1]
    logger.info("broadcast %d: %s by %s", broadcast_id, action, actor(request))
    return flash_redirect(request, where, done)


@bp.post("/<broadcast_id:int>/send")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_send(request: Request, broadcast_id: int) -> HTTPResponse:
    """Send a draft or scheduled broadcast now."""
    service = _service(request)
    return await _act(request, broadcast_id, lambda: service.send_now(broadcast_id), MSG_SENT)


@bp.post("/<broadcast_id:int>/schedule")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_schedule(request: Request, broadcast_id: int) -> HTTPResponse:
    """Send at the time given (the helpdesk's local time)."""
    tz = _tz(request)
    at = parse_local_time(form_field(request, "scheduled_at"), tz)
    if at is None:
        return flash_redirect(request, f"/broadcasts/{broadcast_id}", MSG_BAD_TIME, kind="error")
    service = _service(request)
    when = f"{at:%d-%m-%Y %H.%M}"
    return await _act(
        request,
        broadcast_id,
        lambda: service.schedule(broadcast_id, at),
        MSG_SCHEDULED.format(when=when),
    )


@bp.post("/<broadcast_id:int>/pause")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_pause(request: Request, broadcast_id: int) -> HTTPResponse:
    """Pause a sending or scheduled broadcast."""
    service = _service(request)
    return await _act(request, broadcast_id, lambda: service.pause(broadcast_id), MSG_PAUSED)


@bp.post("/<broadcast_id:int>/resume")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_resume(request: Request, broadcast_id: int) -> HTTPResponse:
    """Go on sending a paused broadcast."""
    service = _service(request)
    return await _act(request, broadcast_id, lambda: service.resume(broadcast_id), MSG_RESUMED)


@bp.post("/<broadcast_id:int>/cancel")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_cancel(request: Request, broadcast_id: int) -> HTTPResponse:
    """Cancel a broadcast that has not finished (unsent recipients stay unsent)."""
    service = _service(request)
    return await _act(request, broadcast_id, lambda: service.cancel(broadcast_id), MSG_CANCELLED)


# -- export --------------------------------------------------------------------------------------
def _take(lines: Iterator[str], count: int) -> str:
    return "".join(islice(lines, count))


@bp.get("/<broadcast_id:int>/export.csv")
@login_required(*SUPERVISOR_ROLES)
async def broadcast_export(request: Request, broadcast_id: int) -> HTTPResponse:
    """Every recipient with its status and times, as CSV (streamed; UTF-8 with a BOM so that
    Excel reads it; a download, so in the audit trail)."""
    service = _service(request)
    try:
        await asyncio.to_thread(service.get, broadcast_id)
    except BroadcastError as error:
        return error_page(request, 404, str(error))
    lines = service.export_csv(broadcast_id)

    async def write(stream: Any) -> None:
        await stream.write("\ufeff")
        while chunk := await asyncio.to_thread(_take, lines, EXPORT_CHUNK):
            await stream.write(chunk)

    # Sanic 21.12 streams through a ResponseStream (its response middleware, and so the
    # security headers and the audit trail, see its headers); the guard types handlers as
    # returning HTTPResponse.
    return cast(
        HTTPResponse,
        ResponseStream(
            write,
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="siaran-{broadcast_id}.csv"'},
        ),
    )

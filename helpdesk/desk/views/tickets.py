"""Tickets on the agent desk: list with filters and paging, read one, change its status and
write the public reply the citizen reads when checking the ticket's status.

- `GET /tickets?status=&q=&dari=&sampai=&pemilik=&halaman=`: newest first, 25 a page.
- `GET /tickets/<id>`: subject, chronology, attachment, e-mail, channel, status, public reply,
  division and assignee.
- `GET /tickets/<id>/lampiran`: the citizen's attachment (`helpdesk.desk.views.media`).
- `POST /tickets/<id>`: new status and/or public reply (an empty reply removes it). A new
  status is sent to the citizen on the ticket's channel by the desk worker
  (`helpdesk.tickets.status_updates`; an approved template on WhatsApp after 24 hours).
- `POST /tickets/<id>/owner` (supervisors and admins): give the ticket to a division and/or
  an agent.

Tickets hold citizens' data (NIK, e-mail, chronology): an agent sees only the tickets of
their division and those assigned to them (`may_view_ticket`), in the list and on every route
of a ticket; any other ticket is refused with the 403 page. Supervisors and admins see every
ticket and give out the ones nobody owns yet.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    STAFF_ROLES,
    SUPERVISOR_ROLES,
    DeskUserRecord,
    current_user,
    error_page,
    flash_redirect,
    login_required,
    render,
)
from helpdesk.desk.masked_view import REVEAL_PARAM
from helpdesk.desk.media import servable
from helpdesk.desk.transcript_view import channel_label, mask_sender_id
from helpdesk.desk.views import parse_id, services_of
from helpdesk.desk.views.conversations import wake_relay
from helpdesk.desk.views.media import serve_attachment
from helpdesk.security.audit import desk_actor
from helpdesk.security.masking import mask_email, mask_identifiers
from helpdesk.storage.desk_queries import OWNER_ME, OWNER_NONE, TicketFilter, may_view_ticket
from helpdesk.storage.models import TICKET_STATUSES
from helpdesk.tickets.service import TicketRecord, TicketStatus, normalize_ticket_id

logger = logging.getLogger(__name__)

bp = Blueprint("desk_tickets")

#: Ticket statuses as agents read them (citizens read `helpdesk.tickets.service.STATUS_LABELS`).
TICKET_STATUS_LABELS: dict[str, str] = {
    TicketStatus.OPEN: "Baru",
    TicketStatus.IN_PROGRESS: "Sedang diproses",
    TicketStatus.RESOLVED: "Selesai",
    TicketStatus.CLOSED: "Ditutup",
}
#: Longest public reply (it is sent on chat channels) and longest search text.
MAX_PUBLIC_REPLY_LENGTH = 2000
MAX_SEARCH_LENGTH = 100

MSG_BAD_DATE = "Tanggal {label} tidak valid; gunakan format TTTT-BB-HH (contoh 2026-04-14)."
MSG_DATE_ORDER = "Tanggal awal tidak boleh setelah tanggal akhir."
MSG_BAD_STATUS = "Status tiket tidak dikenal."
MSG_SEARCH_TOO_LONG = f"Teks pencarian maksimal {MAX_SEARCH_LENGTH} karakter."
MSG_REPLY_TOO_LONG = f"Balasan publik maksimal {MAX_PUBLIC_REPLY_LENGTH} karakter."
MSG_NOT_FOUND = "Tiket tidak ditemukan."
MSG_NO_ATTACHMENT = "Tiket ini tidak memiliki lampiran yang dapat dibuka dari desk."
#: The audit action of a ticket shown with its identifiers in full.
TICKET_UNMASKED_VIEW = "desk.tickets.unmasked_view"
MSG_FORBIDDEN = "Tiket ini ditangani divisi atau petugas lain."
MSG_SAVED = "Tiket {id} disimpan."
MSG_UNCHANGED = "Tidak ada perubahan pada tiket {id}."
MSG_BAD_OWNER_FILTER = "Pilihan pemilik tiket tidak dikenal."
MSG_DIVISION_UNKNOWN = "Divisi yang dipilih tidak ditemukan."
MSG_ASSIGNEE_UNKNOWN = "Petugas yang dipilih tidak ditemukan atau tidak aktif."
MSG_OWNER_SAVED = "Penanganan tiket {id} disimpan."
#: The list's owner filter as typed in the URL (`pemilik=`) -> `TicketFilter.owner`.
OWNER_FILTERS = {"tanpa": OWNER_NONE, "saya": OWNER_ME}


@dataclass
class ListQuery:
    """The ticket list's filters as typed (to fill the form again) and as parsed."""

    status: str = ""
    text: str = ""
    date_from: str = ""
    date_to: str = ""
    owner: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)
    filter: TicketFilter = field(default_factory=TicketFilter)

    def link(self, page: int) -> str:
        """The list URL with these filters on another page."""
        params = {
            "status": self.status,
            "q": self.text,
            "dari": self.date_from,
            "sampai": self.date_to,
            "pemilik": self.owner,
        }
        query = {key: value for key, value in params.items() if value}
        if page > 1:
            query["halaman"] = str(page)
        return "/tickets" + (f"?{urlencode(query)}" if query else "")


def _parse_date(text: str, label: str, errors: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(MSG_BAD_DATE.format(label=label))
        return None


def parse_list_query(args: Any, tz: Any) -> ListQuery:
    """Read and check the list's query parameters (errors in Indonesian)."""
    query = ListQuery(
        status=(args.get("status") or "").strip(),
        text=(args.get("q") or "").strip(),
        date_from=(args.get("dari") or "").strip(),
        date_to=(args.get("sampai") or "").strip(),
        owner=(args.get("pemilik") or "").strip(),
    )
    raw_page = (args.get("halaman") or "1").strip()
    query.page = parse_id(raw_page) or 1
    errors = query.errors
    status = query.status or None
    if status is not None and status not in TICKET_STATUSES:
        errors.append(MSG_BAD_STATUS)
        status = None
    owner = OWNER_FILTERS.get(query.owner) if query.owner else None
    if query.owner and owner is None:
        errors.append(MSG_BAD_OWNER_FILTER)
    text = query.text
    if len(text) > MAX_SEARCH_LENGTH:
        errors.append(MSG_SEARCH_TOO_LONG)
        text = text[:MAX_SEARCH_LENGTH]
    first = _parse_date(query.date_from, "awal", errors)
    last = _parse_date(query.date_to, "akhir", errors)
    if first and last and first > last:
        errors.append(MSG_DATE_ORDER)
        first = last = None
    since = datetime.combine(first, time.min, tzinfo=tz) if first else None
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz) if last else None
    # A ticket id typed the way citizens write it ("20260414 dbkswu") is found too.
    canonical = normalize_ticket_id(text) if text else None
    query.filter = TicketFilter(
        status=status, text=canonical or text or None, since=since, until=until, owner=owner
    )
    return query


def _user(request: Request) -> DeskUserRecord:
    user = current_user(request)
    assert user is not None  # login_required ran
    return user


def _owner_names(request: Request) -> tuple[dict[int, str], dict[int, str]]:
    """Division names and desk users' display names by id."""
    services = services_of(request)
    divisions = {d.id: d.name for d in services.divisions.list()}
    users = {u.id: u.display_name for u in services.desk_users.list()}
    return divisions, users


@bp.get("/tickets")
@login_required(*STAFF_ROLES)
async def ticket_list(request: Request) -> HTTPResponse:
    """The tickets the user may see, newest first, filtered by status, text, creation date and
    owner."""
    user = _user(request)
    services = services_of(request)
    query = parse_list_query(request.args, services.settings.tz)
    queries = services.desk_queries
    page = queries.search_tickets(query.filter, viewer=user, page=query.page)
    if page.total and query.page > page.pages:  # past the end (filters changed): last page
        query.page = page.pages
        page = queries.search_tickets(query.filter, viewer=user, page=query.page)
    division_names, user_names = _owner_names(request)
    return render(
        request,
        "tickets_list.html",
        status=400 if query.errors else 200,
        query=query,
        page=page,
        statuses=TICKET_STATUSES,
        status_labels=TICKET_STATUS_LABELS,
        channel_label=channel_label,
        division_names=division_names,
        user_names=user_names,
        sees_all=user.is_supervisor,
    )


def _detail(
    request: Request,
    ticket: TicketRecord,
    *,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    revealed: bool = False,
) -> HTTPResponse:
    user = _user(request)
    shown = ticket
    if not revealed:  # identifiers masked unless asked for in full (and recorded)
        shown = replace(
            ticket,
            subject=mask_identifiers(ticket.subject),
            chronology=mask_identifiers(ticket.chronology),
            email=mask_email(ticket.email) if ticket.email else None,
            attachment=mask_identifiers(ticket.attachment) if ticket.attachment else None,
        )
    division_names, user_names = _owner_names(request)
    services = services_of(request)
    divisions = services.divisions.list() if user.is_supervisor else []
    assignees = (
        [u for u in services.desk_users.list() if u.active or u.id == ticket.assignee_id]
        if user.is_supervisor
        else []
    )
    return render(
        request,
        "tickets_detail.html",
        status=status,
        ticket=shown,
        revealed=revealed,
        errors=errors or [],
        form=form or {"status": ticket.status, "public_reply": ticket.public_reply or ""},
        statuses=TICKET_STATUSES,
        status_labels=TICKET_STATUS_LABELS,
        channel_label=channel_label(ticket.channel) if ticket.channel else "-",
        masked_sender=mask_sender_id(ticket.sender_id) if ticket.sender_id else None,
        max_reply_length=MAX_PUBLIC_REPLY_LENGTH,
        division_name=division_names.get(ticket.division_id) if ticket.division_id else None,
        assignee_name=user_names.get(ticket.assignee_id) if ticket.assignee_id else None,
        can_assign=user.is_supervisor,
        attachment_servable=servable(ticket.attachment),
        divisions=divisions,
        assignees=assignees,
    )


def _load(request: Request, ticket_id: str) -> tuple[TicketRecord | None, HTTPResponse | None]:
    """The ticket if the user may see it, else the 404/403 page to answer with."""
    ticket = services_of(request).tickets.get_record(ticket_id)
    if ticket is None:
        return None, error_page(request, 404, MSG_NOT_FOUND)
    user = _user(request)
    if not may_view_ticket(user, ticket):
        logger.warning(
            "desk user %s refused ticket %s (division %s, assignee %s)",
            user.username,
            ticket.id,
            ticket.division_id,
            ticket.assignee_id,
        )
        return None, error_page(request, 403, MSG_FORBIDDEN)
    return ticket, None


@bp.get("/api/tickets/<ticket_id:str>")
@login_required(*STAFF_ROLES, scope="tickets:read")
async def ticket_api(request: Request, ticket_id: str) -> HTTPResponse:
    """A ticket's status as JSON, for integrators (API token with `tickets:read`) and the
    desk's own users: no personal data, only where the ticket stands and the public reply."""
    normalized = normalize_ticket_id(ticket_id)
    ticket = services_of(request).tickets.get_record(normalized) if normalized else None
    user = current_user(request)
    if ticket is None or (user is not None and not may_view_ticket(user, ticket)):
        return response.json({"error": "not found"}, status=404)
    return response.json(
        {
            "id": ticket.id,
            "status": ticket.status,
            "status_label": TICKET_STATUS_LABELS.get(ticket.status, ticket.status),
            "created_at": ticket.created_at.isoformat(),
            "updated_at": ticket.updated_at.isoformat(),
            "public_reply": ticket.public_reply,
        }
    )


@bp.get("/tickets/<ticket_id:str>")
@login_required(*STAFF_ROLES)
async def ticket_detail(request: Request, ticket_id: str) -> HTTPResponse:
    """One ticket with the form to change its status and public reply."""
    ticket, refusal = _load(request, ticket_id)
    if ticket is None:
        assert refusal is not None
        return refusal
    revealed = request.args.get(REVEAL_PARAM) == "1"
    if revealed:
        user = _user(request)
        await asyncio.to_thread(
            services_of(request).audit.record,
            desk_actor(user.username),
            TICKET_UNMASKED_VIEW,
            target=f"ticket:{ticket.id}",
            result="ok",
        )
    return _detail(request, ticket, revealed=revealed)


@bp.get("/tickets/<ticket_id:str>/lampiran")
@login_required(*STAFF_ROLES)
async def ticket_attachment(request: Request, ticket_id: str) -> HTTPResponse:
    """The ticket's attachment: a stored file, or the channel's media fetched and stored."""
    ticket, refusal = _load(request, ticket_id)
    if ticket is None:
        assert refusal is not None
        return refusal
    if not servable(ticket.attachment):
        return error_page(request, 404, MSG_NO_ATTACHMENT)
    assert ticket.attachment is not None
    return await serve_attachment(
        request,
        ticket.attachment,
        channel=ticket.channel,
        sender_id=ticket.sender_id,
        target=f"ticket:{ticket.id}",
    )


@bp.post("/tickets/<ticket_id:str>")
@login_required(*STAFF_ROLES)
async def ticket_update(request: Request, ticket_id: str) -> HTTPResponse:
    """Change the status and/or the public reply (what the citizen's status check shows)."""
    ticket, refusal = _load(request, ticket_id)
    if ticket is None:
        assert refusal is not None
        return refusal
    status = (request.form.get("status") or "").strip() or ticket.status
    reply = (request.form.get("public_reply") or "").replace("\r\n", "\n").strip()
    errors = []
    if status not in TICKET_STATUSES:
        errors.append(MSG_BAD_STATUS)
    if len(reply) > MAX_PUBLIC_REPLY_LENGTH:
        errors.append(MSG_REPLY_TOO_LONG)
    if errors:
        form = {"status": status, "public_reply": reply}
        return _detail(request, ticket, errors=errors, form=form, status=400)
    if status == ticket.status and reply == (ticket.public_reply or ""):
        return flash_redirect(
            request, f"/tickets/{ticket.id}", MSG_UNCHANGED.format(id=ticket.id), kind="info"
        )
    updated = services_of(request).tickets.update_status(ticket.id, status, reply)
    if updated is None:
        return error_page(request, 404, MSG_NOT_FOUND)
    logger.info(
        "desk user %s set ticket %s to %s (public reply %s)",
        _user(request).username,
        ticket.id,
        status,
        "set" if reply else "empty",
    )
    if status != ticket.status:  # the worker tells the citizen on the ticket's channel
        wake_relay(request)
    return flash_redirect(request, f"/tickets/{ticket.id}", MSG_SAVED.format(id=ticket.id))


def _optional_id(raw: str | None) -> tuple[int | None, bool]:
    """A form's id field: (None, True) when empty, (id, True) when a small positive integer,
    (None, False) for anything else."""
    text = (raw or "").strip()
    if not text:
        return None, True
    if text.isdigit() and len(text) <= 9:
        return int(text), True
    return None, False


@bp.post("/tickets/<ticket_id:str>/owner")
@login_required(*SUPERVISOR_ROLES)
async def ticket_owner(request: Request, ticket_id: str) -> HTTPResponse:
    """Give the ticket to a division and/or an agent (empty fields: to nobody)."""
    ticket, refusal = _load(request, ticket_id)
    if ticket is None:
        assert refusal is not None
        return refusal
    url = f"/tickets/{ticket.id}"
    division_id, division_ok = _optional_id(request.form.get("division_id"))
    assignee_id, assignee_ok = _optional_id(request.form.get("assignee_id"))
    if (
        division_ok
        and assignee_ok
        and (division_id, assignee_id) == (ticket.division_id, ticket.assignee_id)
    ):
        return flash_redirect(request, url, MSG_UNCHANGED.format(id=ticket.id), kind="info")
    services = services_of(request)
    if not division_ok or (division_id is not None and services.divisions.get(division_id) is None):
        return flash_redirect(request, url, MSG_DIVISION_UNKNOWN, kind="error")
    assignee = services.desk_users.get(assignee_id) if assignee_id is not None else None
    if not assignee_ok or (assignee_id is not None and (assignee is None or not assignee.active)):
        return flash_redirect(request, url, MSG_ASSIGNEE_UNKNOWN, kind="error")
    updated = services.tickets.set_owner(
        ticket.id, division_id=division_id, assignee_id=assignee_id
    )
    if updated is None:
        return error_page(request, 404, MSG_NOT_FOUND)
    logger.info(
        "desk user %s gave ticket %s to division %s, assignee %s",
        _user(request).username,
        ticket.id,
        division_id,
        assignee_id,
    )
    return flash_redirect(request, url, MSG_OWNER_SAVED.format(id=ticket.id))

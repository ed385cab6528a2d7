"""Citizens' data requests (UU PDP) in the desk: supervisors and admins see them, approve or
refuse them with a reason, and hand a citizen the copy of their data.

- `GET /privacy/requests`: the requests, open ones first in the list's order, overdue marked;
- `GET /privacy/requests/<id>`: one request, what the helpdesk holds on the citizen now, the
  decision form while it is pending;
- `GET /privacy/requests/<id>/copy.json`: the copy of the citizen's data (audited as a download);
- `POST /privacy/requests/<id>/decide`: approve or refuse (a refusal needs its reason: an
  exemption for state administration, a request that could not be verified...).

An approved erasure is carried out by the sweeper once the citizen's conversation is quiet;
an approved copy is answered (and e-mailed when the address was verified) the same way.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from helpdesk.desk.auth import (
    SUPERVISOR_ROLES,
    current_user,
    error_page,
    flash_redirect,
    login_required,
    render,
)
from helpdesk.desk.transcript_view import channel_label, mask_sender_id
from helpdesk.desk.views import services_of
from helpdesk.privacy.requests import STORE_LABELS
from helpdesk.storage.data_requests import REQUEST_STATUSES

bp = Blueprint("desk_privacy", url_prefix="/privacy")

#: Names of the kinds and states on the pages.
KIND_LABELS = {"access": "Salinan data (Pasal 7)", "erasure": "Penghapusan data (Pasal 8)"}
STATUS_LABELS = {
    "pending": "Menunggu persetujuan",
    "approved": "Disetujui, sedang diproses",
    "completed": "Selesai",
    "rejected": "Ditolak",
}
MSG_NOT_FOUND = "Permintaan data tidak ditemukan."
#: The longest reason of a refusal.
MAX_NOTE = 1000


def _labels() -> dict:
    return {
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "store_labels": STORE_LABELS,
        "channel_label": channel_label,
        "mask_sender": mask_sender_id,
        "now": datetime.now(timezone.utc),
    }


@bp.get("/requests")
@login_required(*SUPERVISOR_ROLES)
async def request_list(request: Request) -> HTTPResponse:
    """Every request (of one status when `status` is given), newest first."""
    status = request.args.get("status") or ""
    status = status if status in REQUEST_STATUSES else ""
    requests = services_of(request).data_requests.repository
    found = await asyncio.to_thread(requests.recent, status=status or None)
    return render(
        request,
        "privacy_requests.html",
        requests=found,
        selected=status,
        statuses=REQUEST_STATUSES,
        **_labels(),
    )


def _held(request: Request, record) -> dict | None:
    """What the helpdesk holds on the requester now (None once erased)."""
    if not record.sender_id:
        return None
    data_requests = services_of(request).data_requests
    return data_requests.copy(record.sender_id, record.email)


@bp.get("/requests/<request_id:int>")
@login_required(*SUPERVISOR_ROLES)
async def request_detail(request: Request, request_id: int) -> HTTPResponse:
    """One request, what is held on the citizen, the decision form while pending."""
    data_requests = services_of(request).data_requests
    record = await asyncio.to_thread(data_requests.repository.get, request_id)
    if record is None:
        return error_page(request, 404, MSG_NOT_FOUND)
    return await _detail_page(request, record)


async def _detail_page(
    request: Request, record: Any, *, note: str = "", error: str | None = None
) -> HTTPResponse:
    """The request's page: what is held on the citizen now, the decision form's state."""
    data_requests = services_of(request).data_requests
    held = await asyncio.to_thread(_held, request, record)
    return render(
        request,
        "privacy_request.html",
        status=400 if error else 200,
        record=record,
        counts=data_requests.counts(held) if held is not None else None,
        exempt=sorted(data_requests.policy.erasure_exempt),
        note=note,
        error=error,
        **_labels(),
    )


@bp.get("/requests/<request_id:int>/copy.json")
@login_required(*SUPERVISOR_ROLES)
async def request_copy(request: Request, request_id: int) -> HTTPResponse:
    """The copy of the citizen's data, to hand over (a download: in the audit trail)."""
    data_requests = services_of(request).data_requests
    record = await asyncio.to_thread(data_requests.repository.get, request_id)
    if record is None:
        return error_page(request, 404, MSG_NOT_FOUND)
    held = await asyncio.to_thread(_held, request, record)
    if held is None:
        return error_page(request, 404, "Data warga ini sudah dihapus.")
    body = json.dumps(held, ensure_ascii=False, indent=2).encode("utf-8")
    return raw(
        body,
        content_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="data-pribadi-{record.reference}.json"'
        },
    )


@bp.post("/requests/<request_id:int>/decide")
@login_required(*SUPERVISOR_ROLES)
async def request_decide(request: Request, request_id: int) -> HTTPResponse:
    """Approve or refuse a pending request."""
    data_requests = services_of(request).data_requests
    record = await asyncio.to_thread(data_requests.repository.get, request_id)
    if record is None:
        return error_page(request, 404, MSG_NOT_FOUND)
    decision = request.form.get("decision") or ""
    note = (request.form.get("note") or "").strip()[:MAX_NOTE]
    user = current_user(request)
    error = None
    if decision not in ("approve", "reject"):
        error = "Pilih setujui atau tolak."
    elif decision == "reject" and not note:
        error = "Penolakan wajib disertai alasannya (misalnya pengecualian yang berlaku)."
    if error is not None:
        return await _detail_page(request, record, note=note, error=error)
    decided = await asyncio.to_thread(
        data_requests.decide,
        request_id,
        approve=decision == "approve",
        by=user.username if user else "-",
        note=note or None,
    )
    where = f"/privacy/requests/{request_id}"
    if decided is None:
        return flash_redirect(request, where, "Permintaan ini sudah diputuskan.", kind="error")
    message = (
        "Permintaan disetujui. Sistem akan melaksanakannya segera setelah percakapan warga selesai."
        if decided.status == "approved"
        else "Permintaan ditolak; alasannya tercatat."
    )
    return flash_redirect(request, where, message)

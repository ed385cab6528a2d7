"""The queue: what agents work in all day, and taking or assigning its conversations.

- `GET /`: the queue (waiting conversations, oldest first), the user's own conversations and,
  for supervisors and admins, every conversation an agent holds; `GET /api/queue` is the same
  as JSON for the page's live refresh.
- `POST /agents/me/status`: online (automatic assignment gives conversations) or offline.
- `POST /conversations/<id>/take` (anyone, within their own limit) and `/assign` (supervisors).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    HOME_BY_ROLE,
    STAFF_ROLES,
    SUPERVISOR_ROLES,
    current_user,
    error_page,
    flash_redirect,
    login_required,
    render,
    safe_next,
)
from helpdesk.desk.transcript_view import (
    HANDOFF_STATUS_LABELS,
    channel_label,
    duration_label,
    wait_label,
)
from helpdesk.desk.views import parse_id, services_of
from helpdesk.desk.views.conversations import (
    MSG_NOT_FOUND,
    _conversation_url,
    _user,
    _wants_json,
    wake_relay,
    with_conversation,
)
from helpdesk.handoff.service import HandoffError, HandoffRecord, HandoffStatus

logger = logging.getLogger(__name__)

bp = Blueprint("desk_queue")

#: How many assigned conversations the supervisors' overview lists at most.
MAX_LISTED = 500

MSG_TAKEN = "Percakapan berhasil diambil. Silakan sapa warga."
MSG_PICK_AGENT = "Pilih petugas yang akan menangani percakapan ini."
MSG_AGENT_UNKNOWN = "Petugas yang dipilih tidak ditemukan atau tidak aktif."
MSG_ONLINE = "Status Anda sekarang: Online. Percakapan dari antrean dapat diberikan kepada Anda."
MSG_OFFLINE = "Status Anda sekarang: Offline. Anda tidak akan diberi percakapan baru otomatis."

_TRUE = {"1", "true", "on", "ya", "online"}
_FALSE = {"0", "false", "off", "tidak", "offline"}


# -- the queue --------------------------------------------------------------------------------
def _entry(handoff: HandoffRecord, names: dict[int, str], now: datetime, position: int = 0) -> dict:
    agent = names.get(handoff.agent_id) if handoff.agent_id else None
    since = handoff.assigned_at or handoff.created_at
    return {
        "id": handoff.id,
        "url": _conversation_url(handoff.id),
        "name": handoff.name or "Tanpa nama",
        "channel": handoff.channel,
        "channel_label": channel_label(handoff.channel),
        "question": handoff.question or "",
        "status": handoff.status,
        "status_label": HANDOFF_STATUS_LABELS.get(handoff.status, handoff.status),
        "position": position,
        "waiting_minutes": max(0, int((now - handoff.created_at).total_seconds() // 60)),
        "wait_label": wait_label(handoff.created_at, now),
        "held_label": f"ditangani {duration_label(now - since)}",
        "agent_id": handoff.agent_id,
        "agent_name": agent,
    }


def queue_state(request: Request, now: datetime | None = None) -> dict[str, Any]:
    """The queue page's data (also the `/api/queue` JSON)."""
    user = _user(request)
    now = now or datetime.now(timezone.utc)
    services = services_of(request)
    users = services.desk_users.list()
    names = {u.id: u.display_name for u in users}
    waiting = services.handoffs.waiting()
    assigned = sorted(
        services.handoffs.search(statuses=[HandoffStatus.ASSIGNED], limit=MAX_LISTED),
        key=lambda h: (h.assigned_at or h.created_at, h.id),
    )
    mine = [h for h in assigned if h.agent_id == user.id]
    load: dict[int, int] = {}
    for handoff in assigned:
        if handoff.agent_id is not None:
            load[handoff.agent_id] = load.get(handoff.agent_id, 0) + 1
    state: dict[str, Any] = {
        "user": {
            "id": user.id,
            "name": user.display_name,
            "online": user.online,
            "open_count": len(mine),
            "max_conversations": user.max_conversations,
            "is_supervisor": user.is_supervisor,
        },
        "waiting": [_entry(h, names, now, position) for position, h in enumerate(waiting, start=1)],
        "mine": [_entry(h, names, now) for h in mine],
        "assigned": [],
        "agents": [],
    }
    if user.is_supervisor:
        state["assigned"] = [_entry(h, names, now) for h in assigned]
        state["agents"] = [
            {
                "id": u.id,
                "name": u.display_name,
                "online": u.online,
                "open_count": load.get(u.id, 0),
                "max_conversations": u.max_conversations,
                "label": (
                    f"{u.display_name} ({'online' if u.online else 'offline'}, "
                    f"{load.get(u.id, 0)}/{u.max_conversations})"
                ),
            }
            for u in users
            if u.active
        ]
    return state


@bp.get("/")
@login_required()
async def queue_page(request: Request) -> HTTPResponse:
    """The queue, my conversations and (supervisors) everyone's; a role without
    conversations (knowledge manager) goes to its own home."""
    user = current_user(request)
    home = HOME_BY_ROLE.get(user.role) if user is not None else None
    if home is not None:
        return response.redirect(home)
    return render(request, "conversations_queue.html", state=queue_state(request))


@bp.get("/api/queue")
@login_required(*STAFF_ROLES)
async def queue_api(request: Request) -> HTTPResponse:
    """The queue page's data as JSON (polled by desk.js)."""
    return response.json(queue_state(request))


@bp.post("/agents/me/status")
@login_required(*STAFF_ROLES)
async def set_status(request: Request) -> HTTPResponse:
    """Go online or offline (field `online`: 1/0; without it the status flips)."""
    user = _user(request)
    wanted = (request.form.get("online") or "").strip().lower()
    if wanted in _TRUE:
        online = True
    elif wanted in _FALSE:
        online = False
    else:
        online = not user.online
    updated = services_of(request).desk_users.set_online(user.id, online)
    online = bool(updated and updated.online)
    if online:
        wake_relay(request)  # the worker may give this agent a waiting conversation now
    if _wants_json(request):
        return response.json({"online": online})
    target = safe_next(request.form.get("next"))
    return flash_redirect(request, target, MSG_ONLINE if online else MSG_OFFLINE, kind="info")


@bp.post("/conversations/<handoff_id:int>/take")
@login_required(*STAFF_ROLES)
@with_conversation
async def take(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """Take a waiting conversation (refused at the user's own limit)."""
    user = _user(request)
    try:
        services_of(request).handoff.take(handoff.id, user.id, user.max_conversations)
    except HandoffError as exc:
        return flash_redirect(request, "/", str(exc), kind="error")
    logger.info("desk user %s took conversation %s", user.username, handoff.id)
    return flash_redirect(request, _conversation_url(handoff.id), MSG_TAKEN)


@bp.post("/conversations/<handoff_id:int>/assign")
@login_required(*SUPERVISOR_ROLES)
async def assign(request: Request, handoff_id: int) -> HTTPResponse:
    """A supervisor gives (or gives again) an open conversation to an agent."""
    target = safe_next(request.form.get("next"))
    services = services_of(request)
    handoff = services.handoffs.get(handoff_id)
    if handoff is None:
        return error_page(request, 404, MSG_NOT_FOUND)
    agent_id = parse_id(request.form.get("agent_id") or "")
    if agent_id is None:
        return flash_redirect(request, target, MSG_PICK_AGENT, kind="error")
    agent = services.desk_users.get(agent_id)
    if agent is None or not agent.active:
        return flash_redirect(request, target, MSG_AGENT_UNKNOWN, kind="error")
    try:
        services.handoff.assign(handoff_id, agent.id)
    except HandoffError as exc:
        return flash_redirect(request, target, str(exc), kind="error")
    logger.info(
        "desk user %s assigned conversation %s to %s",
        _user(request).username,
        handoff_id,
        agent.username,
    )
    note = ""
    if agent.id != handoff.agent_id and not agent.online:
        note = " Petugas tersebut sedang offline."
    return flash_redirect(
        request, target, f"Percakapan diberikan kepada {agent.display_name}.{note}"
    )

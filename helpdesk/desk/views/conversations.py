"""One conversation on the desk: what an agent reads and does in it.

- `GET /conversations/<id>`: transcript, FAQ tried, contact panel, earlier handoffs, reply box;
  `GET /api/conversations/<id>/events?after=<cursor>` gives what changed since the page loaded.
- `GET /conversations/<id>/lampiran?media=<media id>`: a file the citizen sent in the
  transcript (`helpdesk.desk.views.media`).
- `POST /conversations/<id>/reply` (a text, a file attached: `helpdesk.desk.reply_upload`, or
  both), `/resolve`, `/contact`.

An agent sees a conversation while it waits in the queue and when it is (or was) theirs, never
one another agent holds or ended: every route of a conversation checks `may_view`
(`with_conversation`; the queue's `take` uses it too).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

import sqlalchemy
import sqlalchemy.exc
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    STAFF_ROLES,
    DeskUserRecord,
    current_user,
    error_page,
    flash_redirect,
    login_required,
    render,
)
from helpdesk.desk.masked_view import (
    REVEAL_PARAM,
    UNMASKED_VIEW,
    masked,
    masked_data,
    may_reveal,
)
from helpdesk.desk.reply_upload import ACCEPT, attached_file, file_hint
from helpdesk.desk.transcript_view import (
    HANDOFF_STATUS_LABELS,
    build_transcript,
    channel_label,
    mask_sender_id,
    outbox_items,
    read_tracker_items,
    session_window,
    time_label,
    wait_label,
)
from helpdesk.desk.views import parse_id, services_of
from helpdesk.desk.views.media import serve_attachment
from helpdesk.handoff.reply_window import AGENT_REPLY_WINDOWS, reply_window_notice
from helpdesk.handoff.service import HandoffError, HandoffRecord, HandoffStatus
from helpdesk.rasa_bridge.events import RASA_EVENTS
from helpdesk.security.audit import desk_actor
from helpdesk.security.masking import mask_identifiers
from helpdesk.storage.attachments import MAX_BYTES
from helpdesk.storage.canned_responses import NAME_FALLBACK
from helpdesk.storage.contacts import ContactValidationError

logger = logging.getLogger(__name__)

bp = Blueprint("desk_conversations")

#: Longest agent reply accepted (WhatsApp allows 4096 characters per text message).
MAX_REPLY_LENGTH = 4000
#: What guided flows collected up to this long before a handoff is shown with it.
FLOW_DATA_WINDOW = timedelta(hours=2)

MSG_NOT_FOUND = "Percakapan tidak ditemukan."
MSG_NO_ATTACHMENT = "Lampiran ini tidak ada dalam percakapan."
MSG_FORBIDDEN = "Percakapan ini ditangani petugas lain."
MSG_REPLY_EMPTY = "Balasan tidak boleh kosong."
MSG_REPLY_TOO_LONG = f"Balasan maksimal {MAX_REPLY_LENGTH} karakter."
MSG_REPLY_QUEUED = "Balasan disimpan dan sedang dikirim ke warga."
MSG_RESOLVED = "Percakapan ditandai selesai. Warga akan diminta memberi penilaian."
MSG_NOT_RESOLVABLE = "Percakapan ini tidak sedang ditangani petugas, jadi tidak bisa diselesaikan."
MSG_RESOLVE_NOT_YOURS = "Hanya petugas yang menangani percakapan ini yang dapat menyelesaikannya."
MSG_CONTACT_SAVED = "Catatan dan label kontak disimpan."


# -- helpers ----------------------------------------------------------------------------------
def _user(request: Request) -> DeskUserRecord:
    user = current_user(request)
    assert user is not None  # login_required ran
    return user


def may_view(user: DeskUserRecord, handoff: HandoffRecord) -> bool:
    """Whether the user may open the conversation (and act on it).

    Supervisors and admins see every conversation; an agent sees one waiting in the queue
    and their own (assigned to them, or ended while theirs).
    """
    if user.is_supervisor:
        return True
    return handoff.status == HandoffStatus.WAITING or handoff.agent_id == user.id


def _load(request: Request, handoff_id: int) -> tuple[HandoffRecord | None, HTTPResponse | None]:
    """The handoff if the user may see it, else the 404/403 response to give."""
    handoff = services_of(request).handoffs.get(handoff_id)
    if handoff is None:
        return None, error_page(request, 404, MSG_NOT_FOUND)
    if not may_view(_user(request), handoff):
        logger.warning(
            "desk user %s refused conversation %s (%s, agent %s)",
            _user(request).username,
            handoff.id,
            handoff.status,
            handoff.agent_id,
        )
        return None, error_page(request, 403, MSG_FORBIDDEN)
    return handoff, None


def with_conversation(handler: Callable[..., Awaitable[HTTPResponse]]) -> Any:
    """Give a handler of `/conversations/<handoff_id>...` the handoff instead of its id, after
    the permission check (the 404 or 403 page otherwise, on every route of a conversation)."""

    @functools.wraps(handler)
    async def wrapper(request: Request, handoff_id: int, **kwargs: Any) -> HTTPResponse:
        handoff, refusal = _load(request, handoff_id)
        if handoff is None:
            assert refusal is not None
            return refusal
        return await handler(request, handoff, **kwargs)

    return wrapper


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _tz(request: Request) -> Any:
    return services_of(request).settings.tz


def _tracker_engine(request: Request) -> Any:
    """The engine of Rasa's tracker store when its `events` table can be read, else None (the
    pages then show the outbox and markers only, with a notice)."""
    ctx = request.app.ctx
    engine = getattr(ctx, "tracker_engine", None)
    if engine is None:
        engine = getattr(getattr(ctx, "worker", None), "tracker_engine", None)
    if engine is None:
        return None
    try:
        if not sqlalchemy.inspect(engine).has_table(RASA_EVENTS.name):
            return None
    except sqlalchemy.exc.SQLAlchemyError:
        logger.warning("Rasa's tracker store cannot be read", exc_info=True)
        return None
    return engine


def _agent_names(request: Request) -> dict[int, str]:
    return {user.id: user.display_name for user in services_of(request).desk_users.list()}


def wake_relay(request: Request) -> None:
    """Ask the relay to deliver now (a reply was stored or a conversation ended).

    The reply is already safe in the outbox: a relay that cannot be woken only delays it
    until the worker's next pass, so a failure here is logged, not shown.
    """
    relay = getattr(request.app.ctx, "relay", None)
    if relay is None:
        return
    for name in ("deliver_soon", "wake"):
        method = getattr(relay, name, None)
        if callable(method):
            try:
                method()
            except Exception:
                logger.exception("could not wake the desk relay")
            return


def _conversation_url(handoff_id: int) -> str:
    return f"/conversations/{handoff_id}"


# -- one conversation -------------------------------------------------------------------------
@bp.get("/conversations/<handoff_id:int>")
@login_required(*STAFF_ROLES)
@with_conversation
async def conversation_page(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """The transcript, what the bot tried, the contact and the reply box."""
    return await _page(request, handoff)


async def _page(
    request: Request, handoff: HandoffRecord, *, draft: str = "", reply_error: str = ""
) -> HTTPResponse:
    """The conversation page; a refused reply's text is back in the reply box, with why."""
    user = _user(request)
    services = services_of(request)
    tz = _tz(request)
    now = datetime.now(timezone.utc)
    names = _agent_names(request)
    engine = _tracker_engine(request)
    messages = services.handoff_messages.for_handoff(handoff.id)
    transcript = build_transcript(engine, handoff, messages, names)
    queries = services.desk_queries
    questions = queries.questions_of(
        handoff.sender_id, since=transcript.window.start, until=transcript.window.end
    )
    can_reveal = may_reveal(user, handoff)
    revealed = can_reveal and request.args.get(REVEAL_PARAM) == "1"
    items = transcript.items
    if revealed:
        await _record_unmasked_view(request, handoff)
    else:
        items = masked(items, "text")
        questions = masked(questions, "question")
    earlier = [
        {
            "handoff": h,
            "status_label": HANDOFF_STATUS_LABELS.get(h.status, h.status),
            "agent_name": names.get(h.agent_id) if h.agent_id else None,
            "viewable": may_view(user, h),
        }
        for h in queries.handoffs_of(handoff.sender_id, exclude_id=handoff.id)
    ]
    flows = services.flow_submissions.recent(
        handoff.sender_id,
        since=handoff.created_at - FLOW_DATA_WINDOW,
        until=handoff.created_at + timedelta(minutes=5),
    )
    if not revealed:
        flows = masked_data(flows)
    contact = services.contacts.get_or_create(handoff.sender_id, handoff.channel, handoff.name)
    citizen_name = handoff.name or contact.name
    canned = [
        {"title": c.title, "text": c.fill(citizen_name)} for c in services.canned_responses.list()
    ]
    agents = [u for u in services.desk_users.list() if u.active] if user.is_supervisor else []
    is_mine = handoff.status == HandoffStatus.ASSIGNED and handoff.agent_id == user.id
    window_notice = ""
    if is_mine and handoff.channel in AGENT_REPLY_WINDOWS:
        last = services.inbound_messages.last_received(str(handoff.channel), handoff.sender_id)
        window_notice = reply_window_notice(handoff.channel, last, now)
    return render(
        request,
        "conversations_detail.html",
        handoff=handoff,
        status_label=HANDOFF_STATUS_LABELS.get(handoff.status, handoff.status),
        agent_name=names.get(handoff.agent_id) if handoff.agent_id else None,
        citizen_name=citizen_name or NAME_FALLBACK,
        channel_label=channel_label(handoff.channel),
        masked_sender=mask_sender_id(handoff.sender_id),
        items=[(item, time_label(item.at, tz, now)) for item in items],
        citizen_question=(
            handoff.question if revealed else mask_identifiers(handoff.question or "")
        ),
        revealed=revealed,
        can_reveal=can_reveal,
        cursor=transcript.cursor,
        tracker_available=engine is not None,
        questions=questions,
        flows=[f for f in flows if f.data],
        contact=contact,
        earlier=earlier,
        canned=canned,
        agents=agents,
        can_reply=is_mine,
        can_take=handoff.status == HandoffStatus.WAITING,
        can_resolve=handoff.status == HandoffStatus.ASSIGNED and (is_mine or user.is_supervisor),
        can_assign=user.is_supervisor and handoff.is_open,
        max_reply_length=MAX_REPLY_LENGTH,
        max_file_bytes=MAX_BYTES,
        file_accept=ACCEPT,
        file_hint=file_hint(handoff.channel),
        draft=draft,
        reply_error=reply_error,
        window_notice=window_notice,
        wait=wait_label(handoff.created_at, now),
        status=400 if reply_error else 200,
    )


@bp.get("/api/conversations/<handoff_id:int>/events")
@login_required(*STAFF_ROLES)
@with_conversation
async def conversation_events(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """What changed since `after` (a tracker event id): new messages, replies' delivery status
    (every reply of the handoff, to update in place) and the handoff's status."""
    raw = (request.args.get("after") or "0").strip()
    if not (raw == "0" or parse_id(raw)):
        return response.json(
            {"error": "Permintaan tidak valid", "message": "Parameter after harus angka."},
            status=400,
        )
    after = int(raw)
    services = services_of(request)
    tz = _tz(request)
    now = datetime.now(timezone.utc)
    names = _agent_names(request)
    messages = services.handoff_messages.for_handoff(handoff.id)
    engine = _tracker_engine(request)
    items: list[dict] = []
    cursor = after
    user = _user(request)
    revealed = may_reveal(user, handoff) and request.args.get(REVEAL_PARAM) == "1"
    if engine is not None:
        window = session_window(engine, handoff)
        batch = read_tracker_items(
            engine, handoff, window, after_id=after, outbox_ids=[m.id for m in messages]
        )
        shown = batch.items if revealed else masked(batch.items, "text")
        items = [item.as_json(tz, now) for item in shown]
        cursor = max(after, batch.cursor)
    outbox = outbox_items(messages, names)
    if revealed and (items or outbox):
        await _record_unmasked_view(request, handoff)
    elif not revealed:
        outbox = masked(outbox, "text")
    return response.json(
        {
            "cursor": cursor,
            "items": items,
            "messages": [item.as_json(tz, now) for item in outbox],
            "handoff": {
                "id": handoff.id,
                "status": handoff.status,
                "status_label": HANDOFF_STATUS_LABELS.get(handoff.status, handoff.status),
                "agent_id": handoff.agent_id,
                "agent_name": names.get(handoff.agent_id) if handoff.agent_id else None,
                "can_reply": handoff.status == HandoffStatus.ASSIGNED
                and handoff.agent_id == user.id,
            },
        }
    )


@bp.get("/conversations/<handoff_id:int>/lampiran")
@login_required(*STAFF_ROLES)
@with_conversation
async def conversation_attachment(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """A file the citizen (or an agent) sent in this conversation's transcript (only a media
    id or file reference that is in it: the route opens nobody else's files)."""
    media_id = (request.args.get("media") or "").strip()
    transcript = await asyncio.to_thread(
        build_transcript,
        _tracker_engine(request),
        handoff,
        services_of(request).handoff_messages.for_handoff(handoff.id),
        {},
    )
    sent = {
        item.attachment.media_id
        for item in transcript.items
        if item.attachment is not None and item.kind in ("citizen", "agent")
    }
    if not media_id or media_id not in sent:
        return error_page(request, 404, MSG_NO_ATTACHMENT)
    return await serve_attachment(
        request,
        media_id,
        channel=handoff.channel,
        sender_id=handoff.sender_id,
        target=f"handoff:{handoff.id}",
    )


async def _record_unmasked_view(request: Request, handoff: HandoffRecord) -> None:
    """The audit record of a view that delivered a conversation's identifiers in full."""
    user = _user(request)
    await asyncio.to_thread(
        services_of(request).audit.record,
        desk_actor(user.username),
        UNMASKED_VIEW,
        target=f"handoff:{handoff.id}",
        result="ok",
        detail={"path": request.path},
    )


@bp.post("/conversations/<handoff_id:int>/reply")
@login_required(*STAFF_ROLES)
@with_conversation
async def reply(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """Store the agent's reply (a text, a file or both) in the outbox and wake the relay to
    deliver it. A refused reply changes nothing: the script shows why and keeps the text, the
    page without it comes back with the text in the box."""
    user = _user(request)
    services = services_of(request)
    text = (request.form.get("text") or "").replace("\r\n", "\n").strip()
    stored, problem = None, MSG_REPLY_TOO_LONG if len(text) > MAX_REPLY_LENGTH else None
    if problem is None:
        stored, problem = await attached_file(request, handoff, user.id, services.attachment_files)
    if problem is None and not text and stored is None:
        problem = MSG_REPLY_EMPTY
    if problem is not None and _wants_json(request):
        return response.json({"ok": False, "message": problem}, status=400)
    if problem is not None:
        return await _page(request, handoff, draft=text, reply_error=problem)
    try:
        message = services.handoff.reply(handoff.id, user.id, text, attachment=stored)
    except HandoffError as exc:  # not (or no longer) this agent's: no reply box to go back to
        if _wants_json(request):
            return response.json({"ok": False, "message": str(exc)}, status=400)
        return flash_redirect(request, _conversation_url(handoff.id), str(exc), kind="error")
    wake_relay(request)
    if _wants_json(request):
        return response.json({"ok": True, "message_id": message.id, "status": message.status})
    return flash_redirect(request, _conversation_url(handoff.id), MSG_REPLY_QUEUED)


@bp.post("/conversations/<handoff_id:int>/resolve")
@login_required(*STAFF_ROLES)
@with_conversation
async def resolve(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """End the conversation as resolved; the bot then thanks the citizen and asks a rating."""
    user = _user(request)
    url = _conversation_url(handoff.id)
    if handoff.status != HandoffStatus.ASSIGNED:
        return flash_redirect(request, url, MSG_NOT_RESOLVABLE, kind="error")
    if handoff.agent_id != user.id and not user.is_supervisor:
        return flash_redirect(request, url, MSG_RESOLVE_NOT_YOURS, kind="error")
    if not services_of(request).handoff.resolve(handoff.id):
        return flash_redirect(request, url, MSG_NOT_RESOLVABLE, kind="error")
    logger.info("desk user %s resolved conversation %s", user.username, handoff.id)
    wake_relay(request)
    return flash_redirect(request, url, MSG_RESOLVED)


@bp.post("/conversations/<handoff_id:int>/contact")
@login_required(*STAFF_ROLES)
@with_conversation
async def update_contact(request: Request, handoff: HandoffRecord) -> HTTPResponse:
    """Save the contact's notes and tags (kept across the citizen's handoffs)."""
    contacts = services_of(request).contacts
    contacts.get_or_create(handoff.sender_id, handoff.channel, handoff.name)
    url = _conversation_url(handoff.id) + "#kontak"
    try:
        contacts.update(
            handoff.sender_id,
            request.form.get("notes") or "",
            request.form.get("tags") or "",
        )
    except ContactValidationError as exc:
        return flash_redirect(request, url, str(exc), kind="error")
    return flash_redirect(request, url, MSG_CONTACT_SAVED)

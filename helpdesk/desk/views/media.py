"""Serving a citizen's file on the desk ("Lihat lampiran"): shared by the ticket route
(`GET /tickets/<id>/lampiran`) and the handoff transcript route
(`GET /conversations/<id>/lampiran?media=<media id>`), which check first that the user may
see the ticket or conversation.

The file comes from the store or, for a channel's media id, from the platform on first opening
(`helpdesk.desk.media.open_attachment`). It is served with its type, `X-Content-Type-Options:
nosniff` and, unless it is an image, `Content-Disposition: attachment` (a download, which the
audit trail records); an image opened inline is recorded here. A platform that is down, or a
file refused (too large, a type the helpdesk does not keep), gets a polite error page.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from sanic import Request, response
from sanic.response import HTTPResponse

from helpdesk.desk.auth import current_user, error_page, render
from helpdesk.desk.media import MediaRefused, MediaUnavailable, open_attachment
from helpdesk.desk.views import services_of
from helpdesk.security.audit import desk_actor

logger = logging.getLogger(__name__)

#: The audit action of a citizen's image opened in the browser (downloads are recorded by
#: `helpdesk.desk.audit` as every download is).
MEDIA_INLINE_VIEW = "desk.media.inline_view"
MSG_NO_FILE = "Lampiran tidak ditemukan atau tidak dapat dibuka dari desk."
TITLE_UNAVAILABLE = "Lampiran belum dapat dibuka"
MSG_UNAVAILABLE = (
    "Lampiran tidak dapat diambil dari platform pesan saat ini. Silakan coba lagi beberapa "
    "saat lagi."
)
TITLE_REFUSED = "Lampiran tidak dapat ditampilkan"
MSG_REFUSED = {
    "too large": "Berkas lampiran terlalu besar (maksimal 10 MB), sehingga tidak disimpan.",
    "type not accepted": "Jenis berkas lampiran tidak didukung, sehingga tidak disimpan.",
}


def _disposition(kind: str, filename: str) -> str:
    ascii_name = "".join(c for c in filename if c.isascii() and c.isprintable() and c not in '"\\')
    return f"{kind}; filename=\"{ascii_name or 'lampiran'}\"; filename*=UTF-8''{quote(filename)}"


async def serve_attachment(
    request: Request,
    reference: str,
    *,
    channel: str | None,
    sender_id: str | None,
    target: str,
) -> HTTPResponse:
    """The file of `reference` (a ticket's or a message's attachment), or an error page."""
    services = services_of(request)
    try:
        stored = await asyncio.to_thread(
            open_attachment,
            services.attachment_files,
            reference,
            channel=channel,
            sender_id=sender_id,
            sources=request.app.ctx.media_sources,
        )
    except MediaUnavailable:
        return render(
            request, "error.html", status=502, title=TITLE_UNAVAILABLE, message=MSG_UNAVAILABLE
        )
    except MediaRefused as refused:
        message = MSG_REFUSED.get(refused.reason, MSG_REFUSED["type not accepted"])
        return render(request, "error.html", status=422, title=TITLE_REFUSED, message=message)
    if stored is None:
        return error_page(request, 404, MSG_NO_FILE)
    data = await asyncio.to_thread(stored.path.read_bytes)
    kind = "inline" if stored.is_image else "attachment"
    if stored.is_image:
        user = current_user(request)
        await asyncio.to_thread(
            services.audit.record,
            desk_actor(user.username if user else "-"),
            MEDIA_INLINE_VIEW,
            target=target,
            result="ok",
        )
    return response.raw(
        data,
        content_type=stored.content_type,
        headers={
            "Content-Disposition": _disposition(kind, stored.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )

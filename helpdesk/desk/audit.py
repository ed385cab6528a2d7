"""The desk's acts in the audit trail: every form sent (take, reply, resolve, assign, ticket
changes, user and role changes, publications of FAQs and flows, logins) and every export.

`audit_response_middleware` runs after each response: a POST, or a GET answered with a
download (`Content-Disposition: attachment`: an export), is recorded with the user
("desk:<username>"; a login with the name typed), the route ("desk.<area>.<view>"), what
it acted on (the ids in its URL) and the result class read from the response's status.
Free text (replies, notes, answers) is never recorded; a few named form fields are
(`DETAIL_FIELDS`), masked. The act has happened when the response is sent: a record that
cannot be written is logged as an error and the response still goes out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sanic import Request
from sanic.response import BaseHTTPResponse

from helpdesk.security.audit import desk_actor

logger = logging.getLogger(__name__)

#: Form fields recorded in an act's detail (their values masked); free text never is.
DETAIL_FIELDS = (
    "username",
    "role",
    "active",
    "division_id",
    "agent_id",
    "owner_id",
    "status",
    "category",
    "max_conversations",
    "online",
    "name",
    "scope",
    "decision",
)
#: The URL parameters' names as they appear in a target ("handoff_id" -> "handoff").
_TARGET_SUFFIX = "_id"


def result_class(status: int) -> str:
    """The result of a desk act, from its response's status."""
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status == 404:
        return "not_found"
    if status == 429:
        return "limited"
    if status >= 500:
        return "error"
    return "rejected"


def _route_name(request: Request) -> str:
    """ "desk.<blueprint without its desk_ prefix>.<view>": "desk.admin_users.user_create"."""
    route = request.route
    name = getattr(route, "name", "") or ""
    parts = name.split(".")[1:] or [request.path]
    if parts and parts[0].startswith("desk_"):
        parts[0] = parts[0][len("desk_") :]
    return "desk." + ".".join(parts)


def _target(request: Request) -> str:
    parts = []
    for key, value in (request.match_info or {}).items():
        label = key[: -len(_TARGET_SUFFIX)] if key.endswith(_TARGET_SUFFIX) else key
        parts.append(f"{label}:{value}")
    return " ".join(parts)


def _detail(request: Request) -> dict[str, Any]:
    detail: dict[str, Any] = {"method": request.method, "path": request.path}
    if request.method == "POST":
        try:
            form = request.form or {}
        except Exception:  # a malformed body: the view answered it already
            form = {}
        for field in DETAIL_FIELDS:
            value = form.get(field)
            if value is not None:
                detail[field] = str(value)[:100]
    elif request.query_string:
        detail["query"] = request.query_string[:300]
    return detail


def _actor(request: Request, result: str) -> str:
    """The user; before a login, the name typed (marked "belum masuk" unless it succeeded)."""
    user = getattr(request.ctx, "user", None)
    if user is not None:
        return desk_actor(user.username)
    token = getattr(request.ctx, "api_token", None)
    if token is not None:
        return f"token:{token.name}"
    if request.method == "POST":
        try:
            typed = ((request.form or {}).get("username") or "").strip()
        except Exception:
            typed = ""
        if typed:
            return desk_actor(typed[:100]) + ("" if result == "ok" else " (belum masuk)")
    return "desk:-"


def audited(request: Request, response: BaseHTTPResponse) -> bool:
    """Whether the request is an act the trail records: a form sent, or a download."""
    if request.route is None:
        return False
    if request.method == "POST":
        return True
    disposition = str(response.headers.get("content-disposition", "")) if response.headers else ""
    return request.method == "GET" and disposition.lower().startswith("attachment")


async def audit_response_middleware(request: Request, response: BaseHTTPResponse) -> None:
    """Record the request in the audit trail when it is an act (`audited`)."""
    if not audited(request, response):
        return
    services = request.app.ctx.services
    result = result_class(int(response.status or 200))
    try:
        await asyncio.to_thread(
            services.audit.record,
            _actor(request, result),
            _route_name(request),
            target=_target(request),
            result=result,
            detail=_detail(request),
        )
    except Exception:
        logger.exception("the audit trail could not record %s %s", request.method, request.path)

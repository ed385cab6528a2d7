"""Admin page of the audit trail (role admin).

- `GET /admin/audit`: the newest records, filtered by actor, action (prefix), result and
  dates (helpdesk time zone), 50 a page ("Lebih lama" follows `before`);
- `GET /admin/audit.jsonl`: the records matching the filters as JSON lines, for an auditor
  (itself an audited export);
- `POST /admin/audit/verify`: walk the whole chain and say whether it is intact.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from helpdesk.desk.auth import DeskRole, login_required, render
from helpdesk.desk.views import parse_id, services_of
from helpdesk.security.audit import LOOKUP_RESULTS
from helpdesk.storage.audit import AuditFilter

bp = Blueprint("desk_admin_audit", url_prefix="/admin")

#: Records a page.
PAGE_SIZE = 50
#: Result classes offered in the filter: the lookups' and the desk's.
RESULTS = tuple(dict.fromkeys((*LOOKUP_RESULTS, "ok", "denied", "rejected")))


@dataclass
class AuditQuery:
    """The page's filters as typed, the `AuditFilter` they make and what was wrong."""

    values: dict[str, str]
    where: AuditFilter
    before: int | None
    errors: list[str] = field(default_factory=list)


def _day(text: str, tz: Any, label: str, errors: list[str]) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=tz)
    except ValueError:
        errors.append(f"Tanggal {label} harus berformat TTTT-BB-HH.")
        return None


def parse_query(args: Mapping[str, Any], tz: Any) -> AuditQuery:
    """Read the filters of the page's query string."""

    def arg(name: str) -> str:
        value = args.get(name)
        return (value if isinstance(value, str) else "").strip()[:100]

    values = {n: arg(n) for n in ("actor", "action", "result", "target", "from", "to")}
    errors: list[str] = []
    since = _day(values["from"], tz, "awal", errors)
    last = _day(values["to"], tz, "akhir", errors)
    if values["result"] and values["result"] not in RESULTS:
        errors.append("Hasil tidak dikenal.")
        values["result"] = ""
    where = AuditFilter(
        actor=values["actor"],
        action=values["action"],
        result=values["result"],
        target=values["target"],
        since=since,
        until=last + timedelta(days=1) if last else None,
    )
    return AuditQuery(values, where, parse_id(arg("before")), errors)


def _page(request: Request, *, verification: Any = None) -> HTTPResponse:
    services = services_of(request)
    query = parse_query(request.args, services.settings.tz)
    repository = services.audit.repository
    records = repository.search(query.where, limit=PAGE_SIZE + 1, before_id=query.before)
    more = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    return render(
        request,
        "admin_audit.html",
        status=400 if query.errors else 200,
        query=query,
        records=records,
        next_before=records[-1].id if more and records else None,
        actions=repository.actions(),
        results=RESULTS,
        total=repository.count(),
        verification=verification,
        query_string=request.query_string,
    )


@bp.get("/audit")
@login_required(DeskRole.ADMIN)
async def audit_page(request: Request) -> HTTPResponse:
    """The newest audit records matching the filters."""
    return await asyncio.to_thread(_page, request)


@bp.get("/audit.jsonl")
@login_required(DeskRole.ADMIN, scope="audit:read")
async def audit_export(request: Request) -> HTTPResponse:
    """The records matching the filters as JSON lines (`helpdesk audit verify --file`)."""
    services = services_of(request)
    query = parse_query(request.args, services.settings.tz)
    if query.errors:
        return await asyncio.to_thread(_page, request)
    out = io.StringIO()
    await asyncio.to_thread(services.audit.export, out, query.where)
    return raw(
        out.getvalue().encode("utf-8"),
        content_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )


@bp.post("/audit/verify")
@login_required(DeskRole.ADMIN)
async def audit_verify(request: Request) -> HTTPResponse:
    """Walk the chain and show whether it is intact."""
    verification = await asyncio.to_thread(services_of(request).audit.verify)
    return await asyncio.to_thread(_page, request, verification=verification)

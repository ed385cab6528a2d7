"""What citizens asked that the knowledge base did not settle: the questions inbox and the
weak spots report (knowledge managers, supervisors and admins).

- `GET /knowledge/questions`: the questions declined, answered "Tidak", handed to an officer
  or turned into a ticket in the last `?days=` days (90), grouped by meaning, largest group
  first, each with its count, reasons, wordings and the three closest entries.
- `POST /knowledge/questions/add`: add a group's wordings (`ref` fields) as alternatives of
  entry `slug`, in its draft; the questions leave the inbox.
- `POST /knowledge/questions/draft`: the new-entry form prefilled from a group (the officer's
  reply as the answer); saving it takes the questions out of the inbox.
- `POST /knowledge/questions/dismiss`: dismiss a group; later questions of its meaning stay out.
- `GET /knowledge/weak`: entries with a low "Ya" rate or rating, categories with many
  unanswered questions, near-duplicate entries.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import KNOWLEDGE_EDITORS, error_page, flash_redirect, login_required, render
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.desk.views.knowledge import entry_form
from helpdesk.knowledge.inbox import DEFAULT_DAYS, REASONS, QuestionGroup
from helpdesk.knowledge.weak_spots import weak_spots

logger = logging.getLogger(__name__)

bp = Blueprint("desk_knowledge_inbox", url_prefix="/knowledge")

#: Groups shown on one page (the largest).
SHOWN_GROUPS = 40
#: The periods the inbox can look back over, in days.
PERIODS = (7, 30, 90, 365)
#: At most this many questions are acted on at once (the largest group the page shows).
MAX_REFS = 2000
UNAVAILABLE = "Kotak pertanyaan belum dapat dibuka: basis pengetahuan belum siap. Coba lagi nanti."


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _days(request: Request) -> int:
    text = (request.args.get("days") or "").strip()
    return int(text) if text.isdigit() and int(text) in PERIODS else DEFAULT_DAYS


def _refs(request: Request) -> list[str]:
    return [ref for ref in (request.form.getlist("ref") or ())[:MAX_REFS] if isinstance(ref, str)]


@bp.get("/questions")
@login_required(*KNOWLEDGE_EDITORS)
async def inbox(request: Request) -> HTTPResponse:
    """The open questions grouped by meaning, with the closest entries."""
    services = services_of(request)
    days = _days(request)
    if not services.warm_retriever():
        return render(request, "knowledge_loading.html")

    def work() -> tuple[list[QuestionGroup], int]:
        services.refresh_knowledge()
        questions = services.question_inbox
        groups = questions.groups(now=_now(), days=days)
        shown = [questions.suggest(group) for group in groups[:SHOWN_GROUPS]]
        return shown, len(groups)

    try:
        groups, total = await asyncio.to_thread(work)
    except Exception as exc:  # no index yet and it cannot be built, the database
        logger.error("questions inbox failed: %s", type(exc).__name__)
        return error_page(request, 503, UNAVAILABLE)
    return render(
        request,
        "knowledge_inbox.html",
        groups=groups,
        total=total,
        days=days,
        periods=PERIODS,
        reasons=REASONS,
    )


LOADING = "Basis pengetahuan sedang dimuat pada proses ini. Silakan coba lagi sesaat lagi."


async def _group(request: Request) -> QuestionGroup | HTTPResponse:
    """The open questions the form names, as one group; or the redirect back to the inbox
    when the knowledge base is still loading in this process, or none is still open."""
    services = services_of(request)
    if not services.warm_retriever():
        return flash_redirect(request, "/knowledge/questions", LOADING, kind="info")
    refs = _refs(request)
    group = await asyncio.to_thread(
        lambda: services.question_inbox.group_of(refs, now=_now(), days=max(PERIODS))
    )
    if group is None:
        return flash_redirect(request, "/knowledge/questions", GONE, kind="info")
    return group


GONE = "Pertanyaan ini sudah ditangani (mungkin oleh rekan Anda). Daftar telah diperbarui."


@bp.post("/questions/add")
@login_required(*KNOWLEDGE_EDITORS)
async def add(request: Request) -> HTTPResponse:
    """Add a group's wordings as alternatives of an entry (in its draft)."""
    slug = form_field(request, "slug")
    group = await _group(request)
    if isinstance(group, HTTPResponse):
        return group
    try:
        added = services_of(request).question_inbox.add_as_alternatives(
            group, slug, actor=actor(request)
        )
    except LookupError:
        return error_page(request, 404, "Entri itu tidak ada atau sudah dipensiunkan.")
    logger.info(
        "knowledge base: %s added %d of %d inbox questions to %s",
        actor(request),
        added,
        group.size,
        slug,
    )
    if added:
        message = (
            f"{added} pertanyaan ditambahkan sebagai alternatif di draf entri ini. "
            "Terbitkan agar asisten menjawabnya."
        )
    else:
        message = "Semua pertanyaan itu sudah ada di entri ini; pertanyaan keluar dari kotak."
    return flash_redirect(request, f"/knowledge/{slug}", message)


@bp.post("/questions/draft")
@login_required(*KNOWLEDGE_EDITORS)
async def draft(request: Request) -> HTTPResponse:
    """The new-entry form, prefilled from a group."""
    group = await _group(request)
    if isinstance(group, HTTPResponse):
        return group
    services = services_of(request)
    values = await asyncio.to_thread(
        lambda: services.question_inbox.draft_values(services.question_inbox.suggest(group))
    )
    return entry_form(request, values=values, entry=None, refs=group.refs)


@bp.post("/questions/dismiss")
@login_required(*KNOWLEDGE_EDITORS)
async def dismiss(request: Request) -> HTTPResponse:
    """Dismiss a group: its questions, and later ones of the same meaning, leave the inbox."""
    group = await _group(request)
    if isinstance(group, HTTPResponse):
        return group
    dismissed = services_of(request).question_inbox.dismiss(group, actor=actor(request))
    logger.info("knowledge base: %s dismissed a group of %d questions", actor(request), dismissed)
    return flash_redirect(
        request,
        "/knowledge/questions",
        f"Kelompok \u201c{group.label}\u201d diabaikan ({group.size} pertanyaan). "
        "Pertanyaan serupa berikutnya juga tidak ditampilkan.",
    )


@bp.get("/weak")
@login_required(*KNOWLEDGE_EDITORS)
async def weak(request: Request) -> HTTPResponse:
    """The weak spots report."""
    services = services_of(request)
    days = _days(request)
    if not services.warm_retriever():
        return render(request, "knowledge_loading.html")

    def work():
        services.refresh_knowledge()
        unanswered = services.questions.unanswered_since(_now() - timedelta(days=days))
        return weak_spots(services.retriever, services.questions.figures_by_faq(), unanswered)

    try:
        report = await asyncio.to_thread(work)
    except Exception as exc:
        logger.error("weak spots report failed: %s", type(exc).__name__)
        return error_page(request, 503, UNAVAILABLE)
    return render(request, "knowledge_weak.html", report=report, days=days, periods=PERIODS)

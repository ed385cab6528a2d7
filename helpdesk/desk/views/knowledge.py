"""The knowledge managers' workspace: the FAQ entries, their drafts and their publication.

Every desk role reads the knowledge base (agents look answers up); knowledge managers,
supervisors and admins write drafts and publish them (`KNOWLEDGE_EDITORS`). What is published
reaches the assistant within `HELPDESK_KB_REFRESH_SECONDS` (the action servers watch the
revision), without a restart.

- `GET /knowledge`: the entries, searchable (question, alternatives, answer, id) and filtered
  by category and state (published, with a draft, draft only, retired), with each entry's
  figures (times answered, "Tidak", "Ya" rate, rating average, last asked).
- `GET|POST /knowledge/new`: a new entry, saved as a draft.
- `GET /knowledge/<id>`: the entry, its draft beside what is published (the change word by
  word), its figures and its history with who, when and what changed in each version.
- `GET|POST /knowledge/<id>/edit`: change the draft (made from the published version).
- `POST /knowledge/<id>/publish`, `.../discard`, `.../retire`: publish or discard the draft;
  draft the entry's retirement.
- `/knowledge/export`, `/knowledge/import`, `/knowledge/try`: `knowledge_files`;
  `/knowledge/questions`, `/knowledge/weak`: `knowledge_inbox`.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    DESK_ROLES,
    KNOWLEDGE_EDITORS,
    current_user,
    error_page,
    flash_redirect,
    login_required,
    render,
)
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.knowledge.changes import changes
from helpdesk.knowledge.curation import DEFAULT_FILE, checked
from helpdesk.knowledge.loader import FaqSourceError
from helpdesk.storage.feedback import FaqFigures
from helpdesk.storage.knowledge_base import FaqContent, FaqEntrySummary

logger = logging.getLogger(__name__)

bp = Blueprint("desk_knowledge", url_prefix="/knowledge")

#: The entry states a list can be filtered by, with their labels.
STATES = {
    "live": "Terbit",
    "draft": "Ada draf",
    "new": "Draf baru",
    "retired": "Dipensiunkan",
}
#: Longest text accepted in one field (an answer of a few screens).
MAX_FIELD = 8000
#: The fields of the entry form.
FORM_FIELDS = ("id", "category", "question", "alternatives", "answer", "source", "file", "note")


def state_of(entry: FaqEntrySummary) -> str:
    """ "new" (never published), "retired", "draft" (published, with a draft) or "live"."""
    if entry.published is None:
        return "new"
    if entry.published.retired:
        return "retired"
    return "draft" if entry.draft is not None else "live"


def _matches(entry: FaqEntrySummary, words: list[str]) -> bool:
    content = entry.current.content
    haystack = " ".join(
        (entry.slug, content.category, content.question, content.answer, *content.alternatives)
    ).lower()
    return all(word in haystack for word in words)


def _can_edit(request: Request) -> bool:
    user = current_user(request)
    return user is not None and user.role in KNOWLEDGE_EDITORS


@bp.get("")
@login_required(*DESK_ROLES)
async def entries(request: Request) -> HTTPResponse:
    """The entries, searched and filtered, with their figures."""
    services = services_of(request)
    found = services.knowledge_base.entries()
    figures = services.questions.figures_by_faq()
    query = (request.args.get("q") or "").strip()[:200]
    category = (request.args.get("category") or "").strip()
    state = (request.args.get("state") or "").strip()
    categories = sorted({e.current.content.category for e in found})
    words = query.lower().split()
    shown = [
        e
        for e in found
        if (not words or _matches(e, words))
        and (not category or e.current.content.category == category)
        and (state not in STATES or state_of(e) == state)
    ]
    return render(
        request,
        "knowledge_list.html",
        entries=shown,
        total=len(found),
        figures=figures,
        no_figures=FaqFigures(),
        states=STATES,
        state_of=state_of,
        categories=categories,
        query=query,
        category=category,
        state=state if state in STATES else "",
        can_edit=_can_edit(request),
    )


def _values_of(content: FaqContent | None, slug: str = "") -> dict[str, str]:
    if content is None:
        return {k: "" for k in ("id", "category", "question", "alternatives", "answer", "source")}
    return {
        "id": slug,
        "category": content.category,
        "question": content.question,
        "alternatives": "\n".join(content.alternatives),
        "answer": content.answer,
        "source": content.source or "",
        "file": content.file or DEFAULT_FILE,
    }


def entry_form(
    request: Request,
    *,
    values: dict[str, str],
    entry: FaqEntrySummary | None,
    error: str | None = None,
    status: int = 200,
    refs: tuple[str, ...] = (),
) -> HTTPResponse:
    """The entry form (`refs`: the inbox questions a new entry is made from)."""
    return render(
        request,
        "knowledge_form.html",
        status=status,
        values=values,
        entry=entry,
        error=error,
        refs=refs,
        categories=sorted({e.current.content.category for e in _all(request)}),
    )


def _all(request: Request) -> list[FaqEntrySummary]:
    return services_of(request).knowledge_base.entries()


def _submitted(request: Request) -> dict[str, str]:
    return {name: form_field(request, name)[:MAX_FIELD] for name in FORM_FIELDS}


async def _save(request: Request, entry: FaqEntrySummary | None) -> HTTPResponse:
    values = _submitted(request)
    refs = tuple(request.form.getlist("ref") or ()) if entry is None else ()
    slug = entry.slug if entry is not None else values["id"]
    if entry is None and services_of(request).knowledge_base.entry(slug) is not None:
        return entry_form(
            request,
            values=values,
            entry=None,
            error=f"Kode \u201c{slug}\u201d sudah dipakai entri lain. Pilih kode lain.",
            status=400,
            refs=refs,
        )
    try:
        content = checked(
            slug,
            category=values["category"],
            question=values["question"],
            answer=values["answer"],
            alternatives=values["alternatives"].splitlines(),
            source=values["source"] or None,
            file=values["file"] or (entry.current.content.file if entry else None),
        )
    except FaqSourceError as error:
        return entry_form(
            request, values=values, entry=entry, error=_explain(error), status=400, refs=refs
        )
    services = services_of(request)
    services.knowledge_base.save_draft(
        slug, content, author=actor(request), note=values["note"] or None
    )
    if refs:
        taken = services.question_inbox.drafted(refs, slug, actor=actor(request))
        logger.info("knowledge base: %d inbox questions went into %s", taken, slug)
    logger.info("knowledge base: %s saved the draft of %s", actor(request), slug)
    return flash_redirect(
        request,
        f"/knowledge/{slug}",
        "Draf disimpan. Terbitkan agar asisten menjawab dengannya.",
    )


def _explain(error: FaqSourceError) -> str:
    """The contract's message in the desk's words."""
    text = str(error)
    for key, label in (
        ("'id'", "Kode"),
        ("'category'", "Kategori"),
        ("'question'", "Pertanyaan"),
        ("'answer'", "Jawaban"),
    ):
        if key in text and "missing or empty" in text:
            return f"{label} wajib diisi."
    if "may only hold letters" in text:
        return "Kode hanya boleh berisi huruf, angka, titik, garis bawah dan tanda hubung."
    return "Isian belum sesuai. Periksa kembali setiap kolom."


@bp.get("/new")
@login_required(*KNOWLEDGE_EDITORS)
async def new_form(request: Request) -> HTTPResponse:
    """The form of a new entry."""
    values = _values_of(None)
    values["file"] = DEFAULT_FILE
    return entry_form(request, values=values, entry=None)


@bp.post("/new")
@login_required(*KNOWLEDGE_EDITORS)
async def create(request: Request) -> HTTPResponse:
    """Save a new entry as a draft."""
    return await _save(request, None)


def _entry(request: Request, slug: str) -> FaqEntrySummary | None:
    return services_of(request).knowledge_base.entry(slug)


@bp.get("/<slug:str>")
@login_required(*DESK_ROLES)
async def entry_page(request: Request, slug: str) -> HTTPResponse:
    """One entry: draft and published side by side, figures, history."""
    entry = _entry(request, slug)
    if entry is None:
        return error_page(request, 404)
    services = services_of(request)
    history = services.knowledge_base.history(slug)
    earlier: dict[int, Any] = {}
    for older, newer in zip(history[1:], history, strict=False):
        earlier[newer.id] = changes(older.content, newer.content)
    if history:
        earlier[history[-1].id] = changes(None, history[-1].content)
    draft_changes = (
        changes(entry.published.content if entry.published else None, entry.draft.content)
        if entry.draft is not None
        else []
    )
    return render(
        request,
        "knowledge_entry.html",
        entry=entry,
        state=state_of(entry),
        states=STATES,
        history=history,
        version_changes=earlier,
        draft_changes=draft_changes,
        figures=services.questions.figures_by_faq([slug]).get(slug, FaqFigures()),
        can_edit=_can_edit(request),
    )


@bp.get("/<slug:str>/edit")
@login_required(*KNOWLEDGE_EDITORS)
async def edit_form(request: Request, slug: str) -> HTTPResponse:
    """The form of the entry's draft (made from the published version when there is none)."""
    entry = _entry(request, slug)
    if entry is None:
        return error_page(request, 404)
    return entry_form(request, values=_values_of(entry.current.content, slug), entry=entry)


@bp.post("/<slug:str>/edit")
@login_required(*KNOWLEDGE_EDITORS)
async def save(request: Request, slug: str) -> HTTPResponse:
    """Save the entry's draft."""
    entry = _entry(request, slug)
    if entry is None:
        return error_page(request, 404)
    return await _save(request, entry)


@bp.post("/<slug:str>/publish")
@login_required(*KNOWLEDGE_EDITORS)
async def publish(request: Request, slug: str) -> HTTPResponse:
    """Publish the entry's draft: the assistant answers with it within seconds."""
    knowledge_base = services_of(request).knowledge_base
    try:
        version = knowledge_base.publish(slug, by=actor(request))
    except LookupError:
        return error_page(request, 404, "Entri ini tidak memiliki draf untuk diterbitkan.")
    logger.info("knowledge base: %s published %s version %d", actor(request), slug, version.number)
    if version.retired:
        message = "Entri dipensiunkan: asisten tidak lagi menjawab dengannya."
    else:
        message = (
            f"Versi {version.number} diterbitkan. Asisten menjawab dengannya dalam beberapa detik."
        )
    return flash_redirect(request, f"/knowledge/{slug}", message)


@bp.post("/<slug:str>/discard")
@login_required(*KNOWLEDGE_EDITORS)
async def discard(request: Request, slug: str) -> HTTPResponse:
    """Discard the entry's draft (an entry never published goes with it)."""
    entry = _entry(request, slug)
    if entry is None or not services_of(request).knowledge_base.discard(slug):
        return error_page(request, 404, "Entri ini tidak memiliki draf.")
    logger.info("knowledge base: %s discarded the draft of %s", actor(request), slug)
    if entry.published is None:
        return flash_redirect(request, "/knowledge", "Draf entri baru dibuang.")
    return flash_redirect(request, f"/knowledge/{slug}", "Draf dibuang.")


@bp.post("/<slug:str>/retire")
@login_required(*KNOWLEDGE_EDITORS)
async def retire(request: Request, slug: str) -> HTTPResponse:
    """Draft the entry's retirement (published like an edit)."""
    entry = _entry(request, slug)
    if entry is None or entry.published is None or entry.published.retired:
        return error_page(request, 404, "Hanya entri yang terbit dapat dipensiunkan.")
    services_of(request).knowledge_base.save_draft(
        slug,
        entry.published.content,
        author=actor(request),
        note=form_field(request, "note")[:MAX_FIELD] or None,
        retire=True,
    )
    return flash_redirect(
        request,
        f"/knowledge/{slug}",
        "Draf pensiun disimpan. Terbitkan agar asisten berhenti menjawab dengan entri ini.",
    )

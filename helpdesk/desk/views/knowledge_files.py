"""The knowledge base's files and trials in the desk: export, import, "Coba pertanyaan".

- `GET /knowledge/export?format=yaml|csv`: the published entries as `helpdesk kb export`
  writes them (a zip of one YAML file per group, or a CSV).
- `GET|POST /knowledge/import`: a YAML or CSV file in, as drafts or published at once
  (`helpdesk kb import`).
- `GET /knowledge/try?q=...`: what the assistant would do with a question (ranking, scores,
  decision and why), now and with every draft published.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import zipfile
from pathlib import Path

from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from helpdesk.desk.auth import (
    DESK_ROLES,
    KNOWLEDGE_EDITORS,
    error_page,
    login_required,
    render,
)
from helpdesk.desk.views import services_of
from helpdesk.desk.views.admin import actor, form_field
from helpdesk.knowledge.curation import DEFAULT_FILE, export_files, import_source
from helpdesk.knowledge.loader import FaqSourceError
from helpdesk.knowledge.trial import Trial, drafted_entries, drafted_retriever, put

logger = logging.getLogger(__name__)

bp = Blueprint("desk_knowledge_files", url_prefix="/knowledge")

#: Longest question a trial takes (what a citizen's message is clipped to).
MAX_QUESTION = 500
#: The files the desk imports.
IMPORT_SUFFIXES = (".yml", ".yaml", ".csv")


@bp.get("/export")
@login_required(*DESK_ROLES)
async def export_download(request: Request) -> HTTPResponse:
    """The published knowledge base as `helpdesk kb export` writes it: a zip of YAML files,
    one per group (`?format=yaml`), or one CSV (`?format=csv`)."""
    fmt = request.args.get("format") or "yaml"
    try:
        files = export_files(services_of(request).knowledge_base, fmt=fmt)
    except FaqSourceError:
        return error_page(request, 404, "Belum ada entri terbit untuk diekspor.")
    if fmt == "csv":
        ((name, text),) = files.items()
        return response.raw(
            ("\ufeff" + text).encode("utf-8"),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return response.raw(
        buffer.getvalue(),
        content_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="basis-pengetahuan.zip"'},
    )


@bp.get("/import")
@login_required(*KNOWLEDGE_EDITORS)
async def import_form(request: Request) -> HTTPResponse:
    """The upload form of a YAML or CSV file."""
    return render(request, "knowledge_import.html", error=None, outcome=None)


@bp.post("/import")
@login_required(*KNOWLEDGE_EDITORS)
async def import_upload(request: Request) -> HTTPResponse:
    """Import an uploaded YAML or CSV file: as drafts, or published at once."""
    upload = request.files.get("file") if request.files else None
    name = Path(upload.name or "").name if upload is not None else ""
    suffix = Path(name).suffix.lower()
    if upload is None or not upload.body or suffix not in IMPORT_SUFFIXES:
        return render(
            request,
            "knowledge_import.html",
            status=400,
            error="Pilih berkas YAML (.yml, .yaml) atau CSV (.csv) yang berisi entri.",
            outcome=None,
        )
    publish = form_field(request, "publish") == "1"
    with tempfile.TemporaryDirectory(prefix="kb-import-") as folder:
        path = Path(folder) / f"{Path(name).stem[:100] or DEFAULT_FILE}{suffix}"
        path.write_bytes(upload.body)
        try:
            outcome = import_source(
                services_of(request).knowledge_base, path, author=actor(request), publish=publish
            )
        except FaqSourceError as error:
            message = str(error).replace(str(path), name)
            return render(
                request,
                "knowledge_import.html",
                status=400,
                error=f"Berkas tidak dapat diimpor: {message}",
                outcome=None,
            )
    logger.info(
        "knowledge base: %s imported %s (%s): %d new, %d changed",
        actor(request),
        name,
        "published" if publish else "drafts",
        len(outcome.created),
        len(outcome.changed),
    )
    return render(request, "knowledge_import.html", error=None, outcome=outcome, publish=publish)


@bp.get("/try")
@login_required(*DESK_ROLES)
async def try_question(request: Request) -> HTTPResponse:
    """What the assistant would do with a question: now, and with the drafts published."""
    question = (request.args.get("q") or "").strip()[:MAX_QUESTION]
    if not question:
        return render(request, "knowledge_try.html", question="", now=None, drafted=None)
    services = services_of(request)
    if not services.warm_retriever():
        return render(request, "knowledge_loading.html")

    def work() -> tuple[Trial, Trial | None]:
        services.refresh_knowledge()  # the desk answers with what the action servers have
        live = services.retriever
        entries = drafted_entries(services.knowledge_base)
        later = put(drafted_retriever(live, entries), question) if entries else None
        return put(live, question), later

    try:
        now, drafted = await asyncio.to_thread(work)
    except Exception as exc:  # no index yet and it cannot be built, the database
        logger.error("knowledge base trial failed: %s", type(exc).__name__)
        return error_page(request, 503, "Basis pengetahuan belum dapat dicoba. Coba lagi nanti.")
    return render(request, "knowledge_try.html", question=question, now=now, drafted=drafted)

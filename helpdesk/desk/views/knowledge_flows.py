"""The guided flows in the desk: every role reads them; knowledge managers, supervisors and
admins change them node by node in a draft and publish it, like FAQ entries. What is published
is walked by every action server from the citizen's next message, without a restart or
retraining (`helpdesk.conversation.flow_store`).

- `GET /knowledge/flows`: the flows, their steps and what starts them; the draft's state.
- `GET /knowledge/flows/<flow>`: the flow's steps in the order citizens meet them, each with
  where it leads; for editors a form per step, a form for a new step, the draft's changes.
- `POST /knowledge/flows/<flow>/nodes/<node>`: save a step into the draft (the whole draft
  is checked; an error names the flow and the step and changes nothing).
- `POST /knowledge/flows/<flow>/nodes`: add a step; `.../nodes/<node>/delete`: remove one.
- `POST /knowledge/flows/publish`, `/knowledge/flows/discard`: publish or drop the draft.
- `GET /knowledge/flows/export`: the flows in force (or the draft, `?draft=1`) as YAML.
"""

from __future__ import annotations

import difflib
import logging
import re

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, text

from helpdesk.conversation.flow_editing import (
    INPUT_LABELS,
    FlowEditError,
    choices_text,
    dump,
    end_label,
    end_text,
    node_from_form,
    walk_order,
    with_node,
    without_node,
)
from helpdesk.conversation.flow_files import unreached
from helpdesk.conversation.flows import Flow, FlowError
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
from helpdesk.desk.views.admin import actor

logger = logging.getLogger(__name__)

bp = Blueprint("desk_knowledge_flows", url_prefix="/knowledge/flows")

#: The fields of a step's form.
NODE_FIELDS = ("text", "input", "save", "error", "choices", "next", "then")
#: Longest text accepted in one field.
MAX_FIELD = 4000
_NODE_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")


def _can_edit(request: Request) -> bool:
    user = current_user(request)
    return user is not None and user.role in KNOWLEDGE_EDITORS


def _starters(request: Request) -> dict[str, list[str]]:
    """The menu items and the greeting that start each flow."""
    services = services_of(request)
    starts: dict[str, list[str]] = {}
    try:
        for item in services.menu.items:
            if item.flow:
                starts.setdefault(item.flow, []).append(f"menu {item.number}. {item.title}")
    except Exception:
        logger.exception("the menu could not be loaded")
    name_flow = services.settings.profile.name_flow
    if name_flow:
        starts.setdefault(name_flow, []).append("sapaan pertama (menanyakan nama)")
    return starts


def _step_values(flow: Flow, node_id: str) -> dict[str, str]:
    node = flow.nodes[node_id]
    return {
        "text": node.text,
        "input": node.input or "",
        "save": node.save or "",
        "error": node.error or "",
        "choices": choices_text(node),
        "next": node.next or "",
        "then": end_text(node.then),
    }


def _changes(request: Request) -> list[str]:
    """The draft against the flows in force, as unified diff lines of their YAML."""
    store = services_of(request).flow_store
    draft = store.draft()
    if draft is None:
        return []
    current = dump(store.in_force().document)  # both as the editor writes them
    return list(
        difflib.unified_diff(
            current.splitlines(), draft.text.splitlines(), "terbit", "draf", lineterm="", n=2
        )
    )


@bp.get("")
@login_required(*DESK_ROLES)
async def flows(request: Request) -> HTTPResponse:
    """The flows, what starts them, and the draft's state."""
    store = services_of(request).flow_store
    shown = store.editing()
    return render(
        request,
        "knowledge_flows.html",
        flows=list(shown.flows.values()),
        in_force=store.in_force(),
        draft=store.draft(),
        starters=_starters(request),
        changes=_changes(request),
        can_edit=_can_edit(request),
    )


def _flow_page(
    request: Request,
    flow_id: str,
    *,
    error: str | None = None,
    editing: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTTPResponse:
    store = services_of(request).flow_store
    version = store.editing()
    flow = version.flows.get(flow_id)
    if flow is None:
        return error_page(request, 404, "Alur ini tidak ada.")
    steps = walk_order(flow)
    forms = {node.id: _step_values(flow, node.id) for node in steps}
    if editing is not None and values is not None:
        forms[editing] = values
    return render(
        request,
        "knowledge_flow.html",
        status=status,
        flow=flow,
        steps=steps,
        unreached=unreached(flow),
        forms=forms,
        end_label=end_label,
        inputs=INPUT_LABELS,
        draft=store.draft(),
        starters=_starters(request).get(flow_id, []),
        changes=_changes(request),
        can_edit=_can_edit(request),
        error=error,
        editing=editing,
        new_values=values if editing == "" else {},
    )


@bp.get("/export")
@login_required(*DESK_ROLES)
async def export(request: Request) -> HTTPResponse:
    """The flows in force (or the draft) as a flows file."""
    store = services_of(request).flow_store
    version = (store.draft() if request.args.get("draft") else None) or store.in_force()
    return text(
        version.text,
        content_type="text/yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="flows.yml"'},
    )


@bp.get("/<flow_id:str>")
@login_required(*DESK_ROLES)
async def flow_page(request: Request, flow_id: str) -> HTTPResponse:
    """One flow's steps, in the order citizens meet them."""
    return _flow_page(request, flow_id)


def _submitted(request: Request) -> dict[str, str]:
    return {f: (request.form.get(f) or "").replace("\r\n", "\n")[:MAX_FIELD] for f in NODE_FIELDS}


def _save_step(request: Request, flow_id: str, node_id: str, *, new: bool) -> HTTPResponse:
    store = services_of(request).flow_store
    version = store.editing()
    flow = version.flows.get(flow_id)
    values = _submitted(request)
    if flow is None:
        return error_page(request, 404, "Alur ini tidak ada.")
    editing = "" if new else node_id
    if new and (not _NODE_ID.match(node_id) or node_id in flow.nodes):
        message = (
            f"Langkah {node_id!r} sudah ada di alur ini."
            if node_id in flow.nodes
            else "Nama langkah: huruf kecil, angka, - atau _, paling banyak 40 karakter."
        )
        values["id"] = node_id
        return _flow_page(
            request, flow_id, error=message, editing=editing, values=values, status=400
        )
    if not new and node_id not in flow.nodes:
        return error_page(request, 404, "Langkah ini tidak ada.")
    try:
        raw = node_from_form(values, None if new else flow.nodes[node_id])
        store.save_draft(with_node(version.document, flow_id, node_id, raw), by=actor(request))
    except (FlowEditError, FlowError) as exc:
        values["id"] = node_id
        return _flow_page(
            request, flow_id, error=_explain(exc), editing=editing, values=values, status=400
        )
    logger.info("flows: %s saved step %s of %s in the draft", actor(request), node_id, flow_id)
    return flash_redirect(
        request,
        f"/knowledge/flows/{flow_id}#step-{node_id}",
        f"Langkah {node_id} disimpan di draf. Terbitkan agar asisten memakainya.",
    )


def _explain(error: Exception) -> str:
    if isinstance(error, FlowEditError):
        return str(error)
    return f"Alur belum dapat disimpan: {error}"


@bp.post("/<flow_id:str>/nodes/<node_id:str>")
@login_required(*KNOWLEDGE_EDITORS)
async def save_step(request: Request, flow_id: str, node_id: str) -> HTTPResponse:
    """Save a step into the draft."""
    return _save_step(request, flow_id, node_id, new=False)


@bp.post("/<flow_id:str>/nodes")
@login_required(*KNOWLEDGE_EDITORS)
async def add_step(request: Request, flow_id: str) -> HTTPResponse:
    """Add a step to the flow in the draft (something must lead to it: edit a step too)."""
    node_id = (request.form.get("id") or "").strip().lower()
    return _save_step(request, flow_id, node_id, new=True)


@bp.post("/<flow_id:str>/nodes/<node_id:str>/delete")
@login_required(*KNOWLEDGE_EDITORS)
async def delete_step(request: Request, flow_id: str, node_id: str) -> HTTPResponse:
    """Remove a step in the draft (nothing may lead to it any more)."""
    store = services_of(request).flow_store
    version = store.editing()
    try:
        doc = without_node(version.document, flow_id, node_id)
        store.save_draft(doc, by=actor(request))
    except (FlowEditError, FlowError) as exc:
        return _flow_page(request, flow_id, error=_explain(exc), status=400)
    logger.info("flows: %s removed step %s of %s in the draft", actor(request), node_id, flow_id)
    message = f"Langkah {node_id} dihapus di draf."
    return flash_redirect(request, f"/knowledge/flows/{flow_id}", message)


@bp.post("/publish")
@login_required(*KNOWLEDGE_EDITORS)
async def publish(request: Request) -> HTTPResponse:
    """Publish the draft: the assistant walks it from the next message on."""
    store = services_of(request).flow_store
    try:
        store.publish(by=actor(request))
    except LookupError:
        return error_page(request, 404, "Tidak ada draf alur untuk diterbitkan.")
    except FlowError as exc:
        return flash_redirect(request, "/knowledge/flows", _explain(exc), kind="error")
    logger.info("flows: %s published the draft", actor(request))
    return flash_redirect(
        request, "/knowledge/flows", "Alur diterbitkan. Asisten memakainya mulai pesan berikutnya."
    )


@bp.post("/discard")
@login_required(*KNOWLEDGE_EDITORS)
async def discard(request: Request) -> HTTPResponse:
    """Drop the draft."""
    if not services_of(request).flow_store.discard():
        return error_page(request, 404, "Tidak ada draf alur.")
    logger.info("flows: %s discarded the draft", actor(request))
    return flash_redirect(request, "/knowledge/flows", "Draf alur dibuang.")

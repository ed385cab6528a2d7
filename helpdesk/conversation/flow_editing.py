"""Editing guided flows node by node (the desk's flow editor): a flows document as plain data,
a node read from a form, and the labels the editor shows.

Pure: the document is the parsed form of a flows file (`{"version": 1, "flows": {...}}`);
every change returns a new document, which `flow_files.parse_flows` checks as a whole (the editor
shows its error, naming the flow and the node, and keeps the draft as it was).

A node's form has: `text`; `input` (empty for none, or an `INPUT_KINDS` kind) with `save` and
`error`; `choices`, one per line: `Judul -> langkah` (on to a node) or `Judul => akhir`
(ends the flow); `next` (a node) or `then` (an end). An end is written `menu`, `ticket`,
`handoff`, `end`, `faq: <entry id>` or `faq_category: <category>`.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import yaml

from helpdesk.conversation.flows import INPUT_KINDS, End, Flow, Node

#: What each end does, as the editor says it.
END_LABELS = {
    "faq": "jawab entri {target}",
    "faq_category": "tawarkan pertanyaan kategori {target}",
    "ticket": "buka formulir tiket",
    "handoff": "serahkan ke petugas",
    "menu": "tampilkan menu",
    "end": "selesai",
}
#: The input kinds, as the editor names them.
INPUT_LABELS = {
    "text": "Teks bebas",
    "name": "Nama",
    "phone": "Nomor HP",
    "email": "E-mail",
    "nik": "NIK",
    "number": "Angka",
}
assert set(INPUT_LABELS) == set(INPUT_KINDS)


class FlowEditError(ValueError):
    """A node form that cannot be read (the message is for the knowledge manager)."""


# -- the document ------------------------------------------------------------------------
def end_raw(end: End) -> Any:
    return {end.kind: end.target} if end.target else end.kind


def end_text(end: End | None) -> str:
    """An end as the form writes it ("faq: rab-pengertian", "menu"), "" for none."""
    if end is None:
        return ""
    return f"{end.kind}: {end.target}" if end.target else end.kind


def end_label(end: End) -> str:
    return END_LABELS.get(end.kind, end.kind).format(target=end.target or "")


def node_raw(node: Node) -> dict[str, Any]:
    raw: dict[str, Any] = {"text": node.text}
    if node.input:
        raw["input"] = node.input
    if node.error:
        raw["error"] = node.error
    if node.save:
        raw["save"] = node.save
    if node.choices:
        raw["choices"] = [
            {
                "title": c.title,
                **({"next": c.next} if c.next else {"then": end_raw(c.then)} if c.then else {}),
                **({"value": c.value} if c.value else {}),
            }
            for c in node.choices
        ]
    if node.next:
        raw["next"] = node.next
    if node.then:
        raw["then"] = end_raw(node.then)
    return raw


def document(flows: Mapping[str, Flow]) -> dict[str, Any]:
    """The flows as a document (what a flows file holds)."""
    return {
        "version": 1,
        "flows": {
            flow.id: {
                "title": flow.title,
                "start": flow.start,
                "nodes": {node.id: node_raw(node) for node in flow.nodes.values()},
            }
            for flow in flows.values()
        },
    }


def dump(doc: Mapping[str, Any]) -> str:
    """The document as a flows file's YAML (keys in their order, Unicode kept)."""
    return yaml.safe_dump(dict(doc), allow_unicode=True, sort_keys=False, width=100)


def with_node(
    doc: Mapping[str, Any], flow_id: str, node_id: str, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of `doc` with the flow's node `node_id` set to `raw` (added when new)."""
    changed = copy.deepcopy(dict(doc))
    flow = changed.get("flows", {}).get(flow_id)
    if not isinstance(flow, dict):
        raise FlowEditError(f"Alur {flow_id!r} tidak ada.")
    flow.setdefault("nodes", {})[node_id] = dict(raw)
    return changed


def without_node(doc: Mapping[str, Any], flow_id: str, node_id: str) -> dict[str, Any]:
    """A copy of `doc` without the flow's node (not its first one)."""
    changed = copy.deepcopy(dict(doc))
    flow = changed.get("flows", {}).get(flow_id)
    if not isinstance(flow, dict) or node_id not in flow.get("nodes", {}):
        raise FlowEditError(f"Langkah {node_id!r} tidak ada di alur {flow_id!r}.")
    if flow.get("start") == node_id:
        raise FlowEditError("Langkah pertama alur tidak dapat dihapus.")
    del flow["nodes"][node_id]
    return changed


# -- a node's form -----------------------------------------------------------------------
def parse_end(text: str) -> Any:
    """An end as written in the form ("faq: rab-pengertian", "menu") as the file has it."""
    kind, sep, target = (part.strip() for part in text.strip().partition(":"))
    kind = kind.lower().replace(" ", "_")
    if kind not in END_LABELS:
        raise FlowEditError(
            f"Akhir {text.strip()!r} tidak dikenal. Tulis salah satu: menu, ticket, handoff, "
            "end, faq: <id entri>, faq_category: <kategori>."
        )
    if kind in ("faq", "faq_category"):
        if not target:
            raise FlowEditError(f"Akhir {kind} memerlukan sasaran, misalnya '{kind}: ...'.")
        return {kind: target}
    if sep and target:
        raise FlowEditError(f"Akhir {kind} tidak memerlukan sasaran.")
    return kind


def choices_text(node: Node) -> str:
    """The node's choices as the form writes them, one per line."""
    lines = []
    for choice in node.choices:
        way = f"-> {choice.next}" if choice.next else f"=> {end_text(choice.then)}"
        lines.append(f"{choice.title} {way}")
    return "\n".join(lines)


def parse_choices(text: str, old: Node | None = None) -> list[dict[str, Any]]:
    """The choices of the form's lines ("Judul -> langkah", "Judul => akhir"); a choice that
    keeps its title keeps its stored `value`."""
    values = {c.title: c.value for c in old.choices} if old is not None else {}
    choices = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if "=>" in line:
            title, _, target = line.partition("=>")
            choice: dict[str, Any] = {"title": title.strip(), "then": parse_end(target)}
        elif "->" in line:
            title, _, target = line.partition("->")
            choice = {"title": title.strip(), "next": target.strip()}
        else:
            raise FlowEditError(
                f"Pilihan baris {number} ({line.strip()!r}): tulis 'Judul -> langkah' atau "
                "'Judul => akhir'."
            )
        if not choice["title"] or not (choice.get("next") or choice.get("then")):
            raise FlowEditError(f"Pilihan baris {number}: judul dan tujuannya wajib diisi.")
        if values.get(choice["title"]):
            choice["value"] = values[choice["title"]]
        choices.append(choice)
    return choices


def node_from_form(form: Mapping[str, str], old: Node | None = None) -> dict[str, Any]:
    """A node as the file has it, from the editor's form (checked as a whole afterwards)."""
    raw: dict[str, Any] = {"text": (form.get("text") or "").strip()}
    kind = (form.get("input") or "").strip()
    if kind:
        if kind not in INPUT_KINDS:
            raise FlowEditError(f"Jenis isian {kind!r} tidak dikenal.")
        raw["input"] = kind
    for key in ("error", "save"):
        value = (form.get(key) or "").strip()
        if value:
            raw[key] = value
    choices = parse_choices(form.get("choices") or "", old)
    if choices:
        raw["choices"] = choices
    next_node = (form.get("next") or "").strip()
    then = (form.get("then") or "").strip()
    if next_node:
        raw["next"] = next_node
    if then:
        raw["then"] = parse_end(then)
    return raw


def walk_order(flow: Flow) -> list[Node]:
    """The flow's nodes from its start, each after the one that leads to it first (the order
    the editor lists them in); nodes nothing leads to come last."""
    order: list[str] = []
    todo = [flow.start]
    while todo:
        node_id = todo.pop(0)
        if node_id in order or node_id not in flow.nodes:
            continue
        order.append(node_id)
        node = flow.nodes[node_id]
        todo.extend(t for t in [*(c.next for c in node.choices), node.next] if t)
    order.extend(n for n in flow.nodes if n not in order)
    return [flow.nodes[n] for n in order]

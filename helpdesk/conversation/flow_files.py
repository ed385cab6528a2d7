"""Reading guided flows: a flows file (or a parsed document, a draft of the desk's editor)
into checked `Flow`s (the format is in `helpdesk.conversation.flows`).

Every error names the file (or the draft), the flow and the node (`FlowError`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from helpdesk.conversation.flows import (
    INPUT_KINDS,
    MAX_TITLE,
    PLACEHOLDER,
    Choice,
    End,
    Flow,
    FlowError,
    Node,
)

#: A flow's or a node's id.
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _end(raw: Any, where: str) -> End:
    if isinstance(raw, str) and raw in ("ticket", "handoff", "menu", "end"):
        return End(raw)
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, target),) = raw.items()
        if kind in ("faq", "faq_category") and isinstance(target, str) and target.strip():
            return End(kind, target.strip())
        if kind in ("ticket", "handoff", "menu", "end") and target in (True, None):
            return End(kind)
    raise FlowError(
        f"{where}: 'then' must be one of {{faq: <entry id>}}, {{faq_category: <category>}}, "
        "ticket, handoff, menu or end"
    )


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FlowError(f"{where}: '{key}' must be a non-empty text")
    return value.strip()


def _node(node_id: str, raw: Any, where: str) -> Node:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: a node is a mapping with 'text'")
    unknown = set(raw) - {"text", "input", "error", "choices", "save", "next", "then"}
    if unknown:
        raise FlowError(f"{where}: unknown key(s) {', '.join(sorted(map(repr, unknown)))}")
    text = str(_text(raw, "text", where))
    kind = raw.get("input")
    if kind is not None and kind not in INPUT_KINDS:
        raise FlowError(f"{where}: 'input' must be one of {', '.join(INPUT_KINDS)}")
    choices = []
    raw_choices = raw.get("choices")
    if raw_choices is not None:
        if not isinstance(raw_choices, list) or not raw_choices:
            raise FlowError(f"{where}: 'choices' must be a non-empty list")
        for n, item in enumerate(raw_choices, 1):
            at = f"{where}, choice {n}"
            if not isinstance(item, dict) or set(item) - {"title", "next", "then", "value"}:
                raise FlowError(f"{at}: a choice has a 'title' and 'next' or 'then'")
            title = str(_text(item, "title", at))
            if len(title) > MAX_TITLE:
                raise FlowError(f"{at}: title {title!r} is longer than {MAX_TITLE} characters")
            if ("next" in item) == ("then" in item):
                raise FlowError(f"{at}: give either 'next' (a node) or 'then' (an end)")
            choices.append(
                Choice(
                    title,
                    next=_text(item, "next", at, required=False),
                    then=_end(item["then"], at) if "then" in item else None,
                    value=_text(item, "value", at, required=False),
                )
            )
        titles = [c.title.lower() for c in choices]
        if len(set(titles)) != len(titles):
            raise FlowError(f"{where}: two choices have the same title")
    node = Node(
        id=node_id,
        text=text,
        input=kind,
        error=_text(raw, "error", where, required=False),
        choices=tuple(choices),
        save=_text(raw, "save", where, required=False),
        next=_text(raw, "next", where, required=False),
        then=_end(raw["then"], where) if "then" in raw else None,
    )
    if node.input and node.choices:
        raise FlowError(f"{where}: a node has either 'input' or 'choices', not both")
    if node.choices and (node.next or node.then):
        raise FlowError(f"{where}: a node with 'choices' goes on from its choices only")
    if not node.choices and bool(node.next) == bool(node.then):
        raise FlowError(f"{where}: give either 'next' (a node) or 'then' (an end)")
    if node.input and not node.save:
        raise FlowError(f"{where}: an 'input' node needs 'save' (the key of what it collects)")
    return node


def _unreached(start: str, nodes: Mapping[str, Node]) -> list[str]:
    reached, todo = {start}, [start]
    while todo:
        node = nodes[todo.pop()]
        for target in [node.next] + [c.next for c in node.choices]:
            if target is not None and target not in reached:
                reached.add(target)
                todo.append(target)
    return sorted(set(nodes) - reached)


def unreached(flow: Flow) -> list[str]:
    """The flow's nodes nothing leads to (a draft may have them while it is being edited)."""
    return _unreached(flow.start, flow.nodes)


def _flow(flow_id: str, raw: Any, where: str, drafting: bool = False) -> Flow:
    if not isinstance(raw, dict) or set(raw) - {"title", "start", "nodes"}:
        raise FlowError(f"{where}: a flow has 'title', 'start' and 'nodes'")
    title = str(_text(raw, "title", where))
    start = str(_text(raw, "start", where))
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        raise FlowError(f"{where}: 'nodes' must map node ids to nodes")
    nodes = {}
    for node_id, node_raw in nodes_raw.items():
        if not isinstance(node_id, str) or not _ID.match(node_id):
            raise FlowError(f"{where}: node id {node_id!r}: lower-case letters, digits, - and _")
        nodes[node_id] = _node(node_id, node_raw, f"{where}, node {node_id!r}")
    if start not in nodes:
        raise FlowError(f"{where}: 'start' names {start!r}, which is not a node")
    for node in nodes.values():
        targets = [node.next] + [c.next for c in node.choices]
        for target in targets:
            if target is not None and target not in nodes:
                raise FlowError(
                    f"{where}, node {node.id!r}: 'next' names {target!r}, which is not a node"
                )
    lost = _unreached(start, nodes)
    if lost and not drafting:
        raise FlowError(f"{where}: nothing leads to node(s) {', '.join(map(repr, lost))}")
    saved = {node.save for node in nodes.values() if node.save}
    for node in nodes.values():
        unknown = sorted(set(PLACEHOLDER.findall(node.text)) - saved)
        if unknown:
            raise FlowError(
                f"{where}, node {node.id!r}: the text names {{{unknown[0]}}}, which no node of "
                "the flow saves"
            )
    for node in nodes.values():  # messages leading to each other forever
        seen, current = set(), node
        while not (current.input or current.choices or current.then):
            if current.id in seen:
                raise FlowError(f"{where}, node {node.id!r}: its messages lead back to it")
            seen.add(current.id)
            current = nodes[str(current.next)]
    return Flow(flow_id, title, start, nodes)


def parse_flows(raw: Any, where: str, *, drafting: bool = False) -> dict[str, Flow]:
    """The flows of a parsed flows file (`where`: its name, for the errors). `drafting`: a
    draft being edited, which may hold nodes nothing leads to yet (or any more)."""
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise FlowError(f"{where}: expected 'version: 1' and 'flows'")
    flows_raw = raw.get("flows")
    if not isinstance(flows_raw, dict):
        raise FlowError(f"{where}: 'flows' must map flow ids to flows")
    flows = {}
    for flow_id, flow_raw in flows_raw.items():
        if not isinstance(flow_id, str) or not _ID.match(flow_id):
            raise FlowError(f"{where}: flow id {flow_id!r}: lower-case letters, digits, - and _")
        flows[flow_id] = _flow(flow_id, flow_raw, f"{where}, flow {flow_id!r}", drafting)
    return flows


def check_targets(
    flows: Mapping[str, Flow], entry_ids: set[str], categories: set[str], where: str
) -> None:
    """Refuse an end naming an FAQ entry or category the knowledge base lacks.

    Raises:
        FlowError: Naming `where`, the flow and the node.
    """
    known = {"faq": entry_ids, "faq_category": categories}
    for flow in flows.values():
        for node in flow.nodes.values():
            for end in [node.then, *(c.then for c in node.choices)]:
                if end is not None and end.kind in known and end.target not in known[end.kind]:
                    raise FlowError(
                        f"{where}, flow {flow.id!r}, node {node.id!r}: "
                        f"{end.kind} {end.target!r} is not in the knowledge base"
                    )


def load_flows(path: Path) -> dict[str, Flow]:
    """The flows of `path` (none when the file does not exist)."""
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FlowError(f"{path}: not valid YAML ({exc})") from exc
    return parse_flows(raw, str(path))

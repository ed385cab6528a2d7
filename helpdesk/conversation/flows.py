"""Guided flows as data: the button and question trails an organisation defines in its profile
(`profiles/<name>/flows.yml`), and a walker that moves a conversation through them.

Pure: no Rasa, no I/O beyond reading the file. A generic flow action (the Rasa side) keeps a
`FlowState` in a slot, shows the current node (`Prompt`) and hands every reply to `advance`;
adding or changing a flow needs no retraining.

```yaml
version: 1
flows:
  konsultasi:                            # the flow's id (a menu item starts it: `flow: konsultasi`)
    title: Konsultasi Rumah
    start: nama
    nodes:
      nama:
        text: Sebelum kami bantu, boleh kami tahu nama Bapak/Ibu?
        input: name                      # text, name, phone, email, nik or number
        save: nama                       # what the flow collects, under this key
        next: topik
      topik:
        text: Silakan pilih topik konsultasi.
        choices:                         # buttons (WhatsApp: up to 3, a list above that)
          - {title: Perencanaan Rumah, next: perencanaan}
          - {title: Informasi KRS, then: {faq_category: Informasi KRS}}
        save: topik                      # optional: the chosen title (or its `value`)
      perencanaan:
        text: Berikut informasi perencanaan rumah.
        then: {faq: rab-pengertian}      # how the flow ends (below)
```

A node's text may name what the flow collected so far: "Terima kasih, {nama}." (a key some
node of the flow saves; empty until it is collected). A node has a `text` and one of:
`input` (+ `next`), `choices` (each with `next` or `then`), `next` alone (a message, then the
next node) or `then` (the end). Ends: `{faq: <entry id>}`
answers an entry, `{faq_category: <category>}` offers that category's questions, `ticket`
opens the ticket form, `handoff` hands over to an officer, `menu` shows the menu, `end` says
nothing more. "kembali" goes back one step, "menu"/"0" and "batal" leave the flow (the Rasa
side handles those two like in any form).

`flow_files.load_flows` reads a file and checks everything (unknown nodes, nodes nothing leads
to, a choice without a way on, input kinds, button titles too long for WhatsApp), naming the
file, the flow and the node in every error (`FlowError`). This module holds the model and the
walker.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from helpdesk.conversation.identifiers import NIK, IdentifierError, normalize_phone
from helpdesk.conversation.validation import validate_email

#: What an `input` node accepts.
INPUT_KINDS = ("text", "name", "phone", "email", "nik", "number")
#: How a flow may end.
END_KINDS = ("faq", "faq_category", "ticket", "handoff", "menu", "end")
#: WhatsApp's limit on a reply button's title (longer titles are cut by the platform).
MAX_TITLE = 20
#: Longest text kept from one free-text answer.
MAX_ANSWER = 500
#: A node may be passed through at most this many times in one step (a loop of messages).
MAX_HOPS = 20
#: A placeholder of a node's text: what the flow saved under that key.
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
_NAME = re.compile(r"^[^\W\d_][^\W\d_ .'\-]*(?:[ .'\-]+[^\W\d_][^\W\d_ .'\-]*)*\.?$")
#: Polite re-asks, per input kind (a node may give its own `error`).
INPUT_ERRORS = {
    "text": "Mohon tuliskan jawaban Anda.",
    "name": "Mohon tuliskan nama Anda dengan huruf saja, misalnya: Siti Aminah.",
    "phone": "Nomor HP belum sesuai. Mohon tuliskan nomor seperti 081234567890.",
    "email": "Alamat e-mail belum sesuai. Mohon tuliskan seperti nama@contoh.go.id.",
    "nik": "NIK terdiri atas 16 angka. Mohon periksa kembali NIK Anda.",
    "number": "Mohon tuliskan jawaban dalam angka.",
}
CHOICE_ERROR = "Mohon pilih salah satu pilihan di bawah ini (ketik nomornya atau tekan tombolnya)."
NO_WAY_BACK = "Ini langkah pertama, tidak ada langkah sebelumnya."


class FlowError(ValueError):
    """A flows file that cannot be used (the message names the file, flow and node)."""


@dataclass(frozen=True)
class End:
    """How a flow ends: `kind` (`END_KINDS`) and its target (an entry id, a category)."""

    kind: str
    target: str | None = None


@dataclass(frozen=True)
class Choice:
    """One button: its title, and the node it leads to or the end it makes."""

    title: str
    next: str | None = None
    then: End | None = None
    value: str | None = None


@dataclass(frozen=True)
class Node:
    """One step of a flow."""

    id: str
    text: str
    input: str | None = None
    error: str | None = None
    choices: tuple[Choice, ...] = ()
    save: str | None = None
    next: str | None = None
    then: End | None = None


@dataclass(frozen=True)
class Flow:
    """A named graph of nodes with its start."""

    id: str
    title: str
    start: str
    nodes: Mapping[str, Node]


@dataclass(frozen=True)
class FlowState:
    """Where a conversation is in a flow: the node shown, the way it came, what it collected."""

    flow: str
    node: str
    history: tuple[str, ...] = ()
    data: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "node": self.node,
            "history": list(self.history),
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, raw: Any) -> "FlowState | None":
        """The state a slot holds, or None for anything else."""
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return None
        if not isinstance(raw, dict) or not raw.get("flow") or not raw.get("node"):
            return None
        history = raw.get("history") or []
        data = raw.get("data") or {}
        if not isinstance(history, list) or not isinstance(data, dict):
            return None
        return cls(
            str(raw["flow"]),
            str(raw["node"]),
            tuple(str(h) for h in history),
            {str(k): str(v) for k, v in data.items()},
        )


@dataclass(frozen=True)
class Prompt:
    """What to show: the messages passed through on the way, then the node's text and its
    choices (titles, numbered in order)."""

    texts: tuple[str, ...]
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """The result of one reply.

    Attributes:
        state: The state after it (the node to ask next, or where the flow ended).
        prompt: What to show next (None when the flow ended without a message).
        error: Why the reply was not accepted (the node is asked again), else None.
        end: How the flow ended, else None.
    """

    state: FlowState
    prompt: Prompt | None = None
    error: str | None = None
    end: End | None = None


# -- walking ---------------------------------------------------------------------------
def fold(text: str) -> str:
    """`text` lower-cased, letters and digits only, single spaces (how replies are compared)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def pick(node: Node, reply: str) -> Choice | None:
    """The choice a reply names: its number ("2", "2."), its title, or a payload title."""
    folded = fold(reply)
    if folded.isdigit() and 1 <= int(folded) <= len(node.choices):
        return node.choices[int(folded) - 1]
    for choice in node.choices:
        if fold(choice.title) == folded:
            return choice
    return None


def accept(kind: str, reply: str) -> str | None:
    """The value an `input` node keeps from a reply, or None when it does not fit `kind`."""
    text = " ".join(reply.split())[:MAX_ANSWER]
    if not text:
        return None
    if kind == "text":
        return text
    if kind == "name":
        return text if len(text) <= 100 and _NAME.match(text) else None
    if kind == "phone":
        return normalize_phone(text)
    if kind == "email":
        return validate_email(text)
    if kind == "nik":
        try:
            return NIK.parse(text)
        except IdentifierError:
            return None
    if kind == "number":
        digits = re.sub(r"[\s.,]", "", text)
        return digits if digits.isdigit() else None
    raise ValueError(f"unknown input kind {kind!r}")


def start(flow: Flow) -> Outcome:
    """A flow's beginning: its start node (after any messages on the way)."""
    return _arrive(flow, FlowState(flow.id, flow.start), flow.start, ())


def say(node: Node, data: Mapping[str, str]) -> str:
    """The node's text with what the flow collected filled in."""
    return PLACEHOLDER.sub(lambda m: data.get(m.group(1), ""), node.text)


def collected_name(flow: Flow, data: Mapping[str, str]) -> str | None:
    """The name the flow collected (the value of its first `input: name` node), or None."""
    for node in flow.nodes.values():
        if node.input == "name" and data.get(str(node.save)):
            return data[str(node.save)]
    return None


def show(flow: Flow, state: FlowState) -> Prompt:
    """The prompt of the node the conversation is at (to ask it again)."""
    node = flow.nodes[state.node]
    return Prompt((say(node, state.data),), tuple(c.title for c in node.choices))


def back(flow: Flow, state: FlowState) -> Outcome:
    """One step back ("kembali"): the node asked before this one."""
    if not state.history:
        return Outcome(state, show(flow, state), error=NO_WAY_BACK)
    previous = state.history[-1]
    moved = replace(state, node=previous, history=state.history[:-1])
    return Outcome(moved, show(flow, moved))


def advance(flow: Flow, state: FlowState, reply: str) -> Outcome:
    """Take the citizen's reply at the current node.

    An answer that does not fit (a choice that is not offered, a phone number that is not
    one) keeps the node and says why; otherwise the flow moves on, collecting what the node
    saves, to the next node that asks something, or to its end.
    """
    node = flow.nodes.get(state.node)
    if node is None:  # the flow changed under the conversation: start it again
        return start(flow)
    data = dict(state.data)
    if node.choices:
        choice = pick(node, reply)
        if choice is None:
            return Outcome(state, show(flow, state), error=CHOICE_ERROR)
        if node.save:
            data[node.save] = choice.value or choice.title
        moved = replace(state, data=data)
        if choice.then is not None:
            return Outcome(moved, end=choice.then)
        return _arrive(flow, moved, str(choice.next), (node.id,))
    if node.input:
        value = accept(node.input, reply)
        if value is None:
            return Outcome(state, show(flow, state), error=node.error or INPUT_ERRORS[node.input])
        data[str(node.save)] = value
        moved = replace(state, data=data)
        if node.then is not None:
            return Outcome(moved, end=node.then)
        return _arrive(flow, moved, str(node.next), (node.id,))
    # A node that only says something was shown on the way; nothing to answer here.
    return _arrive(flow, state, state.node, ())


def _arrive(flow: Flow, state: FlowState, node_id: str, came_from: tuple[str, ...]) -> Outcome:
    """Move to `node_id`, passing through message-only nodes (their texts are shown first),
    up to a node that asks something or to an end."""
    texts: list[str] = []
    history = state.history + came_from
    for _ in range(MAX_HOPS):
        node = flow.nodes[node_id]
        if node.input or node.choices:
            moved = replace(state, node=node_id, history=history)
            prompt = Prompt((*texts, say(node, state.data)), tuple(c.title for c in node.choices))
            return Outcome(moved, prompt)
        texts.append(say(node, state.data))
        if node.then is not None:
            moved = replace(state, node=node_id, history=history)
            return Outcome(moved, Prompt(tuple(texts)), end=node.then)
        node_id = str(node.next)
    raise FlowError(f"flow {flow.id!r}: more than {MAX_HOPS} messages in a row (a loop?)")

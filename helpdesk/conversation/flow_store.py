"""The guided flows in force, and their draft: the profile's flows file until a knowledge
manager publishes flows edited in the desk, then the published ones (desk settings
"flows" and "flows_draft", each a flows document as YAML with who saved it).

Like the FAQ entries: a draft is saved (and saved again) until it is published or discarded;
publishing makes it the flows every action server walks from the next message on (each
process checks the setting's change time, one cheap query, and parses only on a change), with
no restart and no retraining.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import yaml

from helpdesk.conversation.flow_editing import document, dump
from helpdesk.conversation.flow_files import check_targets, load_flows, parse_flows
from helpdesk.conversation.flows import Flow, FlowError
from helpdesk.storage.desk_settings import DeskSettingRepository

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.storage.knowledge_base import KnowledgeBaseRepository

logger = logging.getLogger(__name__)

#: Desk setting of the published flows.
PUBLISHED_KEY = "flows"
#: Desk setting of the draft.
DRAFT_KEY = "flows_draft"


@dataclass(frozen=True)
class FlowsVersion:
    """A flows document as stored: its flows, its YAML, who saved it and when.

    Attributes:
        source: "desk" (published or drafted in the desk) or "file" (the profile's file).
    """

    flows: Mapping[str, Flow]
    text: str
    source: str
    by: str | None = None
    updated_at: datetime | None = None

    @property
    def document(self) -> dict[str, Any]:
        return document(self.flows)


class FlowStore:
    """The flows in force and the draft (`session_factory`: the helpdesk store).

    Args:
        flows_file: The profile's flows file (None: the profile has none).
        check: Further checks of a document to be saved (e.g. that the FAQ entries it ends
            with are published); raises `FlowError`.
    """

    def __init__(
        self,
        flows_file: Path | None,
        session_factory: Callable[[], Any],
        check: Callable[[Mapping[str, Flow]], None] | None = None,
    ) -> None:
        self._file = flows_file
        self._settings = DeskSettingRepository(session_factory)
        self._check = check
        self._lock = threading.Lock()
        self._file_cache: tuple[int, FlowsVersion] | None = None
        self._desk_cache: FlowsVersion | None = None

    # -- reading -------------------------------------------------------------------------
    def in_force(self) -> FlowsVersion:
        """The flows the assistant walks now: published in the desk, else the file's."""
        with self._lock:
            changed_at = self._settings.updated_at(PUBLISHED_KEY)
            if changed_at is not None:
                cached = self._desk_cache
                if cached is not None and cached.updated_at == changed_at:
                    return cached
                version = self._stored(PUBLISHED_KEY)
                if version is not None:
                    self._desk_cache = version
                    return version
            return self._from_file()

    def flows(self) -> dict[str, Flow]:
        return dict(self.in_force().flows)

    def draft(self) -> FlowsVersion | None:
        """The draft, or None (also when a stored draft no longer parses: it is logged)."""
        return self._stored(DRAFT_KEY)

    def editing(self) -> FlowsVersion:
        """What the editor changes: the draft, else the flows in force."""
        return self.draft() or self.in_force()

    # -- changing ------------------------------------------------------------------------
    def save_draft(self, doc: Mapping[str, Any], *, by: str) -> FlowsVersion:
        """Check `doc` as a whole and keep it as the draft (it may hold steps nothing leads
        to while it is edited; publishing refuses them).

        Raises:
            FlowError: The document does not parse or fails the store's `check`.
        """
        flows = parse_flows(dict(doc), "alur", drafting=True)
        if self._check is not None:
            self._check(flows)
        text = dump(doc)
        record = self._settings.set(DRAFT_KEY, json.dumps({"yaml": text, "by": by}))
        return FlowsVersion(flows, text, "desk", by, record.updated_at)

    def publish(self, *, by: str) -> FlowsVersion:
        """Make the draft the flows in force (checked again: the knowledge base may have
        changed since) and drop the draft.

        Raises:
            LookupError: There is no draft.
            FlowError: The draft no longer passes the checks.
        """
        draft = self.draft()
        if draft is None:
            raise LookupError("no draft of the flows")
        parse_flows(yaml.safe_load(draft.text), "alur")  # no step left that nothing leads to
        if self._check is not None:
            self._check(draft.flows)
        record = self._settings.set(PUBLISHED_KEY, json.dumps({"yaml": draft.text, "by": by}))
        self._settings.delete(DRAFT_KEY)
        logger.info("flows published by %s (%d flows)", by, len(draft.flows))
        return FlowsVersion(draft.flows, draft.text, "desk", by, record.updated_at)

    def discard(self) -> bool:
        """Drop the draft; False when there was none."""
        return self._settings.delete(DRAFT_KEY)

    # -- helpers -------------------------------------------------------------------------
    def _stored(self, key: str) -> FlowsVersion | None:
        record = self._settings.get(key)
        if record is None:
            return None
        try:
            stored = json.loads(record.value)
            text = str(stored["yaml"])
            flows = parse_flows(yaml.safe_load(text), key, drafting=key == DRAFT_KEY)
        except (ValueError, KeyError, TypeError, yaml.YAMLError, FlowError):
            logger.exception("the stored %s cannot be read; it is ignored", key)
            return None
        return FlowsVersion(flows, text, "desk", stored.get("by"), record.updated_at)

    def _from_file(self) -> FlowsVersion:
        path = self._file
        if path is None or not path.is_file():
            return FlowsVersion({}, dump(document({})), "file")
        stamp = path.stat().st_mtime_ns
        if self._file_cache is None or self._file_cache[0] != stamp:
            flows = load_flows(path)
            self._file_cache = (stamp, FlowsVersion(flows, path.read_text("utf-8"), "file"))
        return self._file_cache[1]


def in_knowledge_base(
    knowledge_base: "KnowledgeBaseRepository", faq_source: Path
) -> Callable[[Mapping[str, Flow]], None]:
    """A check that the FAQ entries and categories flows end with are published (the profile's
    FAQ sources before the knowledge base is seeded into the database).

    The check raises `FlowError` naming the flow and the node.
    """

    def check(flows: Mapping[str, Flow]) -> None:
        published = [v for v in knowledge_base.published() if not v.retired]
        if published:
            pairs = {(v.slug, v.content.category) for v in published}
        else:
            from helpdesk.knowledge.loader import load_faqs

            pairs = {(e.id, e.category) for e in load_faqs(faq_source)}
        check_targets(flows, {i for i, _ in pairs}, {c for _, c in pairs}, "alur")

    return check

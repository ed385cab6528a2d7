"""Repository of the curated knowledge base: FAQ entries, their versions, the revision.

Every change is a version of its entry (`faq_version`): a draft is saved (and saved again, in
place) until it is published or discarded; publishing supersedes the entry's published version
and counts one more `kb_revision`, the number every running action server watches. A version
that retires its entry is published the same way. Published versions are never changed.

Values come in and go out as plain frozen dataclasses (`FaqContent`, `FaqVersionRecord`,
`FaqEntrySummary`); validating them against the YAML contract is the knowledge layer's job
(`helpdesk.knowledge.curation`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import FaqVersionStatus
from helpdesk.storage.models import FaqEntryRow, FaqVersion, KbRevision, utcnow

#: The one row of `kb_revision`.
REVISION_ROW = 1


@dataclass(frozen=True)
class FaqContent:
    """What one version of an entry says (equal contents: nothing changed)."""

    category: str
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    source: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class FaqVersionRecord:
    """One version of an entry."""

    id: int
    slug: str
    number: int
    status: str
    retired: bool
    content: FaqContent
    note: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    published_by: str | None
    published_at: datetime | None

    @classmethod
    def from_row(cls, row: FaqVersion, slug: str) -> "FaqVersionRecord":
        return cls(
            id=row.id,
            slug=slug,
            number=row.number,
            status=row.status,
            retired=bool(row.retired),
            content=_content(row),
            note=row.note,
            author=row.author,
            created_at=row.created_at,
            updated_at=row.updated_at,
            published_by=row.published_by,
            published_at=row.published_at,
        )


@dataclass(frozen=True)
class FaqEntrySummary:
    """An entry with its published version and its draft (either may be missing)."""

    slug: str
    published: FaqVersionRecord | None = None
    draft: FaqVersionRecord | None = None

    @property
    def live(self) -> bool:
        """Whether the assistant answers with it (published and not retired)."""
        return self.published is not None and not self.published.retired

    @property
    def current(self) -> FaqVersionRecord:
        """What a knowledge manager sees first: the draft when there is one."""
        version = self.draft or self.published
        assert version is not None  # an entry is made with its first version
        return version


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, by entry slug."""

    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()

    @property
    def published(self) -> bool:
        return bool(self.created or self.changed or self.retired)


class KnowledgeBaseRepository(_Repository):
    """The curated knowledge base's entries and versions."""

    # ------------------------------------------------------------------ reading

    def revision(self) -> int:
        """How many publications the knowledge base has seen (0: never curated)."""
        with session_scope(self._sessions) as session:
            row = session.get(KbRevision, REVISION_ROW)
            return int(row.revision) if row is not None else 0

    def published(self) -> list[FaqVersionRecord]:
        """The live knowledge base: every entry's published version that does not retire
        it, in the entries' creation order."""
        stmt = (
            select(FaqVersion, FaqEntryRow.slug)
            .join(FaqEntryRow, FaqVersion.entry_id == FaqEntryRow.id)
            .where(
                FaqVersion.status == FaqVersionStatus.PUBLISHED,
                FaqVersion.retired.is_(False),
            )
            .order_by(FaqEntryRow.id)
        )
        with session_scope(self._sessions) as session:
            return [FaqVersionRecord.from_row(row, slug) for row, slug in session.execute(stmt)]

    def count(self) -> int:
        """How many entries there are (live, draft-only or retired)."""
        with session_scope(self._sessions) as session:
            return int(session.scalar(select(func.count()).select_from(FaqEntryRow)) or 0)

    def entries(self) -> list[FaqEntrySummary]:
        """Every entry with its published version and draft, in creation order."""
        stmt = (
            select(FaqVersion, FaqEntryRow.slug)
            .join(FaqEntryRow, FaqVersion.entry_id == FaqEntryRow.id)
            .where(FaqVersion.status.in_((FaqVersionStatus.PUBLISHED, FaqVersionStatus.DRAFT)))
            .order_by(FaqEntryRow.id, FaqVersion.number)
        )
        found: dict[str, dict[str, FaqVersionRecord]] = {}
        with session_scope(self._sessions) as session:
            for row, slug in session.execute(stmt):
                found.setdefault(slug, {})[row.status] = FaqVersionRecord.from_row(row, slug)
        return [
            FaqEntrySummary(slug, versions.get("published"), versions.get("draft"))
            for slug, versions in found.items()
        ]

    def entry(self, slug: str) -> FaqEntrySummary | None:
        """One entry with its published version and draft, or None."""
        stmt = (
            select(FaqVersion)
            .join(FaqEntryRow, FaqVersion.entry_id == FaqEntryRow.id)
            .where(
                FaqEntryRow.slug == slug,
                FaqVersion.status.in_((FaqVersionStatus.PUBLISHED, FaqVersionStatus.DRAFT)),
            )
        )
        with session_scope(self._sessions) as session:
            versions = {
                row.status: FaqVersionRecord.from_row(row, slug) for row in session.scalars(stmt)
            }
        if not versions:
            return None
        return FaqEntrySummary(slug, versions.get("published"), versions.get("draft"))

    def history(self, slug: str) -> list[FaqVersionRecord]:
        """Every version of an entry, newest first (empty for an unknown slug)."""
        stmt = (
            select(FaqVersion)
            .join(FaqEntryRow, FaqVersion.entry_id == FaqEntryRow.id)
            .where(FaqEntryRow.slug == slug)
            .order_by(FaqVersion.number.desc())
        )
        with session_scope(self._sessions) as session:
            return [FaqVersionRecord.from_row(row, slug) for row in session.scalars(stmt)]

    # ------------------------------------------------------------------ writing

    def save_draft(
        self,
        slug: str,
        content: FaqContent,
        *,
        author: str,
        note: str | None = None,
        retire: bool = False,
    ) -> FaqVersionRecord:
        """Save the entry's draft (made, or changed in place); the entry is made when new.

        Args:
            slug: The entry's id.
            content: What the draft says (for a retirement: what the entry said).
            author: The desk user (or "import", "system").
            note: Why (shown in the history).
            retire: The draft retires the entry once published.

        Raises:
            ValueError: A retirement of an entry that was never published.
        """

        def work() -> FaqVersionRecord:
            with session_scope(self._sessions) as session:
                entry = _entry_made(session, slug)
                if retire and _version(session, entry.id, FaqVersionStatus.PUBLISHED) is None:
                    raise ValueError(f"entry {slug!r} was never published: discard its draft")
                row = _draft(session, entry.id, content, author=author, note=note)
                row.retired = retire
                session.flush()
                return FaqVersionRecord.from_row(row, slug)

        return _retrying(work)

    def publish(self, slug: str, *, by: str) -> FaqVersionRecord:
        """Publish the entry's draft: its published version becomes superseded, and the
        knowledge base's revision goes up by one.

        Raises:
            LookupError: The entry has no draft.
        """

        def work() -> FaqVersionRecord:
            with session_scope(self._sessions) as session:
                entry = _entry_row(session, slug)
                draft = _version(session, entry.id, FaqVersionStatus.DRAFT) if entry else None
                if entry is None or draft is None:
                    raise LookupError(f"entry {slug!r} has no draft to publish")
                _publish(session, entry.id, draft, by=by)
                _bump(session)
                return FaqVersionRecord.from_row(draft, slug)

        return retry_on_locked(work)

    def discard(self, slug: str) -> bool:
        """Discard the entry's draft (kept in the history); False when it has none. An entry
        that was never published goes with it."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                entry = _entry_row(session, slug)
                draft = _version(session, entry.id, FaqVersionStatus.DRAFT) if entry else None
                if entry is None or draft is None:
                    return False
                if _version(session, entry.id, FaqVersionStatus.PUBLISHED) is None:
                    session.delete(entry)  # never answered with: nothing to keep
                    return True
                draft.status = FaqVersionStatus.DISCARDED
                draft.updated_at = utcnow()
                return True

        return retry_on_locked(work)

    def import_contents(
        self,
        contents: Sequence[tuple[str, FaqContent]],
        *,
        author: str,
        publish: bool,
        note: str | None = None,
        retire_missing: bool = False,
    ) -> ImportOutcome:
        """Bring the knowledge base in line with `contents` (slug, content), in one go.

        An entry whose published content (or, with `publish` False, whose draft) is the same
        is unchanged; any other gets a new version, published at once when `publish` (one
        revision for the whole import), else saved as its draft. With `retire_missing`, live
        entries the import does not name are retired the same way.
        """

        def work() -> ImportOutcome:
            done: dict[str, list[str]] = {"created": [], "changed": [], "unchanged": []}
            retired: list[str] = []
            with session_scope(self._sessions) as session:
                for slug, content in contents:
                    what = _import_one(
                        session, slug, content, by=author, publish=publish, note=note
                    )
                    done[what].append(slug)
                if retire_missing:
                    named = {slug for slug, _ in contents}
                    for entry in session.scalars(select(FaqEntryRow).order_by(FaqEntryRow.id)):
                        published = _version(session, entry.id, FaqVersionStatus.PUBLISHED)
                        if entry.slug in named or published is None or published.retired:
                            continue
                        row = _draft(
                            session, entry.id, _content(published), author=author, note=note
                        )
                        row.retired = True
                        if publish:
                            _publish(session, entry.id, row, by=author)
                        retired.append(entry.slug)
                outcome = ImportOutcome(
                    tuple(done["created"]),
                    tuple(done["changed"]),
                    tuple(done["unchanged"]),
                    tuple(retired),
                )
                if publish and outcome.published:
                    _bump(session)
                return outcome

        return _retrying(work)


# ---------------------------------------------------------------------- helpers

_T = TypeVar("_T")


def _retrying(work: Callable[[], _T]) -> _T:
    """`work` (a database lock waited out), once more when another process made the same
    entry or draft number at the same moment (the unique keys refuse the second)."""
    try:
        return retry_on_locked(work)
    except IntegrityError:
        return retry_on_locked(work)


def _entry_row(session: Session, slug: str) -> FaqEntryRow | None:
    return session.scalar(select(FaqEntryRow).where(FaqEntryRow.slug == slug))


def _entry_made(session: Session, slug: str) -> FaqEntryRow:
    """The entry, made when new."""
    entry = _entry_row(session, slug)
    if entry is None:
        entry = FaqEntryRow(slug=slug, created_at=utcnow())
        session.add(entry)
        session.flush()
    return entry


def _import_one(
    session: Session,
    slug: str,
    content: FaqContent,
    *,
    by: str,
    publish: bool,
    note: str | None,
) -> str:
    """Import one entry; "created", "changed" or "unchanged"."""
    new = _entry_row(session, slug) is None
    entry = _entry_made(session, slug)
    published = _version(session, entry.id, FaqVersionStatus.PUBLISHED)
    draft = _version(session, entry.id, FaqVersionStatus.DRAFT)
    compared = published if publish or draft is None else draft
    if compared is not None and not compared.retired and _content(compared) == content:
        return "unchanged"
    row = _draft(session, entry.id, content, author=by, note=note)
    row.retired = False
    if publish:
        _publish(session, entry.id, row, by=by)
    return "created" if new else "changed"


def _version(session: Session, entry_id: int, status: FaqVersionStatus) -> FaqVersion | None:
    return session.scalar(
        select(FaqVersion).where(FaqVersion.entry_id == entry_id, FaqVersion.status == status)
    )


def _content(row: FaqVersion) -> FaqContent:
    return FaqContent(
        category=row.category,
        question=row.question,
        answer=row.answer,
        alternatives=tuple(json.loads(row.alternatives or "[]")),
        source=row.source,
        file=row.file,
    )


def _fill(row: FaqVersion, content: FaqContent) -> None:
    row.category = content.category
    row.question = content.question
    row.answer = content.answer
    row.alternatives = json.dumps(list(content.alternatives), ensure_ascii=False)
    row.source = content.source
    row.file = content.file


def _draft(
    session: Session, entry_id: int, content: FaqContent, *, author: str, note: str | None
) -> FaqVersion:
    """The entry's draft, changed in place, or a new one numbered after the last version."""
    now = utcnow()
    row = _version(session, entry_id, FaqVersionStatus.DRAFT)
    if row is None:
        last = session.scalar(
            select(func.max(FaqVersion.number)).where(FaqVersion.entry_id == entry_id)
        )
        row = FaqVersion(
            entry_id=entry_id,
            number=int(last or 0) + 1,
            status=FaqVersionStatus.DRAFT,
            created_at=now,
        )
        session.add(row)
    _fill(row, content)
    row.author = author
    row.note = note
    row.updated_at = now
    session.flush()
    return row


def _publish(session: Session, entry_id: int, draft: FaqVersion, *, by: str) -> None:
    now = utcnow()
    session.execute(
        update(FaqVersion)
        .where(
            FaqVersion.entry_id == entry_id,
            FaqVersion.status == FaqVersionStatus.PUBLISHED,
            FaqVersion.id != draft.id,
        )
        .values(status=FaqVersionStatus.SUPERSEDED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    draft.status = FaqVersionStatus.PUBLISHED
    draft.published_by = by
    draft.published_at = now
    draft.updated_at = now
    session.flush()


def _bump(session: Session) -> None:
    """One more publication (the row is made on the first)."""
    now = utcnow()
    bumped = session.execute(
        update(KbRevision)
        .where(KbRevision.id == REVISION_ROW)
        .values(revision=KbRevision.revision + 1, changed_at=now)
    ).rowcount
    if not bumped:
        session.add(KbRevision(id=REVISION_ROW, revision=1, changed_at=now))
        session.flush()

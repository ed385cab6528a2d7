"""The knowledge base as knowledge managers curate it: entries, their versions, the revision.

An FAQ entry (`faq_entry`, named by its stable `slug`, the id of the YAML contract) has
versions (`faq_version`), each a whole copy of what the assistant answers with (category,
question, alternatives, answer, source, the file it is exported to) or the entry's retirement.
Versions are numbered per entry and never changed once published: the history with who and
when, and a diff between any two, come from them. `kb_revision` counts publications: every
running action server compares it with the revision its index was built from.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
)

from helpdesk.storage.enums import FaqVersionStatus, QuestionSource, TriageOutcome
from helpdesk.storage.models.columns import Base, CleanString, CleanText, UTCDateTime, one_of, utcnow

#: States of an FAQ version, in their lifecycle order.
FAQ_VERSION_STATUSES = tuple(status.value for status in FaqVersionStatus)


class FaqEntryRow(Base):
    """One FAQ entry, whatever its versions say."""

    __tablename__ = "faq_entry"

    id = Column(Integer, primary_key=True, autoincrement=True)
    slug = Column(CleanString(255), nullable=False, unique=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class FaqVersion(Base):
    """One version of an FAQ entry (a draft, the published one, or history)."""

    __tablename__ = "faq_version"

    id = Column(Integer, primary_key=True, autoincrement=True)
    entry_id = Column(Integer, ForeignKey("faq_entry.id", ondelete="CASCADE"), nullable=False)
    number = Column(Integer, nullable=False)
    status = Column(CleanString(16), nullable=False, default=FaqVersionStatus.DRAFT)
    retired = Column(Boolean(create_constraint=False), nullable=False, default=False)
    category = Column(CleanString(255), nullable=False, default="")
    question = Column(CleanText, nullable=False)
    alternatives = Column(CleanText, nullable=False, default="[]")  # a JSON list of strings
    answer = Column(CleanText, nullable=False)
    source = Column(CleanString(1024), nullable=True)
    file = Column(CleanString(255), nullable=True)  # the YAML file stem it is exported to
    note = Column(CleanText, nullable=True)  # why: "impor dari treasury.yml", a group's label
    author = Column(CleanString(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    published_by = Column(CleanString(64), nullable=True)
    published_at = Column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("entry_id", "number", name="uq_faq_version_entry_id_number"),
        CheckConstraint(one_of("status", FaqVersionStatus), name="status_valid"),
        Index("ix_faq_version_entry_id_status", "entry_id", "status"),
    )


class KbRevision(Base):
    """The knowledge base's publication counter (one row, id 1)."""

    __tablename__ = "kb_revision"

    id = Column(Integer, primary_key=True, autoincrement=False)
    revision = Column(Integer, nullable=False, default=0)
    changed_at = Column(UTCDateTime, nullable=False, default=utcnow)


class QuestionTriage(Base):
    """A citizen's question a knowledge manager dealt with: it leaves the questions inbox.

    One row per question (`source`, `source_id`: the question log row, the handoff or the
    ticket it was read from); `outcome` says how, `faq_slug` with which entry.
    """

    __tablename__ = "question_triage"

    id = Column(Integer, primary_key=True, autoincrement=True)
    source = Column(CleanString(16), nullable=False)
    source_id = Column(CleanString(64), nullable=False)
    outcome = Column(CleanString(16), nullable=False)
    faq_slug = Column(CleanString(255), nullable=True)
    actor = Column(CleanString(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_question_triage_source_source_id"),
        CheckConstraint(one_of("source", QuestionSource), name="source_valid"),
        CheckConstraint(one_of("outcome", TriageOutcome), name="outcome_valid"),
    )


class DismissedGroup(Base):
    """A group of questions a knowledge manager dismissed: later questions of the same meaning
    (close to its `centroid`, the mean of its questions' vectors by the embedder `model`, as
    base64 of little-endian float32) stay out of the inbox too."""

    __tablename__ = "question_group_dismissal"

    id = Column(Integer, primary_key=True, autoincrement=True)
    label = Column(CleanText, nullable=False)
    size = Column(Integer, nullable=False)
    model = Column(CleanString(255), nullable=False)
    centroid = Column(CleanText, nullable=False)
    actor = Column(CleanString(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

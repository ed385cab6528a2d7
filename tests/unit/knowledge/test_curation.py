"""The curated knowledge base: seeding, drafts checked against the contract, YAML and CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpdesk.knowledge.curation import (
    checked,
    curated_entries,
    export,
    file_group,
    import_source,
    published_entries,
    seed,
)
from helpdesk.knowledge.loader import FaqSourceError, load_faqs
from helpdesk.storage.knowledge_base import KnowledgeBaseRepository


@pytest.fixture
def repository(session_factory) -> KnowledgeBaseRepository:
    return KnowledgeBaseRepository(session_factory)


def test_an_empty_knowledge_base_is_seeded_once(repository, faq_dir: Path) -> None:
    entries = curated_entries(repository, faq_dir)

    assert [e.id for e in entries] == [e.id for e in load_faqs(faq_dir)]
    assert repository.revision() == 1
    assert seed(repository, faq_dir) is None  # not again: the database is the truth now
    assert curated_entries(repository, faq_dir) == entries
    assert {e.file for e in entries} == {"a", "b"}  # the file groups the export writes


def test_with_every_entry_retired_there_is_nothing_to_answer_with(
    repository, faq_dir: Path
) -> None:
    curated_entries(repository, faq_dir)
    for version in repository.published():
        repository.save_draft(version.slug, version.content, author="km1", retire=True)
        repository.publish(version.slug, by="km1")
    with pytest.raises(FaqSourceError, match="no published entries"):
        curated_entries(repository, faq_dir)


def test_a_draft_is_checked_like_a_yaml_entry() -> None:
    content = checked(
        "kppn-jam",
        category=" KPPN ",
        question="Kapan jam layanan KPPN? ",
        answer="Senin-Jumat 08.00-16.00.",
        alternatives=["jam buka kppn", "", "  ", "jam buka kppn", "Kapan jam layanan KPPN?"],
        source="",
        file="treasury",
    )
    assert (content.category, content.question) == ("KPPN", "Kapan jam layanan KPPN?")
    assert content.alternatives == ("jam buka kppn",)
    assert content.source is None and content.file == "treasury"

    with pytest.raises(FaqSourceError, match="'answer' is missing or empty"):
        checked("kppn-jam", category="KPPN", question="Kapan?", answer="  ")
    with pytest.raises(FaqSourceError, match="may only hold letters"):
        checked("kppn jam!", category="KPPN", question="Kapan?", answer="Senin.")


@pytest.mark.parametrize(
    ("file", "group"),
    [
        ("knowledge_base/faq/treasury.yml", "treasury"),
        ("/x/egov.yaml", "egov"),
        ("faq.csv line 4", "faq"),
        ("treasury", "treasury"),
        (None, "faq"),
        ("", "faq"),
    ],
)
def test_file_groups(file, group) -> None:
    assert file_group(file) == group


def test_a_csv_round_trip_keeps_the_groups(repository, faq_dir: Path, tmp_path: Path) -> None:
    curated_entries(repository, faq_dir)
    written = export(repository, tmp_path / "kb.csv", fmt="csv")
    assert list(written.values()) == [3]

    other = KnowledgeBaseRepository(repository._sessions)
    outcome = import_source(other, tmp_path / "kb.csv")
    assert outcome.unchanged == tuple(e.id for e in published_entries(repository))

    yaml_out = tmp_path / "yaml"
    export(repository, yaml_out)
    assert sorted(p.name for p in yaml_out.iterdir()) == ["a.yml", "b.yml"]


def test_a_hand_edit_shows_as_a_new_version(repository, faq_dir: Path, tmp_path: Path) -> None:
    curated_entries(repository, faq_dir)
    export(repository, tmp_path)
    path = tmp_path / "a.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    slug = data["faqs"][0]["id"]
    data["faqs"][0]["alternatives"] = ["ditambahkan dengan tangan"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    outcome = import_source(repository, tmp_path, author="km1")

    assert outcome.changed == (slug,) and len(outcome.unchanged) == 2
    history = repository.history(slug)
    assert [(v.number, v.status, v.author) for v in history] == [
        (2, "published", "km1"),
        (1, "superseded", "system"),
    ]
    assert history[0].content.alternatives == ("ditambahkan dengan tangan",)
    assert history[0].note == f"impor dari {tmp_path.name}"


def test_export_of_an_empty_knowledge_base_or_to_an_unknown_format_is_refused(
    repository, faq_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(FaqSourceError, match="no published entries"):
        export(repository, tmp_path)
    curated_entries(repository, faq_dir)
    with pytest.raises(FaqSourceError, match="unknown format"):
        export(repository, tmp_path, fmt="xml")

"""FAISS index: build, load, staleness, rebuild only when the sources change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpdesk.knowledge.index import (
    ENTRIES_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    IndexMissingError,
    IndexStaleError,
    check_index,
    load_index,
)
from helpdesk.knowledge.index_build import build_index, ensure_index


def test_build_writes_index_mapping_and_manifest(tmp_path, entries, fake_embedder) -> None:
    out = tmp_path / "idx"
    index = build_index(entries, fake_embedder, out)

    assert {p.name for p in out.iterdir()} == {INDEX_FILE, ENTRIES_FILE, MANIFEST_FILE}
    # One vector per question and per alternative (as asked), and three per entry (the
    # question with the answer's start, and with its category), each mapped to its entry.
    questions = sum(len(e.questions) for e in entries)
    assert index.faiss_index.ntotal == questions + 3 * len(entries) == 23
    assert [index.entries[i].id for i in index.row_entry[:6]] == ["sakti-reset-password"] * 6
    assert index.row_kind[:6] == ["question"] * 3 + [
        "question_answer",
        "entry",
        "category_question",
    ]
    assert index.row_text[0] == "bagaimana cara reset password sakti"
    assert index.row_text[3].endswith("Hubungi admin satker untuk reset password SAKTI.")
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["embedder"] == "fake-4d" and manifest["entries"] == 5
    assert len(manifest["source_hash"]) == 64
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_load_round_trips_and_search_drops_faiss_padding(tmp_path, entries, fake_embedder):
    build_index(entries, fake_embedder, tmp_path / "idx")
    index = load_index(tmp_path / "idx", fake_embedder)

    assert [e.id for e in index.entries] == [e.id for e in entries]
    assert index.get("sp2d-pengertian").answer.startswith("SP2D adalah")
    hits = index.search(fake_embedder.embed_queries(["sp2d"]), k=50)[0]
    assert len(hits) == 23  # k larger than the index: no -1 rows come back
    assert all(row >= 0 for row, _ in hits)
    assert index.entries[index.row_entry[hits[0][0]]].id == "sp2d-pengertian"
    assert np.isclose(hits[0][1], 1.0, atol=1e-3)


def test_load_fails_loudly_when_missing(tmp_path, fake_embedder) -> None:
    with pytest.raises(IndexMissingError, match="helpdesk kb build"):
        load_index(tmp_path / "nothing", fake_embedder)


def test_load_fails_when_a_file_is_missing(tmp_path, entries, fake_embedder) -> None:
    build_index(entries, fake_embedder, tmp_path / "idx")
    (tmp_path / "idx" / ENTRIES_FILE).unlink()
    with pytest.raises(IndexMissingError, match=ENTRIES_FILE):
        load_index(tmp_path / "idx", fake_embedder)


def test_load_with_another_embedder_is_stale(tmp_path, entries, fake_embedder) -> None:
    build_index(entries, fake_embedder, tmp_path / "idx")

    class Other(type(fake_embedder)):
        name = "other-model"

    with pytest.raises(IndexStaleError, match="other-model"):
        load_index(tmp_path / "idx", Other())


def test_load_with_other_sources_is_stale(tmp_path, entries, fake_embedder) -> None:
    build_index(entries, fake_embedder, tmp_path / "idx")
    with pytest.raises(IndexStaleError, match="sources changed"):
        load_index(tmp_path / "idx", fake_embedder, expected_hash="0" * 64)


def test_corrupt_mapping_is_stale(tmp_path, entries, fake_embedder) -> None:
    build_index(entries, fake_embedder, tmp_path / "idx")
    (tmp_path / "idx" / ENTRIES_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexStaleError, match="corrupt"):
        load_index(tmp_path / "idx", fake_embedder)


def test_ensure_index_rebuilds_only_when_sources_change(tmp_path, faq_dir, fake_embedder):
    out = tmp_path / "idx"
    _, rebuilt = ensure_index(faq_dir, out, fake_embedder)
    assert rebuilt is True
    calls = len(fake_embedder.calls)

    index, rebuilt = ensure_index(faq_dir, out, fake_embedder)
    assert rebuilt is False
    assert len(fake_embedder.calls) == calls  # nothing embedded again
    assert len(index.entries) == 3

    # A comment does not change the content: still no rebuild.
    path = faq_dir / "b.yaml"
    path.write_text("# comment\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert ensure_index(faq_dir, out, fake_embedder)[1] is False

    path.write_text(
        path.read_text(encoding="utf-8").replace("registrar resmi", "registrar"), "utf-8"
    )
    index, rebuilt = ensure_index(faq_dir, out, fake_embedder)
    assert rebuilt is True
    assert index.get("domain-daftar").answer == "Daftar melalui registrar PANDI."


def test_build_without_entries_is_an_error(tmp_path: Path, fake_embedder) -> None:
    with pytest.raises(ValueError, match="without FAQ entries"):
        build_index([], fake_embedder, tmp_path / "idx")


def test_check_index_says_whether_the_index_fits_the_sources(tmp_path, faq_dir, fake_embedder):
    """The health check's view of the index: built for the current sources, without loading
    the embedder or FAISS."""
    out = tmp_path / "idx"
    with pytest.raises(IndexMissingError):
        check_index(faq_dir, out)
    ensure_index(faq_dir, out, fake_embedder)
    manifest = check_index(faq_dir, out)
    assert manifest["entries"] == 3 and manifest["embedder"] == fake_embedder.name

    path = faq_dir / "b.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("registrar resmi", "registrar"))
    with pytest.raises(IndexStaleError, match="sources changed"):
        check_index(faq_dir, out)
    ensure_index(faq_dir, out, fake_embedder)
    assert check_index(faq_dir, out)["entries"] == 3

    manifest_path = out / MANIFEST_FILE
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**data, "format_version": -1}), encoding="utf-8")
    with pytest.raises(IndexStaleError, match="format"):
        check_index(faq_dir, out)

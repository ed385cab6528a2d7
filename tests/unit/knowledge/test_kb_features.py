"""What the ranking uses of an entry: answer passages, row kinds, lexical signals, features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpdesk.knowledge.evaluation import EvalQuery
from helpdesk.knowledge.index import (
    ENTRIES_FILE,
    IndexStaleError,
    answer_passages,
    load_index,
    rows_for,
)
from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.lexical import CharNgramScorer, LexicalScorer, stem
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.normalize import content_tokens
from helpdesk.knowledge.retriever import FEATURES, Retriever, ScoringModel
from helpdesk.knowledge.suite import EvalSet, without_alternatives


def test_answer_passages_cut_on_sentence_boundaries() -> None:
    sentence = "Kata " * 25 + "akhir."
    passages = answer_passages(f"{sentence} {sentence}\n{sentence}", max_words=60)

    assert passages == [f"{sentence} {sentence}", sentence]
    assert answer_passages("Satu kalimat saja") == ["Satu kalimat saja"]
    assert answer_passages("") == [""]


def test_rows_of_an_entry_cover_questions_answer_and_category() -> None:
    entry = FaqEntry(
        "a", "SAKTI", "Cara reset PW SAKTI?", "Hubungi admin. Lalu tunggu.", ("lupa pw",)
    )
    rows = rows_for([entry])

    assert [(r.kind, r.text) for r in rows] == [
        ("question", "cara reset password sakti"),
        ("question", "lupa password"),
        ("question_answer", "Cara reset PW SAKTI? Hubungi admin. Lalu tunggu."),
        ("entry", "SAKTI: Cara reset PW SAKTI? Hubungi admin. Lalu tunggu."),
        ("category_question", "SAKTI: Cara reset PW SAKTI?"),
    ]
    assert {r.entry for r in rows} == {0}


def test_answer_words_count_only_when_asked_for() -> None:
    entries = [
        FaqEntry("kms", "Stunting", "Apa itu KMS?", "Kartu Menuju Sehat untuk memantau balita."),
        FaqEntry("gizi", "Stunting", "Gizi ibu hamil", "Makan protein dan zat besi."),
    ]
    plain, _ = LexicalScorer(entries).score("kartu pantau balita")
    with_answers, _ = LexicalScorer(entries, with_answers=True).score("kartu pantau balita")

    assert plain.tolist() == [0.0, 0.0]
    assert with_answers[0] > 0.5 and with_answers[1] == 0.0


def test_char_ngrams_survive_typos_and_run_together_words() -> None:
    entries = [
        FaqEntry("token", "Listrik", "Cara membeli token listrik", "Lewat PLN Mobile."),
        FaqEntry("meter", "Listrik", "Meteran listrik rusak", "Lapor ke 123."),
    ]
    scorer = CharNgramScorer(entries, ["Lewat PLN Mobile.", "Lapor ke 123."])

    typo = scorer.score("beli tokenlistrik")
    assert typo.shape == (2,) and typo[0] > typo[1] > 0.0
    assert np.all(scorer.score("zzzz") == 0.0)


def test_scoring_model_rejects_unknown_features() -> None:
    with pytest.raises(ValueError, match="unknown score features"):
        ScoringModel(weights={"dense": 1.0}, bias=0.0, threshold=0.5)


def test_features_name_every_feature_for_every_entry(entries, fake_embedder) -> None:
    retriever = Retriever(build_index(entries, fake_embedder, None), fake_embedder)
    features = retriever.features("reset password sakti")

    assert set(features) == set(FEATURES)
    assert all(values.shape == (len(entries),) for values in features.values())
    assert all(np.all((v >= -1.0) & (v <= 1.0 + 1e-6)) for v in features.values())


def test_an_entry_found_by_its_answer_alone(fake_embedder) -> None:
    # One terse question per entry, as most knowledge bases are: the query's words are only
    # in the answer, and the answer-aware features rank the entry first.
    entries = [
        FaqEntry("pbg", "Izin", "Apa itu dokumen A?", "Izin membangun rumah."),
        FaqEntry("spm", "Keuangan", "Apa itu dokumen B?", "Perintah membayar tagihan."),
    ]
    scoring = ScoringModel(
        weights={"question_answer": 3.0, "answer_coverage": 3.0}, bias=-3.0, threshold=0.5
    )
    retriever = Retriever(build_index(entries, fake_embedder, None), fake_embedder, scoring=scoring)

    assert retriever.search("izin membangun rumah", k=1)[0].entry.id == "pbg"
    only_questions = ScoringModel(weights={"question": 3.0}, bias=-3.0, threshold=0.5)
    plain = Retriever(retriever.index, fake_embedder, scoring=only_questions)
    top = plain.search("izin membangun rumah", k=2)
    assert top[0].score == pytest.approx(top[1].score)  # the questions alone cannot tell


def test_an_index_with_unknown_row_kinds_is_stale(tmp_path, entries, fake_embedder) -> None:
    build_index(entries, fake_embedder, tmp_path / "idx")
    path = tmp_path / "idx" / ENTRIES_FILE
    mapping = json.loads(path.read_text())
    mapping["rows"][0]["kind"] = "mystery"
    path.write_text(json.dumps(mapping))

    with pytest.raises(IndexStaleError, match="row kinds"):
        load_index(tmp_path / "idx", fake_embedder)


def test_without_alternatives_moves_them_to_the_queries() -> None:
    item = EvalSet(
        "x",
        [FaqEntry("a", "C", "q a", "-", ("alt 1", "alt 2")), FaqEntry("b", "C", "q b", "-")],
        [EvalQuery("tanya a", "a"), EvalQuery("resep", None)],
    )
    shaped = without_alternatives(item)

    assert shaped.name == "x-1q"
    assert [e.alternatives for e in shaped.entries] == [(), ()]
    assert shaped.queries == [
        EvalQuery("tanya a", "a"),
        EvalQuery("resep", None),
        EvalQuery("alt 1", "a"),
        EvalQuery("alt 2", "a"),
    ]


def test_near_duplicates_are_listed_and_offered_as_related(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None)
    pairs = {(a, b) for a, b, _ in index.manifest["near_duplicates"]}

    # The two password entries differ only in the system's name: the fake embedder (topic
    # counts) cannot tell them apart.
    assert ("sakti-reset-password", "digit-reset-password") in pairs
    assert not any("sp2d-pengertian" in pair for pair in pairs)
    strict = ScoringModel(
        weights={"question": 5.0, "query_coverage": 4.0},
        bias=-6.0,
        threshold=0.3,
        related_margin=0.0,  # nothing scores "close": only a near-duplicate is related
    )
    answer = Retriever(index, fake_embedder, scoring=strict).answer("lupa password sakti")
    assert answer.best.entry.id == "sakti-reset-password"
    assert [m.entry.id for m in answer.related] == ["digit-reset-password"]


@pytest.mark.parametrize("query", ["reset password sakti", "domain co.id", "rumah mbr", "xyz"])
def test_scoring_a_subset_gives_the_same_values_as_scoring_all(entries, query) -> None:
    subset = [4, 0, 2]
    for scorer in (LexicalScorer(entries), LexicalScorer(entries, with_answers=True)):
        qcov, dcov = scorer.score(query)
        part_q, part_d = scorer.score(query, subset)
        assert part_q == pytest.approx([qcov[i] for i in subset])
        assert part_d == pytest.approx([dcov[i] for i in subset])
    chars = CharNgramScorer(entries)
    assert chars.score(query, subset) == pytest.approx(chars.score(query)[subset])


def test_lexical_candidates_hold_the_rarest_words_first(entries) -> None:
    scorer = LexicalScorer(entries)

    assert scorer.candidates("password sakti", limit=1) == [0]  # "sakti": one entry only
    assert sorted(scorer.candidates("password sakti", limit=10)) == [0, 1]
    assert scorer.candidates("harga cabai pasar", limit=10) == []


def test_a_large_index_scores_only_candidates_and_ranks_alike(entries, fake_embedder) -> None:
    index = build_index(entries, fake_embedder, None)
    exact = Retriever(index, fake_embedder)
    few = Retriever(index, fake_embedder, exact_rows=0, candidate_rows=3, lexical_candidates=2)

    for query in ("lupa password sakti", "kepanjangan sp2d", "kriteria mbr rumah"):
        assert few.search(query, k=1)[0].entry.id == exact.search(query, k=1)[0].entry.id
    features = few.features("kepanjangan sp2d")
    assert all(values.shape == (len(entries),) for values in features.values())


def test_a_large_index_is_an_hnsw_graph_that_round_trips(
    tmp_path, entries, fake_embedder, monkeypatch
):
    from helpdesk.knowledge import index as index_module
    from helpdesk.knowledge import index_build

    monkeypatch.setattr(index_build, "EXACT_MAX_ROWS", 10)
    build_index(entries, fake_embedder, tmp_path / "idx")
    loaded = load_index(tmp_path / "idx", fake_embedder)

    assert type(loaded.faiss_index).__name__ == "IndexHNSWFlat"
    assert loaded.faiss_index.hnsw.efSearch == index_module.HNSW_EF_SEARCH
    hits = loaded.search(fake_embedder.embed_queries(["sp2d"]), k=3)[0]
    assert loaded.entries[loaded.row_entry[hits[0][0]]].id == "sp2d-pengertian"
    assert loaded.row_vectors().shape == (23, fake_embedder.dim)


def test_a_long_pasted_text_is_matched_on_its_opening(entries, fake_embedder) -> None:
    from helpdesk.knowledge.retriever import MAX_QUERY_CHARACTERS, clip_query

    complaint = "Apa itu SP2D? " + "Saya sudah menunggu lama sekali. " * 3000
    assert clip_query(complaint) == "Apa itu SP2D? Saya sudah menunggu lama sekali."
    story = " ".join(f"Kalimat nomor {i} dari keluhan saya." for i in range(200))
    clipped = clip_query(story)
    assert len(clipped) <= MAX_QUERY_CHARACTERS
    assert story.startswith(clipped) and story[len(clipped)].isspace()  # cut at a word
    assert clip_query("pendek") == "pendek"
    assert clip_query("x" * 2000) == "x" * MAX_QUERY_CHARACTERS

    retriever = Retriever(build_index(entries, fake_embedder, None), fake_embedder)
    fake_embedder.calls.clear()
    answer = retriever.answer(complaint)
    assert answer.best.entry.id == "sp2d-pengertian"
    assert answer.query == complaint  # the citizen's whole text is kept for the record
    assert max(len(text) for call in fake_embedder.calls for text in call) <= MAX_QUERY_CHARACTERS


def test_coverage_matches_a_direct_count() -> None:
    """The sparse-matrix coverage equals the definition computed word by word."""
    entries = [
        FaqEntry("a", "Pajak", "Cara lapor pajak tahunan", "Lapor lewat DJP Online."),
        FaqEntry("b", "Pajak", "Denda terlambat lapor pajak", "Denda Rp100.000.", ("telat lapor",)),
        FaqEntry("c", "Gaji", "Kapan gaji dibayar", "Gaji dibayar awal bulan."),
    ]
    scorer = LexicalScorer(entries)
    query = "denda telat lapor pajak tahunan"
    qcov, dcov = scorer.score(query)
    stems = scorer.query_stems(query)
    weights = [scorer.idf(s) for s in stems]
    for pos, entry in enumerate(entries):
        texts = [{stem(t) for t in content_tokens(q)} for q in entry.questions]
        texts.append({stem(t) for t in content_tokens(entry.category)})
        held = set().union(*texts)
        expected_q = sum(w for s, w in zip(stems, weights) if s in held) / sum(weights)
        expected_d = max(
            sum(scorer.idf(s) for s in text if s in stems) / sum(scorer.idf(s) for s in text)
            for text in texts
            if text
        )
        assert qcov[pos] == pytest.approx(expected_q)
        assert dcov[pos] == pytest.approx(expected_d)
    assert dcov[1] == pytest.approx(1.0)  # "telat lapor" is wholly in the query

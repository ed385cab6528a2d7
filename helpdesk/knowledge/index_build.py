"""Building the FAQ index: embedding its rows (reusing the vectors of an index built before
for the rows whose text did not change), the FAISS index, the atomic write of the folder.

A knowledge manager's publication changes a few entries: `build_index(..., reuse=old)` embeds
only their rows, so the action servers rebuild in a moment and swap the retriever
(`helpdesk.services.Services.refresh_knowledge`). The folder's layout is `index`'s.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from helpdesk.knowledge.embedders import Embedder, l2_normalize
from helpdesk.knowledge.index import (
    ENTRIES_FILE,
    EXACT_MAX_ROWS,
    HNSW_EF_CONSTRUCTION,
    HNSW_NEIGHBOURS,
    INDEX_FILE,
    INDEX_FORMAT_VERSION,
    MANIFEST_FILE,
    PROGRESS_MIN_PASSAGES,
    IndexMissingError,
    IndexStaleError,
    KnowledgeIndex,
    _entries_of,
    _tune,
    load_index,
    source_hash,
)
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.rows import QUERY_KINDS, Row, near_duplicates, rows_for

#: Rows embedded per call of the embedder.
_BATCH = 64


def reusable_vectors(
    index: KnowledgeIndex | None, embedder: Embedder
) -> dict[tuple[bool, str], np.ndarray]:
    """The vectors of an index built before, by (embedded as a query, text); none when it was
    built with another embedder."""
    if index is None or index.manifest.get("embedder") != embedder.name:
        return {}
    vectors = index.row_vectors()
    return {
        (kind in QUERY_KINDS, text): vectors[i]
        for i, (kind, text) in enumerate(zip(index.row_kind, index.row_text, strict=True))
    }


def _embed_rows(
    embedder: Embedder,
    rows: Sequence[Row],
    progress: bool,
    known: dict[tuple[bool, str], np.ndarray] | None = None,
) -> np.ndarray:
    """The L2-normalised vector of every row, queries and passages batched apart; rows in
    `known` (by query-or-passage and text) are not embedded again."""
    vectors = np.zeros((len(rows), embedder.dim), dtype=np.float32)
    if not rows:
        return vectors
    known = known or {}
    todo: list[int] = []
    for i, row in enumerate(rows):
        found = known.get((row.kind in QUERY_KINDS, row.text))
        if found is None:
            todo.append(i)
        else:
            vectors[i] = found
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="Embedding FAQ", unit="teks", file=sys.stderr)
        except ImportError:  # pragma: no cover - tqdm comes with rasa
            bar = None
    for as_query in (True, False):
        picked = [i for i in todo if (rows[i].kind in QUERY_KINDS) == as_query]
        embed = embedder.embed_queries if as_query else embedder.embed_passages
        for start in range(0, len(picked), _BATCH):
            batch = picked[start : start + _BATCH]
            got = np.asarray(embed([rows[i].text for i in batch]), dtype=np.float32)
            if got.shape != (len(batch), embedder.dim):
                raise ValueError(
                    f"embedder {embedder.name} returned shape {got.shape}, "
                    f"expected {(len(batch), embedder.dim)}"
                )
            vectors[batch] = got
            if bar is not None:
                bar.update(len(batch))
    if bar is not None:
        bar.close()
    return l2_normalize(vectors)


def make_faiss(vectors: np.ndarray, *, exact: bool = False) -> object:
    """The FAISS index for `vectors`: exact (flat) up to `EXACT_MAX_ROWS` rows, else HNSW.

    A flat index compares the query with every row: exact, and fast enough below ~50k rows on
    two cores. Above that, an HNSW graph (approximate; `HNSW_EF_SEARCH` candidates explored
    per query) keeps a query's search in a few milliseconds.
    """
    import faiss

    dim = int(vectors.shape[1])
    if exact or len(vectors) <= EXACT_MAX_ROWS:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if len(vectors):
        index.add(vectors)
    _tune(index)
    return index


def build_index(
    entries: Sequence[FaqEntry],
    embedder: Embedder,
    out_dir: Path | None,
    *,
    progress: bool | None = None,
    calibrate: bool = False,
    labelled: Sequence[Any] | None = None,
    reuse: KnowledgeIndex | None = None,
) -> KnowledgeIndex:
    """Embed the entries and write the index folder atomically.

    Args:
        entries: FAQ entries (ids must be unique).
        embedder: The passage embedder.
        out_dir: Folder to write; None keeps the index in memory only.
        progress: Show a progress bar; by default when there are many passages.
        calibrate: Fit the decline threshold on the knowledge base (`calibration.calibrate`)
            and keep it in the manifest, where the retriever finds it.
        labelled: Labelled queries (`EvalQuery`) to calibrate on instead of probes.
        reuse: An index built before with the same embedder: the rows whose text it has are
            not embedded again (a publication changes a few entries).

    Returns:
        The built index.
    """
    entries = list(entries)
    if not entries:
        raise ValueError("cannot build an index without FAQ entries")
    rows = rows_for(entries)
    if progress is None:
        progress = len(rows) >= PROGRESS_MIN_PASSAGES
    vectors = _embed_rows(embedder, rows, progress, reusable_vectors(reuse, embedder))
    faiss_index = make_faiss(vectors)
    manifest = {
        "format_version": INDEX_FORMAT_VERSION,
        "embedder": embedder.name,
        "dim": int(embedder.dim),
        "source_hash": source_hash(entries, embedder.name),
        "entries": len(entries),
        "vectors": len(rows),
        "near_duplicates": near_duplicates(
            entries, [row.entry for row in rows], [row.kind for row in rows], vectors
        ),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    index = KnowledgeIndex.from_rows(
        entries, rows, faiss_index, manifest, Path(out_dir) if out_dir is not None else None
    )
    if calibrate:
        from helpdesk.knowledge.calibration import calibrate as fit_threshold

        manifest["calibration"] = fit_threshold(index, embedder, labelled=labelled).as_dict()
    if out_dir is not None:
        _write_atomically(index, Path(out_dir))
    return index


def _write_atomically(index: KnowledgeIndex, out_dir: Path) -> None:
    import faiss

    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=str(out_dir.parent)))
    try:
        faiss.write_index(index.faiss_index, str(tmp / INDEX_FILE))
        mapping = {
            "entries": [e.to_dict() for e in index.entries],
            "rows": [
                {"entry": owner, "kind": kind, "text": text}
                for owner, kind, text in zip(
                    index.row_entry, index.row_kind, index.row_text, strict=True
                )
            ],
        }
        (tmp / ENTRIES_FILE).write_text(
            json.dumps(mapping, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        # The manifest is written last: a folder without it is never taken as an index.
        (tmp / MANIFEST_FILE).write_text(json.dumps(index.manifest, indent=2), encoding="utf-8")
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_index(
    source: Path | Sequence[FaqEntry],
    out_dir: Path,
    embedder: Embedder,
    *,
    progress: bool | None = None,
    labelled: Sequence[Any] | None = None,
    reuse: KnowledgeIndex | None = None,
) -> tuple[KnowledgeIndex, bool]:
    """Load the index of `source`, rebuilding it only when the sources or embedder changed.

    Args:
        source: FAQ file or folder (validated with `load_faqs`), or the entries.
        out_dir: Index folder.
        embedder: The embedder.
        progress: Progress bar on rebuilds (see `build_index`).
        labelled: Labelled queries to calibrate the threshold on (default: probes).
        reuse: An index built before whose vectors a rebuild reuses (`build_index`).

    Returns:
        The index and whether it was rebuilt.

    Raises:
        FaqSourceError: When the sources are invalid (the old index is left untouched).
    """
    entries = _entries_of(source)
    wanted = source_hash(entries, embedder.name)
    try:
        return load_index(Path(out_dir), embedder, expected_hash=wanted), False
    except (IndexMissingError, IndexStaleError):
        index = build_index(
            entries,
            embedder,
            Path(out_dir),
            progress=progress,
            calibrate=True,
            labelled=labelled,
            reuse=reuse,
        )
        return index, True

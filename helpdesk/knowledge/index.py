"""FAISS index of FAQ entries, with the id mapping and a manifest beside it.

Every entry gives several vectors ("rows"), each of one kind (`ROW_KINDS`) and pointing to its
entry: how a citizen might ask it (each question and alternative, normalised, embedded as a
query), the question with the start of the answer (embedded as a passage: a knowledge base
with one formal question per entry still matches a query worded like its answer), and the entry
with its category. Files in the index folder:

- `index.faiss`   FAISS inner-product index over L2-normalised row vectors (inner product =
                  cosine): exact up to `EXACT_MAX_ROWS` rows, HNSW above
- `entries.json`  the FAQ entries and, for every row, its entry, kind and embedded text
- `manifest.json` hash of the sources + embedder name + code version, counts, build time

The folder is written atomically (temporary folder + rename), so a crashed build never leaves
a half-written index that loads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from helpdesk.knowledge.embedders import Embedder, l2_normalize
from helpdesk.knowledge.loader import load_faqs, source_files
from helpdesk.knowledge.models import FaqEntry
from helpdesk.knowledge.rows import (  # noqa: F401 - answer_passages, Row: part of this API
    QUERY_KINDS,
    ROW_KINDS,
    Row,
    answer_passages,
    near_duplicates,
    rows_for,
)

#: Bump when the index layout or what is embedded changes: older indexes become stale.
INDEX_FORMAT_VERSION = 4
INDEX_FILE = "index.faiss"
ENTRIES_FILE = "entries.json"
MANIFEST_FILE = "manifest.json"
#: Builds with more passages than this show a progress bar on stderr.
PROGRESS_MIN_PASSAGES = 200
#: Up to this many rows the FAISS index is exact (flat); above, an HNSW graph.
EXACT_MAX_ROWS = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


class IndexMissingError(FileNotFoundError):
    """The index folder or one of its files does not exist (run `helpdesk kb build`)."""


class IndexStaleError(RuntimeError):
    """The index was built from other sources, another embedder or an older code version."""


@dataclass
class KnowledgeIndex:
    """A loaded (or freshly built) FAQ index.

    Attributes:
        entries: The FAQ entries, in source order.
        faiss_index: The FAISS IndexFlatIP over passage vectors.
        row_entry: For every vector row, the position of its entry in `entries`.
        row_text: For every vector row, the text that was embedded.
        row_kind: For every vector row, its kind (`ROW_KINDS`).
        manifest: The manifest (hash, embedder, counts).
        path: Folder the index lives in (None for an in-memory index).
    """

    entries: list[FaqEntry]
    faiss_index: object
    row_entry: list[int]
    row_text: list[str]
    row_kind: list[str]
    manifest: dict
    path: Path | None = None
    _by_id: dict[str, FaqEntry] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {e.id: e for e in self.entries}

    @classmethod
    def from_rows(
        cls,
        entries: list[FaqEntry],
        rows: Sequence[Row],
        faiss_index: object,
        manifest: dict,
        path: Path | None = None,
    ) -> "KnowledgeIndex":
        """The index of `entries` whose FAISS index holds the vectors of `rows`, in order."""
        return cls(
            entries=entries,
            faiss_index=faiss_index,
            row_entry=[row.entry for row in rows],
            row_text=[row.text for row in rows],
            row_kind=[row.kind for row in rows],
            manifest=manifest,
            path=path,
        )

    @property
    def source_hash(self) -> str:
        """The hash the index was built for."""
        return str(self.manifest.get("source_hash", ""))

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entry_id: str) -> FaqEntry | None:
        """The entry with this id, or None."""
        return self._by_id.get(entry_id)

    def search(self, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Nearest rows for each query vector, as (row, cosine) pairs; FAISS -1 padding dropped."""
        out: list[list[tuple[int, float]]] = []
        for id_row, score_row in self._search(query_vectors, k):
            out.append(list(zip(id_row.tolist(), score_row.tolist(), strict=True)))
        return out

    def nearest(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest rows of one query vector: (rows, cosines) arrays, best first."""
        return self._search(query_vector.reshape(1, -1), k)[0]

    def _search(self, query_vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        queries = l2_normalize(query_vectors)
        k = max(1, min(int(k), len(self.row_entry)))
        scores, rows = self.faiss_index.search(queries, k)  # type: ignore[attr-defined]
        kept = rows >= 0
        return [
            (r[m].astype(np.int64), s[m].astype(np.float64))
            for r, s, m in zip(rows, scores, kept, strict=True)
        ]

    def row_vectors(self) -> np.ndarray:
        """All passage vectors, shape (rows, dim)."""
        index = self.faiss_index
        return index.reconstruct_n(0, index.ntotal)  # type: ignore[attr-defined]


def source_hash(entries: Iterable[FaqEntry], embedder_name: str) -> str:
    """SHA-256 over the entries' content, the embedder name and the index format version."""
    digest = hashlib.sha256()
    digest.update(f"format={INDEX_FORMAT_VERSION}\nembedder={embedder_name}\n".encode())
    for entry in entries:
        payload = {k: v for k, v in entry.to_dict().items() if k != "file"}
        digest.update(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _tune(index: object) -> None:
    """Search settings that FAISS does not keep in the index file."""
    hnsw = getattr(index, "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = HNSW_EF_SEARCH


def read_manifest(out_dir: Path) -> dict | None:
    """The manifest of an index folder, or None when there is none (or it is unreadable)."""
    path = Path(out_dir) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def index_fingerprint(source: Path | None, out_dir: Path) -> tuple:
    """What `check_index`'s answer depends on, cheaply: the size and modification time of the
    manifest and of every FAQ source file (none when the entries come from the database; the
    caller adds its revision). Health checks reuse their last answer while it is the same.

    Raises:
        FaqSourceError: When `source` holds no FAQ file.
    """
    sources = source_files(Path(source)) if source is not None else []
    paths = [Path(out_dir) / MANIFEST_FILE, *sources]
    stats: list[tuple[str, int | None, int | None]] = []
    for path in paths:
        try:
            found = path.stat()
        except OSError:
            stats.append((str(path), None, None))
        else:
            stats.append((str(path), found.st_mtime_ns, found.st_size))
    return tuple(stats)


def _entries_of(source: Path | Sequence[FaqEntry]) -> Sequence[FaqEntry]:
    """The entries of a FAQ file or folder (validated), or the entries given."""
    if isinstance(source, (str, Path)):
        return load_faqs(Path(source))
    return source


def check_index(source: Path | Sequence[FaqEntry], out_dir: Path) -> dict:
    """Check, without loading it, that the index in `out_dir` is built for the FAQ sources in
    `source` in this code's format (health checks: `ensure_index` would otherwise rebuild it
    at the first question). The embedder is not loaded: the manifest's embedder name goes into
    the hash, so an index built with another embedder than the configured one passes here and
    is rebuilt by `ensure_index`.

    Returns:
        The index's manifest.

    Raises:
        IndexMissingError: The folder or one of its files is missing.
        IndexStaleError: Another format version, or built for other sources.
        FaqSourceError: When the sources are invalid.
    """
    out_dir = Path(out_dir)
    for name in (MANIFEST_FILE, INDEX_FILE, ENTRIES_FILE):
        if not (out_dir / name).is_file():
            raise IndexMissingError(f"FAQ index not found: {out_dir / name} is missing")
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexStaleError(f"{out_dir}: unreadable manifest or another index format")
    wanted = source_hash(_entries_of(source), str(manifest.get("embedder")))
    if manifest.get("source_hash") != wanted:
        raise IndexStaleError(f"{out_dir}: the FAQ sources changed since the index was built")
    return manifest


def load_index(
    out_dir: Path, embedder: Embedder, *, expected_hash: str | None = None
) -> KnowledgeIndex:
    """Load an index folder, failing loudly when it is missing or stale.

    Args:
        out_dir: The index folder written by `build_index`.
        embedder: The embedder queries will use; must be the one the index was built with.
        expected_hash: When given, the source hash the index must have been built for.

    Raises:
        IndexMissingError: The folder or one of its files is missing.
        IndexStaleError: Built with another embedder, format version or sources, or corrupt.
    """
    import faiss

    out_dir = Path(out_dir)
    for name in (MANIFEST_FILE, INDEX_FILE, ENTRIES_FILE):
        if not (out_dir / name).is_file():
            raise IndexMissingError(
                f"FAQ index not found: {out_dir / name} is missing (run `helpdesk kb build`)"
            )
    manifest = read_manifest(out_dir)
    if manifest is None:
        raise IndexStaleError(f"{out_dir / MANIFEST_FILE} is unreadable: rebuild the index")
    if manifest.get("format_version") != INDEX_FORMAT_VERSION:
        raise IndexStaleError(
            f"{out_dir}: index format {manifest.get('format_version')!r}, this code needs "
            f"{INDEX_FORMAT_VERSION}: rebuild it with `helpdesk kb build`"
        )
    if manifest.get("embedder") != embedder.name:
        raise IndexStaleError(
            f"{out_dir}: built with embedder {manifest.get('embedder')!r}, "
            f"not {embedder.name!r}: rebuild it with `helpdesk kb build`"
        )
    if expected_hash is not None and manifest.get("source_hash") != expected_hash:
        raise IndexStaleError(
            f"{out_dir}: the FAQ sources changed since the index was built: "
            "rebuild it with `helpdesk kb build`"
        )
    try:
        mapping = json.loads((out_dir / ENTRIES_FILE).read_text(encoding="utf-8"))
        entries = [FaqEntry.from_dict(d) for d in mapping["entries"]]
        rows = mapping["rows"]
        row_entry = [int(r["entry"]) for r in rows]
        row_text = [str(r["text"]) for r in rows]
        row_kind = [str(r["kind"]) for r in rows]
        faiss_index = faiss.read_index(str(out_dir / INDEX_FILE))
        _tune(faiss_index)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexStaleError(f"{out_dir}: index files are corrupt ({exc}): rebuild it") from exc
    if faiss_index.ntotal != len(row_entry) or faiss_index.d != embedder.dim:
        raise IndexStaleError(
            f"{out_dir}: index holds {faiss_index.ntotal} vectors of dimension {faiss_index.d}, "
            f"expected {len(row_entry)} of dimension {embedder.dim}: rebuild it"
        )
    if any(not 0 <= r < len(entries) for r in row_entry):
        raise IndexStaleError(f"{out_dir}: id mapping points outside the entries: rebuild it")
    if any(kind not in ROW_KINDS for kind in row_kind):
        raise IndexStaleError(f"{out_dir}: unknown row kinds in the mapping: rebuild it")
    return KnowledgeIndex(
        entries=entries,
        faiss_index=faiss_index,
        row_entry=row_entry,
        row_text=row_text,
        row_kind=row_kind,
        manifest=manifest,
        path=out_dir,
    )

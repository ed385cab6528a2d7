"""Knowledge-base query speed at scale: synthetic knowledge bases of 1k and 100k entries.

Part of `make bench` (`scripts/bench.py` calls `run`); alone:

    .venv/bin/python scripts/kb_bench.py [--sizes 1000 100000] [--queries 300]

Entries are made from our own knowledge base (`knowledge_base/faq`), entry i being entry
i mod 98 with a numbered category and a distinguishing word in its question and answer, so
the texts have real lengths and words. A knowledge base this large has one question per entry
(its alternatives are left out).

* Up to `EMBED_MAX` entries the index is built for real (`build_index`, calibration included,
  with its progress bar) and kept in var/bench/kb-<size>/ for the next run.
* Above that, embedding every row with e5-small on two cores takes hours, so the rows' vectors
  are those of the base entry's rows plus a little noise (re-normalised), and the build time
  printed is that of the FAISS index and the lexical scorers; the embedding time is given as an
  extrapolation from the measured rate of the real build.

Queries are the evaluation set's questions (real embedding per query), timed through
`Retriever.answer`, after a warm-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Up to this many entries the index is embedded for real.
EMBED_MAX = 5000
OUT = ROOT / "var" / "bench"
_WORDS = [
    "anggaran",
    "belanja",
    "daerah",
    "desa",
    "kota",
    "kabupaten",
    "provinsi",
    "pusat",
    "unit",
    "kerja",
    "satuan",
    "layanan",
    "publik",
    "warga",
    "pegawai",
    "kantor",
    "wilayah",
    "sekolah",
    "rumah",
    "sakit",
    "puskesmas",
    "pasar",
    "terminal",
    "pelabuhan",
]


def synthetic_entries(size: int) -> list:
    """`size` entries made from our knowledge base (see the module docstring)."""
    from helpdesk.knowledge.loader import load_faqs

    pool = load_faqs(ROOT / "knowledge_base" / "faq")
    entries = []
    for i in range(size):
        base = pool[i % len(pool)]
        round_, word = divmod(i, len(pool))
        tag = f"{_WORDS[round_ % len(_WORDS)]} {round_}"
        entries.append(
            dataclasses.replace(
                base,
                id=f"{base.id}-{i}",
                category=f"{base.category} {round_}",
                question=f"{base.question} ({tag})",
                answer=f"{base.answer} ({tag})",
                alternatives=(),
                file=None,
            )
        )
    return entries


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def _queries(limit: int) -> list[str]:
    from helpdesk.knowledge.evaluation import load_queries

    path = ROOT / "knowledge_base" / "eval" / "queries.jsonl"
    return [q.query for q in load_queries(path)][:limit]


def _derived_index(entries, base_index, embedder):
    """An index of `entries` whose vectors are the base entries' plus noise (no embedding)."""
    from helpdesk.knowledge.index import KnowledgeIndex, rows_for
    from helpdesk.knowledge.index_build import make_faiss

    base_rows = {}
    vectors = base_index.row_vectors()
    for row, (pos, kind) in enumerate(zip(base_index.row_entry, base_index.row_kind, strict=True)):
        base_rows.setdefault((pos % len(base_index.entries), kind), row)
    rows = rows_for(entries)
    rng = np.random.default_rng(13)
    picked = np.asarray(
        [base_rows[(row.entry % len(base_index.entries), row.kind)] for row in rows]
    )
    derived = vectors[picked] + rng.normal(0.0, 0.02, size=(len(rows), vectors.shape[1]))
    derived /= np.linalg.norm(derived, axis=1, keepdims=True)
    faiss_index = make_faiss(np.ascontiguousarray(derived, dtype=np.float32))
    manifest = dict(base_index.manifest, entries=len(entries), vectors=len(rows))
    manifest["near_duplicates"] = []
    return KnowledgeIndex.from_rows(entries, rows, faiss_index, manifest)


def bench_size(size: int, embedder, queries: list[str], rate: dict) -> dict:
    """Build (or load) a synthetic index of `size` entries and time queries against it."""
    from helpdesk.knowledge.index import load_index, source_hash
    from helpdesk.knowledge.index_build import build_index
    from helpdesk.knowledge.retriever import Retriever

    entries = synthetic_entries(size)
    real = size <= EMBED_MAX
    started = time.perf_counter()
    if real:
        folder = OUT / f"kb-{size}"
        try:
            index = load_index(folder, embedder, expected_hash=source_hash(entries, embedder.name))
            built = "loaded from " + str(folder.relative_to(ROOT))
        except (FileNotFoundError, RuntimeError):
            index = build_index(entries, embedder, folder, progress=True, calibrate=True)
            seconds = time.perf_counter() - started
            rate["rows_per_s"] = len(index.row_entry) / seconds
            built = f"built in {seconds:.0f} s ({len(index.row_entry)} rows embedded)"
        rate.setdefault("base", index)
    else:
        base = rate.get("base") or build_index(synthetic_entries(98), embedder, None)
        index = _derived_index(entries, base, embedder)
        seconds = time.perf_counter() - started
        extra = ""
        if rate.get("rows_per_s"):
            hours = len(index.row_entry) / rate["rows_per_s"] / 3600
            extra = f"; embedding its rows would take about {hours:.1f} h at the measured rate"
        built = f"FAISS {type(index.faiss_index).__name__} built in {seconds:.0f} s{extra}"
    started = time.perf_counter()
    retriever = Retriever(index, embedder)
    load_s = time.perf_counter() - started
    for query in queries[:10]:
        retriever.answer(query)
    timings = []
    for query in queries:
        t0 = time.perf_counter()
        retriever.answer(query)
        timings.append((time.perf_counter() - t0) * 1000)
    return {
        "entries": size,
        "rows": len(index.row_entry),
        "embedded": real,
        "index": built,
        "retriever_setup_s": round(load_s, 1),
        "queries": len(timings),
        "p50_ms": round(_percentile(timings, 50), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
    }


def run(sizes: list[int], limit: int = 300) -> list[dict]:
    """Every size, smallest first (the real build's rate serves the larger ones)."""
    from helpdesk.knowledge.embedders import make_embedder
    from helpdesk.settings import get_settings

    embedder = make_embedder(get_settings().embedder)
    queries = _queries(limit)
    rate: dict = {}
    rows = []
    for size in sorted(sizes):
        row = bench_size(size, embedder, queries, rate)
        print(
            f"KB query in process, {row['entries']} synthetic entries ({row['rows']} rows; "
            f"{row['index']}; retriever set up in {row['retriever_setup_s']} s): "
            f"{row['queries']} queries, p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms",
            flush=True,
        )
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    if any(size <= 0 for size in args.sizes):
        parser.error("sizes must be positive")
    run(args.sizes, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())

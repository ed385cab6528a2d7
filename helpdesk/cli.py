"""The `helpdesk` command.

    helpdesk kb build [--source DIR] [--out DIR]
    helpdesk kb search "text" [-k 5]
    helpdesk kb eval --source PATH --queries FILE.jsonl [--baselines]
    helpdesk kb import PATH [--draft] [--retire-missing]
    helpdesk kb export --out DIR [--format yaml|csv]
    helpdesk kb convert FILE.csv [--out FILE.yml]

The other command groups (`report`, `backend`, `sweeper`, `desk`) live with their domain; each
module has a function that adds its sub-parser and sets `func` on it, listed explicitly in
`command_groups`.
User errors print one clear line on stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

#: Exit status for user errors (bad input files, missing index, ...).
EXIT_USER_ERROR = 2


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


def _settings():
    from helpdesk.settings import get_settings

    return get_settings()


# -- kb build ---------------------------------------------------------------------------------
def _kb_entries(source: str | None) -> list:
    """The entries of FAQ files (`--source`), else the curated knowledge base (seeded from
    HELPDESK_KB_SOURCE when empty)."""
    if source:
        from helpdesk.knowledge.loader import load_faqs

        return load_faqs(Path(source))
    from helpdesk.services import get_services

    return get_services().knowledge_entries()


def _cmd_kb_build(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.embedders import make_embedder
    from helpdesk.knowledge.index_build import ensure_index

    settings = _settings()
    entries = _kb_entries(args.source)
    out = Path(args.out) if args.out else settings.kb_index_dir
    embedder = make_embedder(args.embedder or settings.embedder)
    labelled = None
    queries = Path(args.queries) if args.queries else settings.kb_calibration_queries
    if queries is not None:
        from helpdesk.knowledge.evaluation import load_queries

        labelled = load_queries(queries, known_ids={e.id for e in entries})
    if args.force:
        from helpdesk.knowledge.index_build import build_index

        index = build_index(entries, embedder, out, calibrate=True, labelled=labelled)
        rebuilt = True
    else:
        index, rebuilt = ensure_index(entries, out, embedder, labelled=labelled)
    state = "built" if rebuilt else "up to date, not rebuilt"
    print(
        f"FAQ index {state}: {len(index.entries)} entries, "
        f"{index.manifest.get('vectors')} vectors, embedder {embedder.name}, in {out}"
    )
    if index.manifest.get("calibration"):
        from helpdesk.knowledge.calibration import Calibration

        print(Calibration.from_dict(index.manifest["calibration"]).summary())
    twins = index.manifest.get("near_duplicates") or []
    if twins:
        print(
            f"{len(twins)} pair(s) of entries too close to tell apart; answering one offers the "
            "other as a related question (merge them or make their questions distinct):"
        )
        for first, second, cosine in twins[:10]:
            print(f"  {first} ~ {second} (cosine {cosine})")
    return 0


# -- kb search --------------------------------------------------------------------------------
def _cmd_kb_search(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.embedders import make_embedder
    from helpdesk.knowledge.retriever import Retriever, build_retriever

    if args.k <= 0:
        raise CliError("-k must be a positive number")
    settings = _settings()
    if args.source or args.index or args.embedder:
        from dataclasses import replace

        settings = replace(
            settings,
            kb_source=Path(args.source) if args.source else settings.kb_source,
            kb_index_dir=Path(args.index) if args.index else settings.kb_index_dir,
            embedder=args.embedder or settings.embedder,
        )
    retriever: Retriever = build_retriever(
        settings, embedder=make_embedder(settings.embedder), entries=_kb_entries(args.source)
    )
    answer = retriever.answer(args.text)
    matches = retriever.search(args.text, k=args.k) if answer.reason != "empty" else []
    if args.json:
        print(
            json.dumps(
                {
                    "query": args.text,
                    "reason": answer.reason,
                    "answered": answer.answered,
                    "threshold": retriever.threshold,
                    "best": answer.best.entry.id if answer.best else None,
                    "related": [m.entry.id for m in answer.related],
                    "matches": [
                        {"id": m.entry.id, "score": round(m.score, 4), "question": m.entry.question}
                        for m in matches
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    if answer.reason == "empty":
        print("No question words in the query: the assistant asks the user to write the question.")
        return 0
    for rank, m in enumerate(matches, start=1):
        print(f"{rank}. {m.score:.3f}  {m.entry.id}  {m.entry.question}")
    if answer.answered and answer.best is not None:
        verdict = f"answers with {answer.best.entry.id}"
        if answer.related:
            verdict += " (related: " + ", ".join(m.entry.id for m in answer.related) + ")"
    else:
        verdict = "declines (best score below the threshold)"
    print(f"Threshold {retriever.threshold:.3f}: the assistant {verdict}.")
    return 0


# -- kb eval ----------------------------------------------------------------------------------
def _cmd_kb_eval(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.embedders import make_embedder
    from helpdesk.knowledge.evaluation import baseline_factories, evaluate, load_queries
    from helpdesk.knowledge.index_build import build_index
    from helpdesk.knowledge.loader import load_faqs
    from helpdesk.knowledge.retriever import Retriever

    settings = _settings()
    entries = load_faqs(Path(args.source))
    queries = load_queries(Path(args.queries), known_ids={e.id for e in entries})
    embedder = make_embedder(args.embedder or settings.embedder)
    threshold = args.threshold if args.threshold is not None else settings.kb_threshold

    with tempfile.TemporaryDirectory(prefix="helpdesk-kb-eval-") as tmp:

        def factory(items):
            index = build_index(
                items, embedder, Path(tmp) / "index", progress=False, calibrate=True
            )
            return Retriever(index, embedder, threshold=threshold)

        result = evaluate(entries, queries, factory)
    result["embedder"] = embedder.name
    if args.baselines:
        result["baselines"] = {
            name: evaluate(entries, queries, make)
            for name, make in baseline_factories(embedder).items()
        }
    print(json.dumps(result, ensure_ascii=False))
    return 0


# -- kb suite ---------------------------------------------------------------------------------
def _cmd_kb_suite(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.embedders import make_embedder
    from helpdesk.knowledge.evaluation import DenseBaseline, TfidfCharBaseline
    from helpdesk.knowledge.index_build import build_index
    from helpdesk.knowledge.retriever import Retriever
    from helpdesk.knowledge.suite import (
        discover_sets,
        format_table,
        load_set,
        run_suite,
        with_foreign_queries,
        without_alternatives,
    )

    settings = _settings()
    embedder = make_embedder(args.embedder or settings.embedder)
    root = Path(args.sets) if args.sets else settings.eval_sets
    ours = load_set("ours", settings.kb_source, settings.kb_eval_queries)
    others = discover_sets(root)
    if not others:
        print(f"(no other organisations' sets in {root}; set HELPDESK_EVAL_SETS)", file=sys.stderr)
    tables = [with_foreign_queries([ours, *others])]
    if args.one_question:
        shaped = [
            without_alternatives(s)
            for s in (ours, *others)
            if any(e.alternatives for e in s.entries)
        ]
        tables.append(with_foreign_queries(shaped))

    with tempfile.TemporaryDirectory(prefix="helpdesk-kb-suite-") as tmp:

        def assistant(items):
            index = build_index(
                items, embedder, Path(tmp) / "index", progress=False, calibrate=True
            )
            return Retriever(index, embedder, threshold=settings.kb_threshold)

        systems = {
            "assistant": (assistant, True),
            "tfidf_char": (lambda items: TfidfCharBaseline(items), False),
            "e5_raw": (lambda items: DenseBaseline(items, embedder), False),
        }
        for number, sets in enumerate(tables):
            rows = run_suite(sets, systems)
            if args.json:
                for row in rows:
                    print(json.dumps(row.as_dict(), ensure_ascii=False))
                continue
            if number:
                print(
                    "\nThe same knowledge bases with one question per entry (alternatives "
                    "moved to the queries), as most real ones are:"
                )
            print(format_table(rows))
    return 0


# -- kb import / export / convert ------------------------------------------------------------
def _cmd_kb_import(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.curation import import_source
    from helpdesk.services import get_services

    outcome = import_source(
        get_services().knowledge_base,
        Path(args.path),
        author=args.author,
        publish=not args.draft,
        retire_missing=args.retire_missing,
    )
    state = "as drafts to review in the desk" if args.draft else "published"
    print(
        f"Imported {args.path} ({state}): {len(outcome.created)} new, "
        f"{len(outcome.changed)} changed, {len(outcome.unchanged)} unchanged, "
        f"{len(outcome.retired)} retired"
    )
    for label, slugs in (("new", outcome.created), ("changed", outcome.changed)):
        if slugs:
            print(f"  {label}: {', '.join(slugs[:20])}" + (" ..." if len(slugs) > 20 else ""))
    if outcome.retired:
        print(f"  retired: {', '.join(outcome.retired)}")
    return 0


def _cmd_kb_export(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.curation import export
    from helpdesk.services import get_services

    written = export(get_services().knowledge_base, Path(args.out), fmt=args.format)
    for path, count in written.items():
        print(f"Wrote {count} entries to {path}")
    return 0


def _cmd_kb_convert(args: argparse.Namespace) -> int:
    from helpdesk.knowledge.loader import import_csv

    csv_path = Path(args.csv)
    out = Path(args.out) if args.out else _settings().kb_source / f"{csv_path.stem}.yml"
    if out.exists() and not args.overwrite:
        raise CliError(f"{out} exists already; choose another --out or pass --overwrite")
    count = import_csv(csv_path, out)
    print(f"Converted {count} FAQ entries from {csv_path} into {out}")
    return 0


def add_kb_parser(subparsers: argparse._SubParsersAction) -> None:
    """The `kb` command group."""
    kb = subparsers.add_parser(
        "kb", help="knowledge base: build, search, eval, import, export, convert"
    )
    kb_sub = kb.add_subparsers(
        dest="kb_command", metavar="{build,search,eval,suite,import,export,convert}"
    )
    kb_sub.required = True

    build = kb_sub.add_parser("build", help="build the FAQ index (only if the sources changed)")
    build.add_argument(
        "--source",
        help="FAQ file or folder (default: the knowledge base in the database, seeded from "
        "HELPDESK_KB_SOURCE when empty)",
    )
    build.add_argument("--out", help="index folder (default: HELPDESK_KB_INDEX)")
    build.add_argument("--embedder", help="embedder spec (default: HELPDESK_EMBEDDER)")
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    build.add_argument(
        "--queries",
        help="labelled JSON-lines queries to fit the decline threshold on "
        "(default: HELPDESK_KB_CALIBRATION_QUERIES; none: probes made from the knowledge base)",
    )
    build.set_defaults(func=_cmd_kb_build)

    search = kb_sub.add_parser("search", help="show the best FAQ matches for a question")
    search.add_argument("text", help="the question, in quotes")
    search.add_argument("-k", type=int, default=5, help="how many matches (default 5)")
    search.add_argument(
        "--source", help="FAQ file or folder (default: the knowledge base in the database)"
    )
    search.add_argument("--index", help="index folder (default: HELPDESK_KB_INDEX)")
    search.add_argument("--embedder", help="embedder spec (default: HELPDESK_EMBEDDER)")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.set_defaults(func=_cmd_kb_search)

    ev = kb_sub.add_parser("eval", help="evaluate retrieval on a JSON-lines query file")
    ev.add_argument("--source", required=True, help="FAQ file or folder")
    ev.add_argument("--queries", required=True, help='JSON lines {"query", "expected_id"}')
    ev.add_argument("--baselines", action="store_true", help="also run the two baselines")
    ev.add_argument("--threshold", type=float, help="decline threshold (default: calibrated)")
    ev.add_argument("--embedder", help="embedder spec (default: HELPDESK_EMBEDDER)")
    ev.set_defaults(func=_cmd_kb_eval)

    suite = kb_sub.add_parser(
        "suite", help="retrieval on ours and other organisations' sets, against the baselines"
    )
    suite.add_argument(
        "--sets", help="folder of sets <name>/kb.yml + queries.jsonl (default: HELPDESK_EVAL_SETS)"
    )
    suite.add_argument("--embedder", help="embedder spec (default: HELPDESK_EMBEDDER)")
    suite.add_argument("--json", action="store_true", help="print the rows as JSON lines")
    suite.add_argument(
        "--one-question",
        action="store_true",
        help="also every set with one question per entry (its alternatives become queries)",
    )
    suite.set_defaults(func=_cmd_kb_suite)

    imp = kb_sub.add_parser(
        "import", help="bring FAQ files (YAML file or folder, or a CSV) into the knowledge base"
    )
    imp.add_argument("path", help="a YAML file or folder, or a CSV (as `kb export` writes)")
    imp.add_argument(
        "--draft", action="store_true", help="leave the changes as drafts to publish in the desk"
    )
    imp.add_argument(
        "--retire-missing", action="store_true", help="retire live entries the files do not have"
    )
    imp.add_argument("--author", default="import", help="who imports (shown in the history)")
    imp.set_defaults(func=_cmd_kb_import)

    exp = kb_sub.add_parser(
        "export", help="write the published knowledge base as YAML files (one per group) or CSV"
    )
    exp.add_argument("--out", required=True, help="a folder (YAML), or a CSV file or folder")
    exp.add_argument("--format", choices=("yaml", "csv"), default="yaml")
    exp.set_defaults(func=_cmd_kb_export)

    convert = kb_sub.add_parser("convert", help="convert a CSV of FAQs into a YAML source file")
    convert.add_argument(
        "csv", help="CSV with columns id, category, question, answer[, alternatives]"
    )
    convert.add_argument("--out", help="YAML file to write (default: <source folder>/<name>.yml)")
    convert.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    convert.set_defaults(func=_cmd_kb_convert)


def command_groups() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The functions that add each command group to the top-level sub-parsers (each sets
    `func(args) -> int` on its parsers): `kb`, `report`, `backend`, `sweeper`, `desk`, `audit`,
    `privacy`, `broadcast`."""
    from helpdesk.backends.cli import add_backend_parser
    from helpdesk.broadcasts.cli import add_broadcast_parser
    from helpdesk.desk.cli import add_desk_parser
    from helpdesk.jobs.sweeper import add_sweeper_parser
    from helpdesk.privacy.cli import add_privacy_parser
    from helpdesk.reports.cli import add_report_parser
    from helpdesk.security.audit_cli import add_audit_parser

    return [
        add_kb_parser,
        add_report_parser,
        add_backend_parser,
        add_sweeper_parser,
        add_desk_parser,
        add_audit_parser,
        add_privacy_parser,
        add_broadcast_parser,
    ]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `helpdesk` command."""
    parser = argparse.ArgumentParser(
        prog="helpdesk", description="Indonesian public-service helpdesk: operator commands."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in command_groups():
        add(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from helpdesk.knowledge.evaluation import EvalError
    from helpdesk.knowledge.index import IndexMissingError, IndexStaleError
    from helpdesk.knowledge.loader import FaqSourceError

    return (
        CliError,
        FaqSourceError,
        EvalError,
        IndexMissingError,
        IndexStaleError,
        FileNotFoundError,
        ImportError,
        ValueError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 user error).

    Identifiers are masked in every log record of the process (`helpdesk.security.logmask`): the
    desk, the sweeper and the simulator run as `helpdesk` subcommands.
    """
    from helpdesk.security import logmask

    logmask.install()
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse prints its own message; keep its status
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:
        print(f"helpdesk: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("helpdesk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Compare NLU pipelines in one run: Rasa's default config, config.yml, and variants of it.

Configs (`--configs`, see CONFIG_DESCRIPTIONS): default, ours (config.yml), diet-only
(config.yml without the blended classifier), e5 (diet-only with the e5 featurizer for DIET),
blend-char (the blended classifier without e5).

Datasets (`--datasets`):
  * xsid: xSID Indonesian (eval/xsid, shipped with the project): train on nlu_train.yml, test
    on nlu_test.yml. Another domain; it measures how well a pipeline handles Indonesian.
  * few-shot: `--shots` examples per intent of data/nlu for training, every other example for
    testing, over `--draws` draws (seeds seed, seed+1, ...), pooled: what a new organisation
    with a handful of examples per intent gets.
  * own: data/nlu, a fixed stratified 80/20 split (Rasa's per-intent
    `TrainingData.train_test_split`, seed 42) by default, or k-fold stratified
    cross-validation with `--folds K` (K >= 2; costs K trainings per config).

Figures per config and dataset: intent accuracy and macro-F1 (computed here with sklearn from
the predicted intents; `nlu_fallback` counts as a wrong prediction and macro-F1 averages over
the intents present in the test set), plus macro-F1 over all labels including
`nlu_fallback` (what `rasa test nlu` reports), the fallback rate and the training time.
Also parses a few out-of-scope strings with the own-data models and reports how many end in
`nlu_fallback`.

Usage:
    .venv/bin/python scripts/nlu_eval.py [--xsid DIR] [--data data/nlu] [--folds K]
        [--configs default diet-only ours] [--datasets xsid few-shot own]
        [--shots 3] [--draws 3] [--out results/nlu_eval.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # custom components (components.*) and helpdesk.*
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # Rasa: no per-epoch progress bars

import yaml  # noqa: E402

E5_COMPONENT = "components.e5_featurizer.E5Featurizer"
BLEND_COMPONENT = "components.intent_blend.BlendedIntentClassifier"
FALLBACK_INTENT = "nlu_fallback"
DEFAULT_CONFIG = REPO_ROOT / "eval" / "configs" / "default.yml"
OUR_CONFIG = REPO_ROOT / "config.yml"

#: Messages no helpdesk intent fits; a good pipeline sends them to nlu_fallback.
OUT_OF_SCOPE = [
    "asdfgh qwerty",
    "jdjdjdjd",
    "wkwkwkwk",
    "xyz 123 abc",
    "🤣🤣🤣",
    "lorem ipsum dolor sit amet",
    "kjh kjh kjh",
    "aaaaaa",
    "zzz",
    "qwe",
]

logger = logging.getLogger("nlu_eval")


@dataclass
class Result:
    """Figures of one config on one dataset."""

    config: str
    dataset: str
    n: int
    accuracy: float
    macro_f1: float
    macro_f1_all_labels: float
    fallback_rate: float
    train_seconds: float
    folds: int = 1
    out_of_scope_fallback_rate: float | None = None
    per_fold_accuracy: list[float] = field(default_factory=list)


def _load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _without(config: dict[str, Any], *names: str) -> dict[str, Any]:
    return {**config, "pipeline": [c for c in config["pipeline"] if c.get("name") not in names]}


def _with_e5(config: dict[str, Any]) -> dict[str, Any]:
    """The pipeline with the e5 featurizer placed after the last featurizer."""
    base = _without(config, E5_COMPONENT)["pipeline"]
    names = [c.get("name", "") for c in base]
    featurizer_positions = [i for i, n in enumerate(names) if "Featurizer" in n]
    insert_at = (featurizer_positions[-1] + 1) if featurizer_positions else 1
    pipeline = base[:insert_at] + [{"name": E5_COMPONENT}] + base[insert_at:]
    return {**config, "pipeline": pipeline}


def _with_blend(config: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The pipeline with the blended classifier (`options`) right after DIET."""
    base = _without(config, BLEND_COMPONENT)["pipeline"]
    names = [c.get("name", "") for c in base]
    at = names.index("DIETClassifier") + 1 if "DIETClassifier" in names else len(base)
    pipeline = base[:at] + [{"name": BLEND_COMPONENT, **options}] + base[at:]
    return {**config, "pipeline": pipeline}


#: What each config name means (also written to the JSON).
CONFIG_DESCRIPTIONS = {
    "default": "eval/configs/default.yml (Rasa 3.6 default pipeline)",
    "ours": "config.yml as it is",
    "diet-only": "config.yml without the blended classifier (DIET decides alone)",
    "e5": "config.yml without the blended classifier, with the e5 featurizer for DIET",
    "blend-char": "config.yml with the blended classifier on char n-grams only (no e5)",
}


def build_configs(names: Sequence[str], work: Path) -> dict[str, Path]:
    """Writes the configs to compare into `work` and returns their paths by name
    (`CONFIG_DESCRIPTIONS`)."""
    ours = _load_yaml(OUR_CONFIG)
    diet_only = _without(ours, BLEND_COMPONENT, E5_COMPONENT)
    variants = {
        "default": _load_yaml(DEFAULT_CONFIG),
        "ours": ours,
        "diet-only": diet_only,
        "e5": _with_e5(diet_only),
        "blend-char": _with_blend(ours, use_e5=False),
    }
    paths: dict[str, Path] = {}
    for name in names:
        config = dict(variants[name])
        config.pop("policies", None)
        config["policies"] = []
        path = work / f"config_{name}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        paths[name] = path
    return paths


def _examples(training_data: Any) -> list[tuple[str, str]]:
    return [
        (m.get("text"), m.get("intent"))
        for m in training_data.intent_examples
        if m.get("text") and m.get("intent")
    ]


_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def read_test_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa YAML NLU file, duplicates kept, entity markup removed.

    Rasa's loader drops duplicate examples, which is right for training but would shrink a
    published test set.
    """
    pairs = []
    for block in (_load_yaml(path) or {}).get("nlu") or []:
        if "intent" not in block:
            continue
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((_ANNOTATION.sub(r"\1", line[2:].strip()), block["intent"]))
    return pairs


def _train(config: Path, nlu: Path, out_dir: Path, name: str) -> tuple[str, float]:
    from rasa.model_training import train_nlu

    start = time.perf_counter()
    model = train_nlu(str(config), str(nlu), str(out_dir), fixed_model_name=name)
    if not model:
        raise RuntimeError(f"training {name} with {config} produced no model")
    return model, time.perf_counter() - start


def _predict(model_path: str, texts: Iterable[str]) -> list[str]:
    from rasa.core.agent import Agent

    async def run() -> list[str]:
        agent = Agent.load(model_path)
        intents = []
        for text in texts:
            parsed = await agent.parse_message(text)
            intents.append((parsed.get("intent") or {}).get("name") or FALLBACK_INTENT)
        return intents

    return asyncio.run(run())


def score(y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[float, float, float, float]:
    """Accuracy, macro-F1 over true labels, macro-F1 over all labels, fallback rate.

    Args:
        y_true: Expected intents.
        y_pred: Predicted intents (`nlu_fallback` allowed).

    Returns:
        The four figures, each between 0 and 1.
    """
    from sklearn.metrics import accuracy_score, f1_score

    labels = sorted(set(y_true))
    acc = float(accuracy_score(y_true, y_pred))
    macro = float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    macro_all = float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    fallback = sum(p == FALLBACK_INTENT for p in y_pred) / max(len(y_pred), 1)
    return acc, macro, macro_all, fallback


def _write_nlu(training_data: Any, path: Path) -> Path:
    path.write_text(training_data.nlu_as_yaml(), encoding="utf-8")
    return path


def _stratified_folds(examples: list[tuple[str, str]], k: int, seed: int) -> list[list[int]]:
    from sklearn.model_selection import StratifiedKFold

    labels = [intent for _, intent in examples]
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [list(test) for _, test in splitter.split([t for t, _ in examples], labels)]


def evaluate_xsid(configs: dict[str, Path], xsid: Path, work: Path) -> list[Result]:
    """Trains each config on xSID train and tests it on xSID test."""
    test = read_test_examples(xsid / "nlu_test.yml")
    results = []
    for name, config in configs.items():
        logger.info("xsid: training %s", name)
        model, seconds = _train(config, xsid / "nlu_train.yml", work, f"xsid_{name}")
        preds = _predict(model, [t for t, _ in test])
        acc, macro, macro_all, fb = score([i for _, i in test], preds)
        results.append(Result(name, "xsid", len(test), acc, macro, macro_all, fb, seconds))
        logger.info("xsid %s: acc %.3f macro-F1 %.3f (%.0fs)", name, acc, macro, seconds)
    return results


def few_shot_splits(
    examples: Sequence[tuple[str, str]], shots: int, draws: int, seed: int
) -> list[tuple[list[int], list[int]]]:
    """`draws` few-shot splits: `shots` training examples per intent, the rest for testing.

    Each draw picks its examples with its own seed (seed, seed + 1, ...); an intent with at
    most `shots` examples is left out of the test side of that draw.

    Returns:
        (train indices, test indices) per draw.
    """
    import random

    by_intent: dict[str, list[int]] = {}
    for i, (_, intent) in enumerate(examples):
        by_intent.setdefault(intent, []).append(i)
    splits = []
    for d in range(draws):
        rng = random.Random(seed + d)
        train: list[int] = []
        for intent in sorted(by_intent):
            indices = by_intent[intent]
            train += rng.sample(indices, min(shots, len(indices)))
        chosen = set(train)
        splits.append((sorted(train), [i for i in range(len(examples)) if i not in chosen]))
    return splits


def evaluate_own(
    configs: dict[str, Path],
    data: Path,
    work: Path,
    folds: int,
    seed: int,
    shots: int = 0,
    draws: int = 1,
) -> list[Result]:
    """Fixed stratified 80/20 split (folds <= 1) or stratified k-fold on our data."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    full = load_data(str(data))
    splits: list[tuple[Path, list[tuple[str, str]]]] = []
    messages = [m for m in full.intent_examples if m.get("text")]
    if shots > 0:
        examples = _examples(full)
        for d, (train_idx, test_idx) in enumerate(few_shot_splits(examples, shots, draws, seed)):
            train = TrainingData(
                training_examples=[messages[i] for i in train_idx],
                entity_synonyms=full.entity_synonyms,
                regex_features=full.regex_features,
                lookup_tables=full.lookup_tables,
            )
            path = _write_nlu(train, work / f"fewshot_train_{d}.yml")
            splits.append((path, [examples[i] for i in test_idx]))
    elif folds <= 1:
        train, test = full.train_test_split(train_frac=0.8, random_seed=seed)
        splits.append((_write_nlu(train, work / "own_train_0.yml"), _examples(test)))
    else:
        examples = _examples(full)
        for f, test_idx in enumerate(_stratified_folds(examples, folds, seed)):
            held = set(test_idx)
            train = TrainingData(
                training_examples=[m for i, m in enumerate(messages) if i not in held],
                entity_synonyms=full.entity_synonyms,
                regex_features=full.regex_features,
                lookup_tables=full.lookup_tables,
            )
            path = _write_nlu(train, work / f"own_train_{f}.yml")
            splits.append((path, [examples[i] for i in test_idx]))

    dataset = f"{shots}-shot" if shots > 0 else "own"
    results = []
    for name, config in configs.items():
        y_true: list[str] = []
        y_pred: list[str] = []
        per_fold: list[float] = []
        seconds = 0.0
        oos_fallback = 0
        for f, (train_path, test) in enumerate(splits):
            logger.info("%s: training %s (split %d/%d)", dataset, name, f + 1, len(splits))
            model, secs = _train(config, train_path, work, f"{dataset}_{name}_{f}")
            seconds += secs
            preds = _predict(model, [t for t, _ in test] + OUT_OF_SCOPE)
            preds, oos = preds[: len(test)], preds[len(test) :]
            oos_fallback += sum(p == FALLBACK_INTENT for p in oos)
            truth = [i for _, i in test]
            per_fold.append(score(truth, preds)[0])
            y_true += truth
            y_pred += preds
        acc, macro, macro_all, fb = score(y_true, y_pred)
        results.append(
            Result(
                name,
                dataset,
                len(y_true),
                acc,
                macro,
                macro_all,
                fb,
                seconds,
                folds=len(splits),
                out_of_scope_fallback_rate=oos_fallback / (len(OUT_OF_SCOPE) * len(splits)),
                per_fold_accuracy=per_fold,
            )
        )
        logger.info("%s %s: acc %.3f macro-F1 %.3f (%.0fs)", dataset, name, acc, macro, seconds)
    return results


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table of the results, one row per config and dataset."""
    header = (
        f"{'dataset':8} {'config':10} {'n':>5} {'accuracy':>9} {'macro-F1':>9} "
        f"{'mF1(all)':>9} {'fallback':>9} {'oos->fb':>8} {'train s':>8}"
    )
    rows = [header, "-" * len(header)]
    for r in results:
        oos = "" if r.out_of_scope_fallback_rate is None else f"{r.out_of_scope_fallback_rate:.2f}"
        rows.append(
            f"{r.dataset:8} {r.config:10} {r.n:>5} {r.accuracy:>9.3f} {r.macro_f1:>9.3f} "
            f"{r.macro_f1_all_labels:>9.3f} {r.fallback_rate:>9.3f} {oos:>8} "
            f"{r.train_seconds:>8.0f}"
        )
    return "\n".join(rows)


def _quiet_structlog() -> None:
    """Rasa logs every parsed message through structlog at debug level; keep warnings only."""
    try:
        import structlog
    except ImportError:  # pragma: no cover - structlog comes with rasa
        return
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--xsid",
        type=Path,
        default=REPO_ROOT / "eval" / "xsid",
        help="folder with nlu_train.yml and nlu_test.yml (default: eval/xsid, CC BY-SA 4.0)",
    )
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "data" / "nlu")
    parser.add_argument(
        "--folds",
        type=int,
        default=1,
        help="1: fixed stratified 80/20 split (default); K>=2: stratified K-fold CV",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["default", "diet-only", "ours"],
        choices=sorted(CONFIG_DESCRIPTIONS),
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["xsid", "few-shot"],
        choices=["xsid", "few-shot", "own"],
        help="xsid; few-shot: --shots examples per intent of --data, the rest tested, over "
        "--draws draws; own: the 80/20 split (or --folds) of --data",
    )
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "nlu_eval.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the comparison, prints the table, writes the JSON; returns the exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("rasa", "tensorflow", "absl", "py.warnings"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.captureWarnings(True)
    _quiet_structlog()
    if "xsid" in args.datasets and not (args.xsid / "nlu_train.yml").is_file():
        print(
            f"xSID data not found in {args.xsid} (use --xsid DIR, or leave xsid out of --datasets)",
            file=sys.stderr,
        )
        return 2

    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="nlu_eval_") as tmp:
        work = Path(tmp)
        configs = build_configs(args.configs, work)
        if "xsid" in args.datasets:
            results += evaluate_xsid(configs, args.xsid, work)
        if "few-shot" in args.datasets:
            results += evaluate_own(
                configs, args.data, work, 1, args.seed, shots=args.shots, draws=args.draws
            )
        if "own" in args.datasets:
            results += evaluate_own(configs, args.data, work, args.folds, args.seed)

    table = format_table(results)
    own_method = (
        "fixed stratified 80/20 split"
        if args.folds <= 1
        else f"stratified {args.folds}-fold cross-validation"
    )
    print()
    print(
        f"NLU evaluation (few-shot: {args.shots} examples per intent of {args.data}, the rest "
        f"tested, {args.draws} draws pooled; own: {own_method}; seed {args.seed})"
    )
    print(table)
    print(
        "macro-F1: over the intents of the test set, nlu_fallback counted as wrong; "
        "mF1(all): also over nlu_fallback as a label (as `rasa test nlu`)."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "own_data_method": own_method,
        "few_shot": {"shots": args.shots, "draws": args.draws},
        "seed": args.seed,
        "xsid": str(args.xsid),
        "seconds": round(time.perf_counter() - started, 1),
        "configs": {name: CONFIG_DESCRIPTIONS[name] for name in args.configs},
        "results": [asdict(r) for r in results],
    }
    args.out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

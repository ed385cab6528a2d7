"""Load FAQ sources (YAML, contract in ARCHITECTURE.md) and import CSV files into that shape."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import yaml

from helpdesk.knowledge.models import FaqEntry

SUPPORTED_VERSIONS = (1,)
TOP_LEVEL_KEYS = {"version", "faqs"}
REQUIRED_KEYS = ("id", "category", "question", "answer")
OPTIONAL_KEYS = ("alternatives", "source")
ENTRY_KEYS = set(REQUIRED_KEYS) | set(OPTIONAL_KEYS)
YAML_SUFFIXES = (".yml", ".yaml")
#: The CSV column naming the YAML file an entry belongs to (optional).
CSV_FILE_COLUMN = "file"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class FaqSourceError(ValueError):
    """A FAQ source file is malformed; the message names the file and the entry."""


def _entry_label(index: int, raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"].strip():
        return f"entry #{index + 1} (id {raw['id'].strip()!r})"
    return f"entry #{index + 1}"


def _clean_text(value: Any, *, key: str, where: str) -> str:
    if value is None:
        raise FaqSourceError(f"{where}: '{key}' is missing or empty")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise FaqSourceError(f"{where}: '{key}' must be text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise FaqSourceError(f"{where}: '{key}' is missing or empty")
    return text


def parse_entry(raw: Any, *, file: str, index: int) -> FaqEntry:
    """Validate one raw FAQ mapping and turn it into a `FaqEntry`.

    Args:
        raw: The mapping read from YAML or CSV.
        file: Name of the source file (used in error messages and kept on the entry).
        index: Zero-based position of the entry in its file.

    Raises:
        FaqSourceError: When a key is missing, empty, of the wrong type or unknown.
    """
    where = f"{file}: {_entry_label(index, raw)}"
    if not isinstance(raw, dict):
        raise FaqSourceError(f"{where}: must be a mapping with keys {', '.join(REQUIRED_KEYS)}")
    unknown = sorted(str(k) for k in raw if k not in ENTRY_KEYS)
    if unknown:
        raise FaqSourceError(
            f"{where}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)})"
        )
    entry_id = _clean_text(raw.get("id"), key="id", where=where)
    if not _ID_RE.match(entry_id):
        raise FaqSourceError(
            f"{where}: id {entry_id!r} may only hold letters, digits, '.', '_' and '-'"
        )
    category = _clean_text(raw.get("category"), key="category", where=where)
    question = _clean_text(raw.get("question"), key="question", where=where)
    answer = _clean_text(raw.get("answer"), key="answer", where=where)
    alts_raw = raw.get("alternatives")
    if alts_raw is None:
        alts_raw = []
    if isinstance(alts_raw, str):
        alts_raw = [alts_raw]
    if not isinstance(alts_raw, list):
        raise FaqSourceError(f"{where}: 'alternatives' must be a list of texts")
    alternatives: list[str] = []
    for pos, alt in enumerate(alts_raw):
        text = _clean_text(alt, key=f"alternatives[{pos}]", where=where)
        if text not in alternatives and text != question:
            alternatives.append(text)
    source = raw.get("source")
    if source is not None:
        source = _clean_text(source, key="source", where=where)
    return FaqEntry(
        id=entry_id,
        category=category,
        question=question,
        answer=answer,
        alternatives=tuple(alternatives),
        source=source,
        file=file,
    )


def _source_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in YAML_SUFFIXES
        )
        if not files:
            raise FaqSourceError(f"{path}: no *.yml or *.yaml FAQ files in this folder")
        return files
    raise FaqSourceError(f"{path}: no such file or folder")


def source_files(path: Path) -> list[Path]:
    """The FAQ files `load_faqs` reads for `path` (a file, or a folder's *.yml/*.yaml, sorted)."""
    return _source_files(Path(path))


def _load_file(path: Path) -> list[FaqEntry]:
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FaqSourceError(f"{name}: not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqSourceError(f"{name}: cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise FaqSourceError(f"{name}: must be a mapping with 'version: 1' and a 'faqs' list")
    unknown = sorted(str(k) for k in data if k not in TOP_LEVEL_KEYS)
    if unknown:
        raise FaqSourceError(
            f"{name}: unknown top-level key(s) {', '.join(unknown)} (allowed: version, faqs)"
        )
    version = data.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise FaqSourceError(f"{name}: unsupported version {version!r} (expected 'version: 1')")
    faqs = data.get("faqs")
    if not isinstance(faqs, list):
        raise FaqSourceError(f"{name}: 'faqs' must be a list of entries")
    return [parse_entry(raw, file=name, index=i) for i, raw in enumerate(faqs)]


def check_unique(entries: Iterable[FaqEntry]) -> None:
    """Raise `FaqSourceError` naming both places when two entries share an id."""
    seen: dict[str, FaqEntry] = {}
    for entry in entries:
        first = seen.get(entry.id)
        if first is not None:
            raise FaqSourceError(
                f"{entry.file}: duplicate id {entry.id!r} (already defined in {first.file})"
            )
        seen[entry.id] = entry


def load_faqs(path: Path) -> list[FaqEntry]:
    """Load and validate FAQ entries from a YAML file or a folder of *.yml/*.yaml files.

    Files are read in sorted order; entries keep their order within a file.

    Args:
        path: A YAML file or a folder holding them.

    Returns:
        The entries of every file.

    Raises:
        FaqSourceError: For a missing path, bad YAML, a wrong version, unknown keys, a missing or
            empty question/answer, or an id used twice (within or across files). The message
            names the file and the entry.
    """
    entries: list[FaqEntry] = []
    for file in _source_files(Path(path)):
        entries.extend(_load_file(file))
    if not entries:
        raise FaqSourceError(f"{path}: holds no FAQ entries")
    check_unique(entries)
    return entries


def _entry_to_yaml_dict(entry: FaqEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id,
        "category": entry.category,
        "question": entry.question,
    }
    if entry.alternatives:
        out["alternatives"] = list(entry.alternatives)
    out["answer"] = entry.answer
    if entry.source:
        out["source"] = entry.source
    return out


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so answers stay readable."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def dump_faqs(entries: Iterable[FaqEntry]) -> str:
    """Serialise entries as a contract-shaped YAML document (`version: 1`, `faqs: [...]`)."""
    doc = {"version": 1, "faqs": [_entry_to_yaml_dict(e) for e in entries]}
    return yaml.dump(doc, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=100)


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def import_csv(csv_path: Path, out_path: Path) -> int:
    """Convert a CSV of FAQs (`read_csv`) into a YAML source file.

    Args:
        csv_path: The CSV file (UTF-8, a BOM is accepted).
        out_path: The YAML file to write (replaced atomically).

    Returns:
        The number of entries written.

    Raises:
        FaqSourceError: See `read_csv`.
    """
    entries = read_csv(csv_path)
    atomic_write_text(Path(out_path), dump_faqs(entries))
    return len(entries)


def read_csv(csv_path: Path) -> list[FaqEntry]:
    """Read and validate a CSV of FAQs.

    The CSV has a header with columns id, category, question, answer and optionally
    alternatives (several paraphrases separated by `|`), source, and file (the group the entry
    is exported with, as `helpdesk kb export --format csv` writes it).

    Raises:
        FaqSourceError: For a missing file, missing columns or an invalid row (the message
            names the file and the row).
    """
    csv_path = Path(csv_path)
    name = str(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise FaqSourceError(f"{name}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqSourceError(f"{name}: cannot be read as UTF-8 text: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_KEYS if c not in header]
    if missing:
        raise FaqSourceError(
            f"{name}: missing column(s) {', '.join(missing)} "
            "(expected id, category, question, answer[, alternatives][, source])"
        )
    unknown = [h for h in header if h and h not in ENTRY_KEYS and h != CSV_FILE_COLUMN]
    if unknown:
        raise FaqSourceError(f"{name}: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    entries: list[FaqEntry] = []
    for i, row in enumerate(reader):
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue
        raw: dict[str, Any] = {
            k: (v if v is None else v.strip()) for k, v in row.items() if k in ENTRY_KEYS
        }
        alts = raw.pop("alternatives", None) or ""
        raw["alternatives"] = [a.strip() for a in alts.split("|") if a.strip()]
        if not raw.get("source"):
            raw.pop("source", None)
        # line_num counts the header as line 1, as spreadsheets and editors show it.
        entry = parse_entry(raw, file=f"{name} line {reader.line_num}", index=i)
        group = (row.get(CSV_FILE_COLUMN) or "").strip()
        entries.append(replace(entry, file=group) if group else entry)
    if not entries:
        raise FaqSourceError(f"{name}: holds no FAQ rows")
    check_unique(entries)
    return entries

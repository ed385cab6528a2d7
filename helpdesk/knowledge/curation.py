"""The curated knowledge base: YAML and CSV in and out, drafts checked against the contract.

The helpdesk database holds the knowledge base the assistant answers with
(`helpdesk.storage.knowledge_base`: entries, versions, the publication revision). The YAML
files stay a first-class format: `import_source` brings a file or folder of YAML (or a CSV)
in, as published versions or as drafts; `export` writes the published knowledge base back,
one YAML file per `file` group (or one CSV), in the shape `load_faqs` reads, so a team can
keep it in git and the round trip changes nothing. `seed` imports the configured sources
once, into an empty knowledge base (a new installation).

Everything written is validated like the YAML sources (`loader.parse_entry`): a draft with an
empty answer or a bad id is refused with the same message a bad file gets.
"""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

from helpdesk.knowledge.loader import (
    YAML_SUFFIXES,
    FaqSourceError,
    atomic_write_text,
    check_unique,
    dump_faqs,
    load_faqs,
    parse_entry,
    read_csv,
)
from helpdesk.knowledge.models import FaqEntry
from helpdesk.storage.knowledge_base import (
    FaqContent,
    FaqVersionRecord,
    ImportOutcome,
    KnowledgeBaseRepository,
)

#: The `file` group of entries that name none (made in the desk).
DEFAULT_FILE = "faq"
#: The columns of an exported CSV (what `read_csv` reads back).
CSV_COLUMNS = ("id", "category", "question", "alternatives", "answer", "source", "file")
#: Who imports when no one is named.
SYSTEM_AUTHOR = "system"


def file_group(file: str | None) -> str:
    """The group an entry is exported with: the stem of the file it came from."""
    if not file:
        return DEFAULT_FILE
    name = Path(file.split(" line ")[0]).name  # "faq.csv line 4" -> faq.csv
    for suffix in (*YAML_SUFFIXES, ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or DEFAULT_FILE
    return name or DEFAULT_FILE


def to_content(entry: FaqEntry) -> FaqContent:
    """What an entry says, as the repository stores it."""
    return FaqContent(
        category=entry.category,
        question=entry.question,
        answer=entry.answer,
        alternatives=tuple(entry.alternatives),
        source=entry.source,
        file=file_group(entry.file),
    )


def to_entry(version: FaqVersionRecord) -> FaqEntry:
    """The entry a version says (`file` is its group)."""
    content = version.content
    return FaqEntry(
        id=version.slug,
        category=content.category,
        question=content.question,
        answer=content.answer,
        alternatives=content.alternatives,
        source=content.source,
        file=content.file or DEFAULT_FILE,
    )


def checked(
    slug: str,
    *,
    category: str,
    question: str,
    answer: str,
    alternatives: Iterable[str] = (),
    source: str | None = None,
    file: str | None = None,
) -> FaqContent:
    """A draft's fields validated as a YAML entry would be (trimmed, blank alternatives and
    repeats dropped).

    Raises:
        FaqSourceError: A missing or empty field, or an id with other characters than
            letters, digits, '.', '_' and '-'.
    """
    raw = {
        "id": slug,
        "category": category,
        "question": question,
        "answer": answer,
        "alternatives": [a for a in alternatives if a and a.strip()],
    }
    if source and source.strip():
        raw["source"] = source
    entry = parse_entry(raw, file=f"{file or DEFAULT_FILE}.yml", index=0)
    return to_content(entry)


def published_entries(repository: KnowledgeBaseRepository) -> list[FaqEntry]:
    """The entries the assistant answers with."""
    return [to_entry(version) for version in repository.published()]


def read_source(path: Path) -> list[FaqEntry]:
    """The entries of a YAML file or folder, or of a CSV file (validated, ids unique)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_csv(path)
    return load_faqs(path)


def import_source(
    repository: KnowledgeBaseRepository,
    path: Path,
    *,
    author: str = SYSTEM_AUTHOR,
    publish: bool = True,
    retire_missing: bool = False,
) -> ImportOutcome:
    """Import a YAML file or folder, or a CSV, into the knowledge base.

    Args:
        repository: The knowledge base.
        path: The source.
        author: Who imports (the history shows it).
        publish: Publish the changes at once (default), or leave them as drafts to review.
        retire_missing: Retire live entries the source does not have.

    Raises:
        FaqSourceError: For an invalid source (nothing is imported).
    """
    entries = read_source(path)
    return import_entries(
        repository,
        entries,
        author=author,
        publish=publish,
        retire_missing=retire_missing,
        note=f"impor dari {Path(path).name}",
    )


def import_entries(
    repository: KnowledgeBaseRepository,
    entries: Sequence[FaqEntry],
    *,
    author: str,
    publish: bool,
    retire_missing: bool = False,
    note: str | None = None,
) -> ImportOutcome:
    """Import validated entries (see `import_source`)."""
    check_unique(entries)
    return repository.import_contents(
        [(entry.id, to_content(entry)) for entry in entries],
        author=author,
        publish=publish,
        note=note,
        retire_missing=retire_missing,
    )


def seed(repository: KnowledgeBaseRepository, source: Path) -> ImportOutcome | None:
    """Import `source` (published) into an empty knowledge base; None when it has entries."""
    if repository.count():
        return None
    return import_source(repository, source, author=SYSTEM_AUTHOR, publish=True)


def curated_entries(repository: KnowledgeBaseRepository, source: Path) -> list[FaqEntry]:
    """The entries the assistant answers with; an empty knowledge base is seeded from
    `source` first (a new installation).

    Raises:
        FaqSourceError: The seed source is invalid, or nothing is published (every entry
            retired).
    """
    seed(repository, source)
    entries = published_entries(repository)
    if not entries:
        raise FaqSourceError("the knowledge base has no published entries")
    return entries


def _export_groups(repository: KnowledgeBaseRepository, fmt: str) -> dict[str, list[FaqEntry]]:
    """The published entries by the file they are exported to (see `export_files`)."""
    if fmt not in ("yaml", "csv"):
        raise FaqSourceError(f"unknown format {fmt!r} (yaml or csv)")
    entries = published_entries(repository)
    if not entries:
        raise FaqSourceError("the knowledge base has no published entries to export")
    if fmt == "csv":
        return {f"{DEFAULT_FILE}.csv": entries}
    groups: OrderedDict[str, list[FaqEntry]] = OrderedDict()
    for entry in entries:
        groups.setdefault(f"{file_group(entry.file)}.yml", []).append(entry)
    return groups


def export_files(repository: KnowledgeBaseRepository, *, fmt: str = "yaml") -> dict[str, str]:
    """The published knowledge base as files: <file group>.yml per group, or one faq.csv.

    Returns:
        File name -> text, in the entries' order.

    Raises:
        FaqSourceError: The knowledge base is empty, or `fmt` is neither "yaml" nor "csv".
    """
    dump = dump_csv if fmt == "csv" else dump_faqs
    return {name: dump(members) for name, members in _export_groups(repository, fmt).items()}


def export(repository: KnowledgeBaseRepository, out: Path, *, fmt: str = "yaml") -> dict[Path, int]:
    """Write the published knowledge base (`export_files`) into the folder `out`; for CSV,
    `out` may also name the file.

    Returns:
        How many entries went into each file written.

    Raises:
        FaqSourceError: The knowledge base is empty, or `fmt` is unknown.
    """
    dump = dump_csv if fmt == "csv" else dump_faqs
    out = Path(out)
    written: dict[Path, int] = {}
    for name, members in _export_groups(repository, fmt).items():
        target = out if fmt == "csv" and not out.is_dir() and out.suffix else out / name
        atomic_write_text(target, dump(members))
        written[target] = len(members)
    return written


def dump_csv(entries: Iterable[FaqEntry]) -> str:
    """Entries as CSV (`CSV_COLUMNS`; alternatives joined with " | ")."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.id,
                entry.category,
                entry.question,
                " | ".join(entry.alternatives),
                entry.answer,
                entry.source or "",
                file_group(entry.file),
            ]
        )
    return buffer.getvalue()

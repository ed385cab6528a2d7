"""Reading a broadcast's recipient list from a supervisor's CSV file (pure).

Files come from Excel and Google Sheets in Indonesian offices: UTF-8 with or without a BOM,
or Windows-1252; separated by commas, semicolons (Excel's Indonesian locale) or tabs; numbers
written "0812-3456-7890", "+62 812 3456 7890" or "6281234567890" (Excel may also have turned
them into "6.28123E+12": refused, the supervisor must format the column as text).

Columns (header names case-insensitive, Indonesian names accepted):
- the phone number: `phone` / `telepon` / `nomor` / `no_hp` / `hp` / `whatsapp` / `wa`;
- the name (optional): `name` / `nama`;
- one column per template variable, named as the variable (`ticket_number`, ...). A variable
  called `name` / `nama` is filled from the name column.

A row that cannot be sent (bad number, a variable missing or not fitting the template) is
reported with its line number and left out; a number listed twice is kept once.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from helpdesk.storage.broadcasts import NewRecipient

#: Header names of the phone column and of the name column.
PHONE_HEADERS = ("phone", "telepon", "nomor", "no_hp", "nohp", "hp", "whatsapp", "wa", "no_wa")
NAME_HEADERS = ("name", "nama")
#: The largest upload read (bytes) and the most recipients of one broadcast.
MAX_BYTES = 5 * 1024 * 1024
MAX_RECIPIENTS = 50_000
#: Most problems listed (the rest are counted).
MAX_PROBLEMS = 50

_SEPARATORS = ",;\t"
_NOT_DIGITS = re.compile(r"[\s\-().+/]")


class RecipientFileError(ValueError):
    """The file cannot be read as a recipient list at all (the message is Indonesian)."""


@dataclass(frozen=True)
class Problem:
    """One row left out: its line in the file and why (Indonesian, no personal data)."""

    line: int
    reason: str


@dataclass
class RecipientList:
    """What an upload gave: the recipients to send to and the rows left out."""

    recipients: list[NewRecipient] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    duplicates: int = 0

    def add_problem(self, line: int, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(line, reason))


def normalize_number(value: object) -> str | None:
    """A WhatsApp number in international form without "+" ("6281234567890"), or None.

    A leading 0 is Indonesia's trunk prefix (0812... is 62812...); other country codes are
    kept as written with "+" or "00". Length: 10 to 15 digits (E.164).
    """
    text = str(value or "").strip()
    if "e+" in text.lower():  # Excel's scientific notation lost the last digits
        return None
    digits = _NOT_DIGITS.sub("", text)
    if not digits.isdigit():
        return None
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = "62" + digits[1:]
    elif digits.startswith("8") and not text.startswith("+"):
        digits = "62" + digits
    if not 10 <= len(digits) <= 15:
        return None
    return digits


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise RecipientFileError(
            f"Berkas terlalu besar (lebih dari {MAX_BYTES // (1024 * 1024)} MB)."
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _dialect(text: str) -> str:
    first = text.splitlines()[0] if text.strip() else ""
    counts = {sep: first.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _header_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def read_recipients(
    data: bytes,
    variables: tuple[str, ...],
    check: Callable[[Mapping[str, str]], str | None] | None = None,
) -> RecipientList:
    """The recipients of a CSV upload for a template with `variables`.

    Args:
        data: The uploaded file.
        variables: The template's variable names, in order.
        check: Called with each row's values (the variables, plus `name`); returns why the
            values cannot fill the template (Indonesian), or None when they can.

    Raises:
        RecipientFileError: An empty or oversized file, no header, no phone column, a
            variable without its column, more than `MAX_RECIPIENTS` rows.
    """
    text = _decode(data)
    if not text.strip():
        raise RecipientFileError("Berkas kosong.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise RecipientFileError("Baris judul kolom tidak dapat dibaca.") from exc
    keys = [_header_key(name) for name in header]
    phone_col = next((i for i, key in enumerate(keys) if key in PHONE_HEADERS), None)
    if phone_col is None:
        raise RecipientFileError(
            "Kolom nomor WhatsApp tidak ditemukan. Beri judul kolom 'phone' atau 'nomor'."
        )
    name_col = next((i for i, key in enumerate(keys) if key in NAME_HEADERS), None)
    columns: dict[str, int] = {}
    missing = []
    for variable in variables:
        key = _header_key(variable)
        if key in keys:
            columns[variable] = keys.index(key)
        elif key in NAME_HEADERS and name_col is not None:
            columns[variable] = name_col
        else:
            missing.append(variable)
    if missing:
        raise RecipientFileError(
            "Kolom untuk variabel templat tidak ditemukan: " + ", ".join(missing) + "."
        )
    result = RecipientList()
    seen: set[str] = set()
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            cell = row[phone_col] if phone_col < len(row) else ""
            phone = normalize_number(cell)
            if phone is None:
                result.add_problem(line, "nomor WhatsApp tidak valid")
                continue
            if phone in seen:
                result.duplicates += 1
                continue
            name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
            values = {
                variable: (row[index].strip() if index < len(row) else "")
                for variable, index in columns.items()
            }
            reason = check({**values, "name": name}) if check is not None else None
            if reason:
                result.add_problem(line, reason)
                continue
            seen.add(phone)
            result.recipients.append(NewRecipient(phone=phone, name=name, variables=values))
            if len(result.recipients) > MAX_RECIPIENTS:
                raise RecipientFileError(
                    f"Terlalu banyak penerima: paling banyak {MAX_RECIPIENTS:,} per siaran."
                )
    except csv.Error as exc:
        raise RecipientFileError(f"Berkas CSV rusak di baris {reader.line_num}.") from exc
    return result

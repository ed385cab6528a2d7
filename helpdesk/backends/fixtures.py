"""Fixtures of the backend simulator: the records it answers from, loaded from a JSON file.

The file has up to four sections, each a list of records (a missing section is empty)::

    {"sp2d": [...], "contracts": [...], "digit_users": [...], "sakti_users": [...]}

Every record may carry `"simulate": "unavailable" | "slow" | "garbage"` so that ordinary
requests exercise the assistant's failure paths: a request that reaches the record is answered
with a 503 `Error`, answered normally after a delay, or answered with a body that is not JSON.

`load_fixtures` validates the whole file and raises `FixturesError` naming the file, the
section, the record index and the field at fault, e.g.
`fixtures.json: sp2d[2].number must be 15 digits`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from helpdesk.backends.models import DIGIT_STATUSES

#: The shipped default fixtures (used when neither `--fixtures` nor
#: `HELPDESK_BACKEND_FIXTURES` names another file).
DEFAULT_FIXTURES_PATH = Path(__file__).resolve().parent / "fixtures.json"

#: Values of a record's optional `simulate` field.
SIMULATE_MODES: tuple[str, ...] = ("unavailable", "slow", "garbage")

SECTIONS: tuple[str, ...] = ("sp2d", "contracts", "digit_users", "sakti_users")

_PHONE = re.compile(r"62[0-9]{8,13}")
_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")

T = TypeVar("T")


class FixturesError(ValueError):
    """The fixtures file cannot be read or a record in it is invalid."""


@dataclass(frozen=True)
class Sp2dRecord:
    """An SP2D; it is found only with its number and its recipient account number."""

    number: str
    account_number: str
    satker_code: str
    satker_name: str
    spm_number: str
    amount: int
    date: date
    status: str
    simulate: str | None = None


@dataclass(frozen=True)
class ContractRecord:
    """A contract submitted to a KPPN; the register fields are None until it is registered."""

    satker_code: str
    contract_number: str
    registered: bool
    register_number: str | None
    registered_at: date | None
    kppn: str | None
    simulate: str | None = None


@dataclass(frozen=True)
class DigitUserRecord:
    """A DIGIT account, found by its owner's NIK, NIP or NRP."""

    nik: str
    nip: str | None
    nrp: str | None
    email: str
    status: str
    simulate: str | None = None

    def identifier(self, id_type: str) -> str | None:
        """The account's identifier of one type ("nik", "nip" or "nrp"), or None."""
        return {"nik": self.nik, "nip": self.nip, "nrp": self.nrp}.get(id_type)


@dataclass(frozen=True)
class SaktiUserRecord:
    """The registration of a NIK as a SAKTI user in one work unit (satker)."""

    nik: str
    satker_code: str
    phone: str
    name: str
    satker_name: str | None = None
    simulate: str | None = None


@dataclass(frozen=True)
class Fixtures:
    """All the records of a fixtures file.

    Attributes:
        source: Where the records come from (the file path), for messages.
    """

    sp2d: tuple[Sp2dRecord, ...] = ()
    contracts: tuple[ContractRecord, ...] = ()
    digit_users: tuple[DigitUserRecord, ...] = ()
    sakti_users: tuple[SaktiUserRecord, ...] = ()
    source: str = "<fixtures>"

    @property
    def record_count(self) -> int:
        """How many records there are in all sections."""
        return len(self.sp2d) + len(self.contracts) + len(self.digit_users) + len(self.sakti_users)

    def summary(self) -> str:
        """A short count of the records per section, e.g. "6 SP2D, 6 contracts, ..."."""
        return (
            f"{len(self.sp2d)} SP2D, {len(self.contracts)} contracts, "
            f"{len(self.digit_users)} DIGIT users, {len(self.sakti_users)} SAKTI users"
        )


def normalise_phone(phone: str) -> str | None:
    """Write an Indonesian phone number in the form `62...` (digits only).

    Args:
        phone: A number such as "0812-3456-7890", "+6281234567890" or "6281234567890".

    Returns:
        The number as "6281234567890", or None when it is not an Indonesian phone number.
    """
    text = _PHONE_SEPARATORS.sub("", phone or "")
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("0"):
        text = "62" + text[1:]
    return text if _PHONE.fullmatch(text) else None


def load_fixtures(path: Path | str) -> Fixtures:
    """Read and validate a fixtures file.

    Args:
        path: The JSON file.

    Returns:
        The validated records.

    Raises:
        FixturesError: If the file cannot be read, is not JSON, or a record is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixturesError(f"{path}: cannot read the fixtures file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise FixturesError(f"{path}: not UTF-8 text") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixturesError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return parse_fixtures(data, source=str(path))


def parse_fixtures(data: Any, source: str = "<fixtures>") -> Fixtures:
    """Validate fixtures already parsed from JSON.

    Args:
        data: The parsed JSON document.
        source: Name of the file, used in error messages.

    Returns:
        The validated records.

    Raises:
        FixturesError: If the document or a record is invalid.
    """
    if not isinstance(data, dict):
        raise FixturesError(f"{source}: the top level must be a JSON object with the sections")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise FixturesError(
            f"{source}: unknown section {unknown[0]!r} (expected {', '.join(SECTIONS)})"
        )
    fixtures = Fixtures(
        sp2d=_section(data, "sp2d", source, _parse_sp2d),
        contracts=_section(data, "contracts", source, _parse_contract),
        digit_users=_section(data, "digit_users", source, _parse_digit_user),
        sakti_users=_section(data, "sakti_users", source, _parse_sakti_user),
        source=source,
    )
    _check_unique(fixtures)
    return fixtures


# -- record parsers ---------------------------------------------------------------------------
class _Record:
    """One raw record and where it is, so that every message names the field at fault."""

    def __init__(self, raw: Any, where: str, fields: tuple[str, ...]) -> None:
        if not isinstance(raw, dict):
            raise FixturesError(f"{where} must be a JSON object")
        extra = sorted(set(raw) - set(fields) - {"simulate"})
        if extra:
            raise FixturesError(f"{where} has an unknown field {extra[0]!r}")
        self.raw: Mapping[str, Any] = raw
        self.where = where

    def fail(self, name: str, rule: str) -> FixturesError:
        return FixturesError(f"{self.where}.{name} {rule}")

    def text(self, name: str, *, nullable: bool = False, optional: bool = False) -> str | None:
        if name not in self.raw:
            if optional:
                return None
            raise self.fail(name, "is missing")
        value = self.raw[name]
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            rule = "must be a non-empty string" + (" or null" if nullable else "")
            raise self.fail(name, rule)
        return value.strip()

    def required_text(self, name: str) -> str:
        value = self.text(name)
        assert value is not None  # text() raises on a missing value
        return value

    def digits(self, name: str, pattern: str, rule: str, *, nullable: bool = False) -> str | None:
        if name not in self.raw and not nullable:
            raise self.fail(name, "is missing")
        value = self.raw.get(name)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise self.fail(name, rule + (" or null" if nullable else ""))
        return value

    def required_digits(self, name: str, pattern: str, rule: str) -> str:
        value = self.digits(name, pattern, rule)
        assert value is not None  # digits() raises on a missing value
        return value

    def day(self, name: str, *, nullable: bool = False) -> date | None:
        if name not in self.raw and not nullable:
            raise self.fail(name, "is missing")
        value = self.raw.get(name)
        if value is None and nullable:
            return None
        rule = "must be a date YYYY-MM-DD" + (" or null" if nullable else "")
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise self.fail(name, rule)
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise self.fail(name, rule) from exc

    def simulate(self) -> str | None:
        value = self.raw.get("simulate")
        if value is None or value in SIMULATE_MODES:
            return value
        raise self.fail("simulate", f"must be one of {', '.join(SIMULATE_MODES)} or null")


_SATKER = (r"[0-9]{6}", "must be 6 digits")
_NIK = (r"[0-9]{16}", "must be 16 digits")


def _parse_sp2d(raw: Any, where: str) -> Sp2dRecord:
    fields = (
        "number",
        "account_number",
        "satker_code",
        "satker_name",
        "spm_number",
        "amount",
        "date",
        "status",
    )
    record = _Record(raw, where, fields)
    number = record.required_digits("number", r"[0-9]{15}", "must be 15 digits")
    account_number = record.required_digits(
        "account_number", r"[0-9]{5,20}", "must be 5 to 20 digits"
    )
    satker_code = record.required_digits("satker_code", *_SATKER)
    satker_name = record.required_text("satker_name")
    spm_number = record.required_text("spm_number")
    amount = record.raw.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise record.fail("amount", "must be a whole number of rupiah >= 0")
    day = record.day("date")
    assert day is not None  # day() raises unless nullable
    return Sp2dRecord(
        number=number,
        account_number=account_number,
        satker_code=satker_code,
        satker_name=satker_name,
        spm_number=spm_number,
        amount=amount,
        date=day,
        status=record.required_text("status"),
        simulate=record.simulate(),
    )


def _parse_contract(raw: Any, where: str) -> ContractRecord:
    fields = (
        "satker_code",
        "contract_number",
        "registered",
        "register_number",
        "registered_at",
        "kppn",
    )
    record = _Record(raw, where, fields)
    satker_code = record.required_digits("satker_code", *_SATKER)
    contract_number = record.required_text("contract_number")
    if not 3 <= len(contract_number) <= 100:
        raise record.fail("contract_number", "must be 3 to 100 characters")
    registered = record.raw.get("registered")
    if not isinstance(registered, bool):
        raise record.fail("registered", "must be true or false")
    if registered:
        register_number = record.required_text("register_number")
        registered_at = record.day("registered_at")
    else:
        for name in ("register_number", "registered_at"):
            if record.raw.get(name) is not None:
                raise record.fail(name, "must be null when registered is false")
        register_number, registered_at = None, None
    return ContractRecord(
        satker_code=satker_code,
        contract_number=contract_number,
        registered=registered,
        register_number=register_number,
        registered_at=registered_at,
        kppn=record.text("kppn", nullable=True, optional=True),
        simulate=record.simulate(),
    )


def _parse_digit_user(raw: Any, where: str) -> DigitUserRecord:
    record = _Record(raw, where, ("nik", "nip", "nrp", "email", "status"))
    nik = record.required_digits("nik", *_NIK)
    nip = record.digits("nip", r"[0-9]{18}", "must be 18 digits", nullable=True)
    nrp = record.digits("nrp", r"[0-9]{5,18}", "must be 5 to 18 digits", nullable=True)
    email = record.required_text("email")
    if "@" not in email or not 3 <= len(email) <= 254 or any(c.isspace() for c in email):
        raise record.fail("email", "must be an e-mail address")
    status = record.raw.get("status")
    if status not in DIGIT_STATUSES:
        raise record.fail("status", f"must be one of {', '.join(DIGIT_STATUSES)}")
    return DigitUserRecord(
        nik=nik,
        nip=nip,
        nrp=nrp,
        email=email,
        status=status,
        simulate=record.simulate(),
    )


def _parse_sakti_user(raw: Any, where: str) -> SaktiUserRecord:
    record = _Record(raw, where, ("nik", "satker_code", "phone", "name", "satker_name"))
    nik = record.required_digits("nik", *_NIK)
    satker_code = record.required_digits("satker_code", *_SATKER)
    phone = record.raw.get("phone")
    normalised = normalise_phone(phone) if isinstance(phone, str) else None
    if normalised is None:
        raise record.fail("phone", "must be an Indonesian phone number (08..., +62... or 62...)")
    return SaktiUserRecord(
        nik=nik,
        satker_code=satker_code,
        phone=normalised,
        name=record.required_text("name"),
        satker_name=record.text("satker_name", nullable=True, optional=True),
        simulate=record.simulate(),
    )


def _section(
    data: Mapping[str, Any], name: str, source: str, parse: Callable[[Any, str], T]
) -> tuple[T, ...]:
    raw = data.get(name)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise FixturesError(f"{source}: {name} must be a list of records")
    return tuple(parse(item, f"{source}: {name}[{index}]") for index, item in enumerate(raw))


def _check_unique(fixtures: Fixtures) -> None:
    """Reject records that would make an answer ambiguous."""
    source = fixtures.source
    seen: dict[Any, int] = {}

    def claim(key: Any, section: str, index: int, field: str, what: str) -> None:
        if key in seen:
            raise FixturesError(
                f"{source}: {section}[{index}].{field} repeats {what} of {section}[{seen[key]}]"
            )
        seen[key] = index

    for index, sp2d in enumerate(fixtures.sp2d):
        claim(("sp2d", sp2d.number), "sp2d", index, "number", "the SP2D number")
    for index, contract in enumerate(fixtures.contracts):
        # Contract numbers are compared without regard to case, as the simulator looks them up.
        key = ("contract", contract.satker_code, contract.contract_number.casefold())
        claim(key, "contracts", index, "contract_number", "the satker and contract number")
    for index, user in enumerate(fixtures.digit_users):
        for id_type in ("nik", "nip", "nrp"):
            value = user.identifier(id_type)
            if value is not None:
                claim(("digit", id_type, value), "digit_users", index, id_type, f"the {id_type}")
    phones: dict[str, tuple[int, str]] = {}
    for index, sakti in enumerate(fixtures.sakti_users):
        key = ("sakti", sakti.nik, sakti.satker_code)
        claim(key, "sakti_users", index, "satker_code", "the NIK and satker")
        first = phones.setdefault(sakti.nik, (index, sakti.phone))
        if first[1] != sakti.phone:
            raise FixturesError(
                f"{source}: sakti_users[{index}].phone differs from sakti_users[{first[0]}], "
                "the same NIK's phone (a NIK has one registered phone)"
            )

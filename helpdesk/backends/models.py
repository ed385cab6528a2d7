"""Typed results of the backend clients (the schemas of `docs/backend-api.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

IdType = Literal["nik", "nip", "nrp"]
DigitAction = Literal["activation", "reset", "unblock"]
SaktiResetKind = Literal["password", "mfa"]

ID_TYPES: tuple[str, ...] = ("nik", "nip", "nrp")
DIGIT_ACTIONS: tuple[str, ...] = ("activation", "reset", "unblock")
DIGIT_STATUSES: tuple[str, ...] = ("aktif", "belum aktif", "diblokir", "proses reset")
SAKTI_RESET_KINDS: tuple[str, ...] = ("password", "mfa")


@dataclass(frozen=True)
class Sp2dInfo:
    """One SP2D and the work unit (satker) that issued its SPM."""

    sp2d_number: str
    satker_code: str
    satker_name: str
    spm_number: str
    amount: int
    date: date
    status: str


@dataclass(frozen=True)
class ContractRegistration:
    """Registration of a contract at the KPPN; the register fields are None until registered."""

    satker_code: str
    contract_number: str
    registered: bool
    register_number: str | None
    registered_at: date | None
    kppn: str | None


@dataclass(frozen=True)
class DigitUser:
    """A DIGIT account's status and its masked registered e-mail."""

    id_type: str
    status: str
    email_masked: str


@dataclass(frozen=True)
class DigitEmailCheck:
    """Whether an e-mail is the one registered for a DIGIT account."""

    matches: bool
    email_masked: str


@dataclass(frozen=True)
class DigitRequestResult:
    """An accepted activation / reset / unblock request; the link went to `sent_to`."""

    request_id: str
    action: str
    status: str
    sent_to: str


@dataclass(frozen=True)
class SaktiSatker:
    """A work unit a SAKTI user is registered in."""

    satker_code: str
    satker_name: str | None


@dataclass(frozen=True)
class SaktiResetResult:
    """A done SAKTI password / MFA reset; the result went by SMS to `sms_to`."""

    request_id: str
    kind: str
    satker_code: str
    sms_to: str

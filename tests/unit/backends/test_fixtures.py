"""Loading and validating the simulator's fixtures file, and the shipped default fixtures."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date
from typing import Any

import pytest

from helpdesk.backends.fixtures import (
    ContractRecord,
    DigitUserRecord,
    Fixtures,
    FixturesError,
    SaktiUserRecord,
    Sp2dRecord,
    load_fixtures,
    normalise_phone,
    parse_fixtures,
)
from helpdesk.backends.models import DIGIT_STATUSES


def _valid() -> dict[str, Any]:
    """A small valid fixtures document: 3 SP2D and one record in every other section."""
    sp2d = {
        "number": "260011301000123",
        "account_number": "1234567890",
        "satker_code": "415011",
        "satker_name": "KPPN Jakarta II",
        "spm_number": "00123T/415011/2026",
        "amount": 15000000,
        "date": "2026-03-02",
        "status": "Sudah dicairkan",
    }
    return {
        "sp2d": [
            sp2d,
            {**sp2d, "number": "260011301000124"},
            {**sp2d, "number": "260011301000125"},
        ],
        "contracts": [
            {
                "satker_code": "415011",
                "contract_number": "KTR-01/PPK/2026",
                "registered": True,
                "register_number": "00123456789",
                "registered_at": "2026-02-01",
                "kppn": "KPPN Jakarta II",
            }
        ],
        "digit_users": [
            {
                "nik": "3201234567890001",
                "nip": "198501012010011001",
                "nrp": None,
                "email": "budi.santoso@kemenkeu.go.id",
                "status": "aktif",
            }
        ],
        "sakti_users": [
            {
                "nik": "3201234567890001",
                "satker_code": "415011",
                "phone": "6281234567890",
                "name": "Budi Santoso",
            }
        ],
    }


# -- valid input ------------------------------------------------------------------------------
def test_valid_document_gives_typed_frozen_records():
    fixtures = parse_fixtures(_valid(), source="fixtures.json")

    assert fixtures.source == "fixtures.json"
    assert fixtures.record_count == 6
    sp2d = fixtures.sp2d[0]
    assert isinstance(sp2d, Sp2dRecord)
    assert sp2d.date == date(2026, 3, 2)
    assert sp2d.amount == 15000000
    assert sp2d.simulate is None
    contract = fixtures.contracts[0]
    assert contract.registered_at == date(2026, 2, 1)
    assert fixtures.digit_users[0].identifier("nip") == "198501012010011001"
    assert fixtures.digit_users[0].identifier("nrp") is None
    assert fixtures.sakti_users[0].satker_name is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        sp2d.status = "Ditolak"  # type: ignore[misc]


def test_missing_sections_are_empty():
    fixtures = parse_fixtures({"sp2d": []})

    assert fixtures == Fixtures(source="<fixtures>")
    assert fixtures.record_count == 0
    assert parse_fixtures({"contracts": None}).contracts == ()


def test_optional_fields_and_every_simulate_mode():
    data = _valid()
    data["sp2d"][0]["simulate"] = "unavailable"
    data["sp2d"][1]["simulate"] = "slow"
    data["sp2d"][2]["simulate"] = "garbage"
    data["contracts"] = [
        {"satker_code": "415011", "contract_number": "KTR-02/PPK/2026", "registered": False}
    ]
    data["digit_users"][0]["status"] = "belum aktif"
    data["sakti_users"][0]["satker_name"] = "KPPN Jakarta II"

    fixtures = parse_fixtures(data)

    assert [r.simulate for r in fixtures.sp2d] == ["unavailable", "slow", "garbage"]
    assert fixtures.contracts[0] == ContractRecord(
        satker_code="415011",
        contract_number="KTR-02/PPK/2026",
        registered=False,
        register_number=None,
        registered_at=None,
        kppn=None,
    )
    assert fixtures.digit_users[0].status == "belum aktif"
    assert fixtures.sakti_users[0].satker_name == "KPPN Jakarta II"


@pytest.mark.parametrize(
    "given",
    ["6281234567890", "081234567890", "+6281234567890", "0812-3456-7890", "+62 812 3456 7890"],
)
def test_phones_are_normalised_to_62(given):
    assert normalise_phone(given) == "6281234567890"
    data = _valid()
    data["sakti_users"][0]["phone"] = given
    assert parse_fixtures(data).sakti_users[0].phone == "6281234567890"


@pytest.mark.parametrize("given", ["", "12345", "+6512345678", "62812", "0812abc4567", "620"])
def test_not_indonesian_phones_are_refused(given):
    assert normalise_phone(given) is None


def test_load_fixtures_reads_a_file(tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps(_valid()), encoding="utf-8")

    fixtures = load_fixtures(path)

    assert fixtures.source == str(path)
    assert len(fixtures.sp2d) == 3
    assert fixtures.summary() == "3 SP2D, 1 contracts, 1 DIGIT users, 1 SAKTI users"


# -- invalid input ----------------------------------------------------------------------------
def _set(section: str, index: int, field: str, value: Any):
    def change(data: dict[str, Any]) -> None:
        data[section][index][field] = value

    return change


def _drop(section: str, index: int, field: str):
    def change(data: dict[str, Any]) -> None:
        del data[section][index][field]

    return change


def _append(section: str, index: int, **changes: Any):
    """Append a copy of `data[section][index]` with `changes`."""

    def change(data: dict[str, Any]) -> None:
        data[section].append({**copy.deepcopy(data[section][index]), **changes})

    return change


INVALID = [
    (_set("sp2d", 2, "number", "12345"), "sp2d[2].number must be 15 digits"),
    (_set("sp2d", 0, "number", 260011301000123), "sp2d[0].number must be 15 digits"),
    (_drop("sp2d", 1, "number"), "sp2d[1].number is missing"),
    (_set("sp2d", 0, "account_number", "12-34-56"), "sp2d[0].account_number must be 5 to 20"),
    (_set("sp2d", 0, "satker_code", "41501"), "sp2d[0].satker_code must be 6 digits"),
    (_set("sp2d", 0, "satker_name", " "), "sp2d[0].satker_name must be a non-empty string"),
    (_drop("sp2d", 0, "spm_number"), "sp2d[0].spm_number is missing"),
    (_set("sp2d", 0, "amount", -1), "sp2d[0].amount must be a whole number"),
    (_set("sp2d", 0, "amount", 1.5), "sp2d[0].amount must be a whole number"),
    (_set("sp2d", 0, "amount", True), "sp2d[0].amount must be a whole number"),
    (_set("sp2d", 0, "date", "02-03-2026"), "sp2d[0].date must be a date YYYY-MM-DD"),
    (_set("sp2d", 0, "date", "2026-02-30"), "sp2d[0].date must be a date YYYY-MM-DD"),
    (_set("sp2d", 0, "status", None), "sp2d[0].status must be a non-empty string"),
    (_set("sp2d", 0, "nomor", "1"), "sp2d[0] has an unknown field 'nomor'"),
    (_set("sp2d", 0, "simulate", "down"), "sp2d[0].simulate must be one of unavailable"),
    (_set("contracts", 0, "registered", "yes"), "contracts[0].registered must be true or false"),
    (_set("contracts", 0, "contract_number", "K1"), "contracts[0].contract_number must be 3 to"),
    (_drop("contracts", 0, "registered_at"), "contracts[0].registered_at is missing"),
    (_drop("contracts", 0, "register_number"), "contracts[0].register_number is missing"),
    (_set("contracts", 0, "kppn", 7), "contracts[0].kppn must be a non-empty string or null"),
    (
        lambda d: d["contracts"][0].update(registered=False),
        "contracts[0].register_number must be null when registered is false",
    ),
    (_set("digit_users", 0, "nik", "320123456789000"), "digit_users[0].nik must be 16 digits"),
    (_set("digit_users", 0, "nip", "1985"), "digit_users[0].nip must be 18 digits or null"),
    (_set("digit_users", 0, "nrp", "12a45"), "digit_users[0].nrp must be 5 to 18 digits or null"),
    (_set("digit_users", 0, "email", "budi"), "digit_users[0].email must be an e-mail address"),
    (_set("digit_users", 0, "status", "aktip"), "digit_users[0].status must be one of aktif"),
    (_set("sakti_users", 0, "phone", "12345"), "sakti_users[0].phone must be an Indonesian phone"),
    (_set("sakti_users", 0, "satker_code", "4150"), "sakti_users[0].satker_code must be 6 digits"),
    (_drop("sakti_users", 0, "name"), "sakti_users[0].name is missing"),
    (_append("sp2d", 0), "sp2d[3].number repeats the SP2D number of sp2d[0]"),
    (
        _append("contracts", 0, contract_number="ktr-01/ppk/2026"),
        "contracts[1].contract_number repeats the satker and contract number of contracts[0]",
    ),
    (
        _append("digit_users", 0, nik="3201234567890002"),
        "digit_users[1].nip repeats the nip of digit_users[0]",
    ),
    (_append("sakti_users", 0), "sakti_users[1].satker_code repeats the NIK and satker"),
    (
        _append("sakti_users", 0, satker_code="527010", phone="6285700000000"),
        "sakti_users[1].phone differs from sakti_users[0]",
    ),
    (lambda d: d.update(sp2d={"number": "1"}), "sp2d must be a list of records"),
    (lambda d: d["sp2d"].append("260011301000123"), "sp2d[3] must be a JSON object"),
    (lambda d: d.update(sp2ds=[]), "unknown section 'sp2ds'"),
]


@pytest.mark.parametrize(("change", "message"), INVALID)
def test_invalid_record_names_file_section_index_and_field(change, message):
    data = _valid()
    change(data)

    with pytest.raises(FixturesError) as caught:
        parse_fixtures(data, source="fixtures.json")

    assert str(caught.value).startswith(f"fixtures.json: {message}")


def test_fixtures_error_is_a_value_error():
    assert issubclass(FixturesError, ValueError)
    with pytest.raises(ValueError, match="top level must be a JSON object"):
        parse_fixtures([], source="fixtures.json")


def test_load_fixtures_names_the_file_in_every_error(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(FixturesError, match="missing.json: cannot read the fixtures file"):
        load_fixtures(missing)

    broken = tmp_path / "broken.json"
    broken.write_text('{"sp2d": [\n  {"number": }\n]}', encoding="utf-8")
    with pytest.raises(FixturesError, match=r"broken.json: not valid JSON \(line 2, column"):
        load_fixtures(broken)

    bad = tmp_path / "fixtures.json"
    data = _valid()
    data["sp2d"][2]["number"] = "123"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FixturesError) as caught:
        load_fixtures(bad)
    assert str(caught.value) == f"{bad}: sp2d[2].number must be 15 digits"


# -- the shipped fixtures ---------------------------------------------------------------------
def test_shipped_fixtures_cover_what_the_assistant_needs(shipped_fixtures):
    f = shipped_fixtures

    assert len(f.sp2d) >= 6
    assert {s.status for s in f.sp2d} >= {"Sudah dicairkan", "Dalam proses", "Ditolak"}
    assert len(f.contracts) >= 6
    assert {c.registered for c in f.contracts} == {True, False}
    assert len(f.digit_users) >= 6
    assert {u.status for u in f.digit_users} == set(DIGIT_STATUSES)
    assert any(u.nip for u in f.digit_users)
    assert any(u.nrp for u in f.digit_users)
    assert any(not u.nip and not u.nrp for u in f.digit_users)
    assert len(f.sakti_users) >= 5
    niks = [u.nik for u in f.sakti_users]
    assert any(niks.count(nik) >= 2 for nik in niks)
    for section in (f.sp2d, f.contracts, f.digit_users, f.sakti_users):
        assert any(record.simulate == "unavailable" for record in section)
    every = [*f.sp2d, *f.contracts, *f.digit_users, *f.sakti_users]
    assert any(record.simulate == "slow" for record in every)
    assert any(record.simulate == "garbage" for record in every)


def test_shipped_fixtures_hold_the_records_other_tests_rely_on(shipped_fixtures):
    f = shipped_fixtures

    assert (
        Sp2dRecord(
            number="260011301000123",
            account_number="1234567890",
            satker_code="415011",
            satker_name="KPPN Jakarta II",
            spm_number="00123T/415011/2026",
            amount=15000000,
            date=date(2026, 3, 2),
            status="Sudah dicairkan",
        )
        in f.sp2d
    )
    assert (
        Sp2dRecord(
            number="260011301999999",
            account_number="1111111111",
            satker_code="415011",
            satker_name="KPPN Jakarta II",
            spm_number="00999T/415011/2026",
            amount=1000000,
            date=date(2026, 3, 5),
            status="Dalam proses",
            simulate="unavailable",
        )
        in f.sp2d
    )
    assert (
        ContractRecord(
            "415011", "KTR-01/PPK/2026", True, "00123456789", date(2026, 2, 1), "KPPN Jakarta II"
        )
        in f.contracts
    )
    assert (
        ContractRecord("415011", "KTR-02/PPK/2026", False, None, None, "KPPN Jakarta II")
        in f.contracts
    )
    assert (
        DigitUserRecord(
            "3201234567890001", "198501012010011001", None, "budi.santoso@kemenkeu.go.id", "aktif"
        )
        in f.digit_users
    )
    assert (
        DigitUserRecord("3201234567890002", None, "85010123", "siti.rahma@polri.go.id", "diblokir")
        in f.digit_users
    )
    assert (
        DigitUserRecord("3201234567890003", None, None, "andi.wijaya@gmail.com", "belum aktif")
        in f.digit_users
    )
    budi = "3201234567890001"
    assert (
        SaktiUserRecord(budi, "415011", "6281234567890", "Budi Santoso", "KPPN Jakarta II")
        in f.sakti_users
    )
    assert (
        SaktiUserRecord(
            budi,
            "527010",
            "6281234567890",
            "Budi Santoso",
            "Dinas Pendidikan Provinsi Sulawesi Selatan",
        )
        in f.sakti_users
    )
    dewi = [u for u in f.sakti_users if u.nik == "3201234567890004"]
    assert [(u.satker_code, u.phone, u.name) for u in dewi] == [
        ("415011", "6285711112222", "Dewi Lestari")
    ]
    down = [u for u in f.sakti_users if u.nik == "3201234567890009"]
    assert [(u.phone, u.simulate) for u in down] == [("6281300000009", "unavailable")]

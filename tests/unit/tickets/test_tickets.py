"""Ticket ids, ticket id parsing and the ticket service."""

from __future__ import annotations

import logging
import random
import re
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk.storage.db import make_engine, make_session_factory, upgrade
from helpdesk.storage.divisions import DivisionRepository
from helpdesk.storage.tickets import TicketRepository
from helpdesk.tickets.service import (
    STATUS_LABELS,
    TICKET_ID_PATTERN,
    TicketDraft,
    TicketInfo,
    TicketService,
    TicketValidationError,
    form_submission_key,
    generate_ticket_id,
    normalize_ticket_id,
    submission_letters,
)

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
NOW = datetime(2026, 4, 13, 23, 30, tzinfo=timezone.utc)  # 2026-04-14 06:30 WIB


@pytest.fixture
def repository(tmp_path) -> TicketRepository:
    url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield TicketRepository(make_session_factory(engine))
    engine.dispose()


def _draft(**changes) -> TicketDraft:
    values = {
        "subject": "SP2D belum cair",
        "chronology": "Sudah lima hari SP2D kami belum masuk ke rekening.",
        "email": "email saya Budi@Contoh.GO.ID ya",
        "attachment": "https://contoh.go.id/bukti.pdf",
        "sender_id": "6281234567890",
        "channel": "whatsapp",
    }
    values.update(changes)
    return TicketDraft(**values)


class RecordingNotifier:
    def __init__(self, result: bool = True, error: Exception | None = None) -> None:
        self.result = result
        self.error = error
        self.tickets: list[TicketInfo] = []

    def ticket_created(self, ticket: TicketInfo) -> bool:
        self.tickets.append(ticket)
        if self.error:
            raise self.error
        return self.result


def test_generate_ticket_id_format_and_time_zone_boundary() -> None:
    ticket_id = generate_ticket_id(NOW, WIB)
    assert TICKET_ID_PATTERN.fullmatch(ticket_id)
    assert ticket_id.startswith("20260414-")  # already the 14th in Jakarta
    assert generate_ticket_id(NOW, ZoneInfo("UTC")).startswith("20260413-")
    assert generate_ticket_id(datetime(2026, 4, 14, 14, 59, tzinfo=timezone.utc), WIT).startswith(
        "20260414-"
    )
    assert generate_ticket_id(datetime(2026, 4, 14, 15, 0, tzinfo=timezone.utc), WIT).startswith(
        "20260415-"
    )


def test_generate_ticket_id_is_reproducible_with_rng_and_random_without() -> None:
    assert generate_ticket_id(NOW, WIB, random.Random(7)) == generate_ticket_id(
        NOW, WIB, random.Random(7)
    )
    ids = {generate_ticket_id(NOW, WIB) for _ in range(50)}
    assert len(ids) == 50


def test_generate_ticket_id_refuses_naive_time() -> None:
    with pytest.raises(ValueError):
        generate_ticket_id(datetime(2026, 4, 14, 8, 0), WIB)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260414-DBKSWU", "20260414-DBKSWU"),
        ("20260414-dbkswu", "20260414-DBKSWU"),
        ("20260414 dbkswu", "20260414-DBKSWU"),
        ("20260414DBKSWU", "20260414-DBKSWU"),
        ("cek status tiket 20260414-DBKSWU", "20260414-DBKSWU"),
        ("tiket saya no 20260414 DbKsWu, gmn min?", "20260414-DBKSWU"),
        ("status 20260414_dbkswu.", "20260414-DBKSWU"),
        ("20260414-DBKSW", None),
        ("20260414-DBKSWUX", None),
        ("2026041-DBKSWU", None),
        ("120260414-DBKSWU", None),
        ("20261399-DBKSWU", None),
        ("nik 3201234567890123 tolong", None),
        ("", None),
        ("cek status tiket", None),
    ],
)
def test_normalize_ticket_id(text: str, expected: str | None) -> None:
    assert normalize_ticket_id(text) == expected


def test_create_stores_validated_ticket_and_notifies(repository: TicketRepository) -> None:
    notifier = RecordingNotifier()
    service = TicketService(
        repository, notifier=notifier, tz=WIB, clock=lambda: NOW, rng=random.Random(1)
    )
    info = service.create(_draft(subject="  SP2D   belum\ncair "))
    assert TICKET_ID_PATTERN.fullmatch(info.id) and info.id.startswith("20260414-")
    assert info.email == "Budi@contoh.go.id"
    assert info.subject == "SP2D belum cair"
    assert info.status == "open" and info.status_label == "Diterima, menunggu tindak lanjut"
    assert info.created_at == NOW and info.created_at.tzinfo == WIB
    assert notifier.tickets == [info]
    stored = repository.get(info.id)
    assert stored is not None and stored.sender_id == "6281234567890"
    assert stored.attachment == "https://contoh.go.id/bukti.pdf"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": "   "}, "subject"),
        ({"chronology": ""}, "chronology"),
        ({"email": "budi@contoh"}, "email"),
        ({"email": "tidak ada"}, "email"),
        ({"attachment": "tidak"}, "attachment"),
    ],
)
def test_create_rejects_invalid_fields(repository, changes: dict, field: str) -> None:
    service = TicketService(repository, tz=WIB)
    with pytest.raises(TicketValidationError) as caught:
        service.create(_draft(**changes))
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_create_without_attachment(repository) -> None:
    info = TicketService(repository, tz=WIB).create(_draft(attachment=None))
    assert info.attachment is None


def test_create_retries_on_id_collision(repository: TicketRepository) -> None:
    taken = generate_ticket_id(NOW, WIB, random.Random(3))
    repository.add(ticket_id=taken, subject="s", chronology="c", email="a@contoh.go.id")
    service = TicketService(repository, tz=WIB, clock=lambda: NOW, rng=random.Random(3))
    info = service.create(_draft())
    assert info.id != taken
    assert repository.exists(taken) and repository.exists(info.id)


@pytest.mark.parametrize(
    "notifier",
    [RecordingNotifier(result=False), RecordingNotifier(error=RuntimeError("smtp bug"))],
)
def test_notifier_failure_never_loses_the_ticket(repository, notifier, caplog) -> None:
    service = TicketService(repository, notifier=notifier, tz=WIB)
    with caplog.at_level(logging.WARNING):
        info = service.create(_draft())
    assert repository.exists(info.id)
    assert info.id in caplog.text


def test_get_status_accepts_loose_spelling_and_unknown_ids(repository) -> None:
    service = TicketService(repository, tz=WIB, clock=lambda: NOW)
    info = service.create(_draft())
    loose = info.id.replace("-", " ").lower()
    assert service.get_status(loose) == info
    assert service.get_status(f"cek status tiket {info.id}") == info
    assert service.get_status("20260414-ZZZZZZ") is None
    assert service.get_status("tiket saya") is None


def test_update_status_gives_indonesian_labels(repository) -> None:
    service = TicketService(repository, tz=WIB)
    info = service.create(_draft())
    for status, label in STATUS_LABELS.items():
        updated = service.update_status(info.id, status, public_reply="Balasan petugas")
        assert updated is not None
        assert (updated.status, updated.status_label) == (status, label)
    assert service.get_status(info.id).public_reply == "Balasan petugas"
    assert STATUS_LABELS["in_progress"] == "Sedang diproses"
    assert service.update_status("20260414-ZZZZZZ", "closed") is None


# --- one ticket per form submission -------------------------------------------------------

KEY = form_submission_key("6281234567890", 1776146400.123456)


@pytest.fixture
def ticket_count(tmp_path):
    """How many tickets the `repository` fixture's database holds."""

    def count() -> int:
        with closing(sqlite3.connect(tmp_path / "helpdesk.db")) as db:
            return int(db.execute("SELECT COUNT(*) FROM ticket").fetchone()[0])

    return count


def test_the_same_submission_twice_makes_one_ticket_with_one_id(repository, ticket_count) -> None:
    notifier = RecordingNotifier()
    service = TicketService(repository, notifier=notifier, tz=WIB, clock=lambda: NOW)

    first = service.create(_draft(), submission_key=KEY)
    again = service.create(_draft(), submission_key=KEY)

    assert again.id == first.id
    assert first.id == f"20260414-{submission_letters(KEY)}"
    assert ticket_count() == 1
    assert [t.id for t in notifier.tickets] == [first.id]  # notified once


def test_a_new_form_run_makes_a_new_ticket(repository, ticket_count) -> None:
    service = TicketService(repository, tz=WIB, clock=lambda: NOW)
    first = service.create(_draft(), submission_key=KEY)
    second_run = form_submission_key("6281234567890", 1776146999.5)

    second = service.create(_draft(), submission_key=second_run)

    assert second.id != first.id
    assert ticket_count() == 2


def test_a_retry_after_midnight_finds_the_ticket_of_the_day_before(
    repository, ticket_count
) -> None:
    clock = iter([NOW.replace(hour=16, minute=59), NOW.replace(hour=17, minute=1)])
    service = TicketService(repository, tz=WIB, clock=lambda: next(clock))

    first = service.create(_draft(), submission_key=KEY)  # 23:59 WIB on the 13th
    again = service.create(_draft(), submission_key=KEY)  # 00:01 WIB on the 14th

    assert first.id.startswith("20260413-")
    assert again.id == first.id
    assert ticket_count() == 1


def test_another_conversations_ticket_on_the_derived_id_is_skipped_stably(
    repository, ticket_count
) -> None:
    taken = f"20260414-{submission_letters(KEY)}"
    repository.add(
        ticket_id=taken, subject="s", chronology="c", email=None, sender_id="6289999999999"
    )
    service = TicketService(repository, tz=WIB, clock=lambda: NOW)

    first = service.create(_draft(), submission_key=KEY)
    again = service.create(_draft(), submission_key=KEY)

    assert first.id == f"20260414-{submission_letters(KEY, 1)}"
    assert again.id == first.id
    assert repository.get(taken).sender_id == "6289999999999"
    assert ticket_count() == 2


def test_every_derived_id_taken_falls_back_to_a_random_id(
    repository, monkeypatch, ticket_count
) -> None:
    monkeypatch.setattr(
        "helpdesk.tickets.service.submission_letters", lambda key, attempt=0: "AAAAAA"
    )
    repository.add(
        ticket_id="20260414-AAAAAA", subject="s", chronology="c", email=None, sender_id="x"
    )
    service = TicketService(repository, tz=WIB, clock=lambda: NOW, rng=random.Random(5))

    info = service.create(_draft(), submission_key=KEY)

    assert info.id != "20260414-AAAAAA" and TICKET_ID_PATTERN.fullmatch(info.id)
    assert ticket_count() == 2


def test_without_a_submission_key_each_call_makes_a_ticket(repository, ticket_count) -> None:
    service = TicketService(repository, tz=WIB, clock=lambda: NOW)
    assert service.create(_draft()).id != service.create(_draft()).id
    assert ticket_count() == 2


def test_submission_letters_are_stable_and_differ_per_key_and_attempt() -> None:
    assert submission_letters(KEY) == submission_letters(KEY)
    assert re.fullmatch(r"[A-Z]{6}", submission_letters(KEY))
    other = form_submission_key("6281234567890", 1776146400.123457)
    candidates = {submission_letters(KEY), submission_letters(other), submission_letters(KEY, 1)}
    assert len(candidates) == 3


def test_find_by_sender_and_letters_refuses_like_wildcards(repository) -> None:
    with pytest.raises(ValueError):
        repository.find_by_sender_and_letters("6281234567890", "%%%%%%")


def test_a_ticket_goes_to_the_division_serving_its_category(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'routing.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    repository = TicketRepository(sessions)
    divisions = DivisionRepository(sessions)
    sakti = divisions.create("Tim SAKTI", "SAKTI").id
    other = divisions.create("Tim Lain", "lain").id
    asked = []

    def division_for(category: str) -> int | None:
        asked.append(category)
        return divisions.id_for_category(category)

    service = TicketService(repository, tz=WIB, division_for_category=division_for)

    routed = service.create(_draft(category="SAKTI"))
    unknown = service.create(_draft(category="pajak"))
    none = service.create(_draft())
    given = service.create(_draft(category="SAKTI", division_id=other))
    owners = [repository.get(t.id).division_id for t in (routed, unknown, none, given)]
    assert owners == [sakti, None, None, other]
    assert asked == ["SAKTI", "pajak"]  # not asked without a category or with a division

    # A division deleted between the lookup and the insert: the ticket is kept, unrouted.
    divisions.delete(other)
    orphan = service.create(_draft(division_id=other))
    assert repository.get(orphan.id).division_id is None
    engine.dispose()


def test_a_failing_division_lookup_never_loses_the_ticket(repository, caplog) -> None:
    def broken(category: str) -> int | None:
        raise RuntimeError("database is locked")

    service = TicketService(repository, tz=WIB, division_for_category=broken)
    with caplog.at_level(logging.ERROR):
        info = service.create(_draft(category="SAKTI"))

    assert repository.get(info.id).division_id is None
    assert "could not find the division" in caplog.text


def test_tickets_created_are_counted_once_per_ticket_by_channel(repository) -> None:
    from prometheus_client import REGISTRY

    def created(channel: str) -> float:
        labels = {"channel": channel}
        return REGISTRY.get_sample_value("helpdesk_tickets_created_total", labels) or 0.0

    service = TicketService(repository, tz=WIB, clock=lambda: NOW)
    whatsapp, none = created("whatsapp"), created("none")

    service.create(_draft(), submission_key=KEY)
    service.create(_draft(), submission_key=KEY)  # the same form sent again: no new ticket
    service.create(_draft(channel=None))

    assert created("whatsapp") == whatsapp + 1
    assert created("none") == none + 1

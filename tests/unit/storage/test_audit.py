"""The audit trail's chain: appended in order by any number of writers, and broken - found by
`verify` - when a record is altered, removed or inserted afterwards (SQLite and Postgres)."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from helpdesk.security.audit import AuditTrail, read_export, verify_records
from helpdesk.storage.audit import GENESIS, AuditFilter, AuditRepository

NIK = "3201234567890001"
PHONE = "6281234567890"


@pytest.fixture
def trail(session_factory) -> AuditTrail:
    return AuditTrail(AuditRepository(session_factory))


def fill(trail: AuditTrail, count: int = 5) -> None:
    for number in range(count):
        trail.lookup("whatsapp", PHONE, "nik", NIK, "found" if number % 2 else "not_found")
        trail.record(
            "desk:siti", "desk.conversations.reply", result="ok", target=f"handoff:{number}"
        )


def run_sql(engine, statement: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_records_are_chained_from_the_genesis_and_masked(trail) -> None:
    fill(trail, 2)
    records = list(trail.repository.walk())
    assert [r.id for r in records] == sorted(r.id for r in records)
    assert records[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:]))
    first = records[0]
    assert (first.actor, first.action, first.target) == (
        "whatsapp:62812****7890",
        "lookup.nik",
        "nik:3201********0001",
    )
    result = trail.verify()
    assert result.ok and result.checked == 4 and result.head == records[-1].hash
    assert result.describe().startswith("OK: 4 records")


def test_free_text_in_the_detail_is_masked(trail) -> None:
    record = trail.record(
        "desk:admin",
        "desk.admin_users.user_create",
        result="ok",
        detail={"note": f"NIK {NIK}, hp {PHONE}", "ids": [NIK], "nested": {"phone": PHONE}},
    )
    assert NIK not in record.detail_text and PHONE not in record.detail_text
    assert record.detail["ids"] == ["************0001"]


def test_an_altered_record_breaks_the_chain_at_that_record(trail, engine) -> None:
    fill(trail)
    victim = list(trail.repository.walk())[3]
    run_sql(engine, "UPDATE audit_event SET result = 'found' WHERE id = :id", id=victim.id)

    result = trail.verify()

    assert not result.ok and result.broken_at == victim.id
    assert "content" in result.reason and result.describe().startswith("BROKEN")


def test_a_record_rehashed_after_an_edit_still_breaks_the_next_link(trail, engine) -> None:
    fill(trail)
    records = list(trail.repository.walk())
    victim = records[3]
    forged = victim.__class__(**{**victim.__dict__, "result": "refused"})
    run_sql(
        engine,
        "UPDATE audit_event SET result = 'refused', hash = :hash WHERE id = :id",
        hash=forged.expected_hash(),
        id=victim.id,
    )

    result = trail.verify()

    assert result.broken_at == records[4].id and "link" in result.reason


def test_a_removed_record_breaks_the_chain(trail, engine) -> None:
    fill(trail)
    records = list(trail.repository.walk())
    run_sql(engine, "DELETE FROM audit_event WHERE id = :id", id=records[2].id)

    assert trail.verify().broken_at == records[3].id


def test_removing_the_newest_records_is_found_against_an_anchor(trail, engine) -> None:
    fill(trail)
    anchor = trail.verify().head
    newest = list(trail.repository.walk())[-1]
    run_sql(engine, "DELETE FROM audit_event WHERE id = :id", id=newest.id)

    assert trail.verify().ok  # the shortened chain is consistent in itself...
    result = trail.verify(anchor=anchor)
    assert not result.ok and result.anchor_found is False  # ...but the anchor is gone
    fill(trail, 1)
    assert trail.verify(anchor=list(trail.repository.walk())[0].hash).anchor_found


def test_concurrent_writers_keep_one_chain(trail) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for number in range(15):
                trail.record(
                    f"desk:agent{worker}", "desk.queue.take", result="ok", target=str(number)
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    result = trail.verify()
    assert result.ok and result.checked == 60


def test_search_filters_and_pages(trail) -> None:
    fill(trail, 4)
    repo = trail.repository
    assert len(repo.search(AuditFilter(action="lookup"))) == 4
    assert [r.result for r in repo.search(AuditFilter(action="lookup", result="found"))] == [
        "found",
        "found",
    ]
    assert len(repo.search(AuditFilter(actor="desk:siti"))) == 4
    assert len(repo.search(AuditFilter(target="nik:3201"))) == 4
    assert repo.search(AuditFilter(action="lookup%")) == []  # a prefix, not a pattern
    page = repo.search(limit=3)
    assert len(page) == 3 and page[0].id > page[-1].id
    rest = repo.search(limit=10, before_id=page[-1].id)
    assert len(rest) == 5 and rest[0].id < page[-1].id
    now = datetime.now(timezone.utc)
    assert repo.search(AuditFilter(since=now + timedelta(minutes=1))) == []
    assert len(repo.search(AuditFilter(until=now + timedelta(minutes=1)), limit=100)) == 8
    assert repo.count() == 8 and "lookup.nik" in repo.actions()
    with pytest.raises(ValueError):
        repo.search(AuditFilter(since=datetime(2026, 1, 1)))


def test_an_export_verifies_off_the_database_and_a_changed_line_does_not(trail) -> None:
    fill(trail, 3)
    out = io.StringIO()
    assert trail.export(out) == 6
    exported = out.getvalue()
    assert NIK not in exported and PHONE not in exported

    assert verify_records(read_export(io.StringIO(exported))).ok
    tampered = exported.replace('"result": "not_found"', '"result": "found"', 1)
    assert not verify_records(read_export(io.StringIO(tampered))).ok
    with pytest.raises(ValueError, match="line 2"):
        list(read_export(io.StringIO(exported.splitlines()[0] + "\n{}\n")))

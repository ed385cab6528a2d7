"""Long button payloads in the database: content-addressed, shared, purged when old."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from helpdesk.storage.button_payloads import PAYLOAD_LIMIT, ButtonPayloadRepository
from helpdesk.storage.db import session_scope
from helpdesk.storage.models import ButtonPayload, utcnow

LONG = "/ask_question" + '{"faq_id": "sakti-reset-password", "q": "' + "x" * 300 + '"}'


@pytest.fixture
def repository(session_factory) -> ButtonPayloadRepository:
    return ButtonPayloadRepository(session_factory)


def test_saved_payloads_are_read_back_by_another_repository(repository, session_factory) -> None:
    assert repository.save("wa-payload:abc", LONG) is True
    assert ButtonPayloadRepository(session_factory).get("wa-payload:abc") == LONG
    assert repository.get("wa-payload:unknown") is None


def test_saving_a_known_id_again_keeps_the_first_row(repository) -> None:
    assert repository.save("tg:1", LONG)
    assert repository.save("tg:1", LONG) is False
    assert repository.get("tg:1") == LONG


@pytest.mark.parametrize(
    ("short_id", "payload"),
    [("", LONG), ("tg:1", ""), ("x" * 129, LONG), ("tg:1", "y" * (PAYLOAD_LIMIT + 1))],
)
def test_bad_values_are_refused(repository, short_id: str, payload: str) -> None:
    with pytest.raises(ValueError):
        repository.save(short_id, payload)


def test_purge_forgets_only_old_payloads(repository, session_factory) -> None:
    repository.save("tg:old", "/old" + "x" * 100)
    repository.save("tg:new", "/new" + "x" * 100)
    with session_scope(session_factory) as session:
        session.execute(
            update(ButtonPayload)
            .where(ButtonPayload.short_id == "tg:old")
            .values(created_at=utcnow() - timedelta(days=100))
        )
    assert repository.purge(timedelta(days=90)) == 1
    assert repository.get("tg:old") is None and repository.get("tg:new") is not None

"""The reply ledger (`sent_reply`) on the inbound message store: record once, read, forget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from helpdesk.storage.db import session_scope
from helpdesk.storage.inbound_messages import InboundMessageRepository
from helpdesk.storage.models import SentReply, utcnow


@pytest.fixture
def repository(session_factory) -> InboundMessageRepository:
    return InboundMessageRepository(session_factory)


def test_replies_are_recorded_once_per_channel_cause_and_number(
    repository, session_factory
) -> None:
    assert repository.record_reply("whatsapp", "wamid.A", 1)
    assert repository.record_reply("whatsapp", "wamid.A", 2)
    assert not repository.record_reply("whatsapp", "wamid.A", 1)  # another process, same reply
    assert repository.record_reply("telegram", "wamid.A", 1)
    assert repository.record_reply("whatsapp", "handoff:7", 1)
    other = InboundMessageRepository(session_factory)
    assert other.replies_sent("whatsapp", "wamid.A") == {1, 2}
    assert other.replies_sent("telegram", "wamid.A") == {1}
    assert other.replies_sent("whatsapp", "handoff:7") == {1}
    assert other.replies_sent("whatsapp", "wamid.B") == frozenset()


@pytest.mark.parametrize(
    ("channel", "cause", "seq"), [("", "wamid.A", 1), ("whatsapp", "", 1), ("whatsapp", "x", 0)]
)
def test_bad_values_are_refused(repository, channel: str, cause: str, seq: int) -> None:
    with pytest.raises(ValueError):
        repository.record_reply(channel, cause, seq)


def test_purge_forgets_only_old_replies(repository, session_factory) -> None:
    repository.record_reply("whatsapp", "old", 1)
    repository.record_reply("whatsapp", "new", 1)
    with session_scope(session_factory) as session:
        session.execute(
            update(SentReply)
            .where(SentReply.cause == "old")
            .values(sent_at=utcnow() - timedelta(days=8))
        )
    assert repository.purge_replies(timedelta(days=7)) == 1
    assert repository.replies_sent("whatsapp", "old") == frozenset()
    assert repository.replies_sent("whatsapp", "new") == {1}

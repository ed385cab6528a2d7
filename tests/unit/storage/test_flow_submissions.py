"""What citizens gave in guided flows: stored when a flow ends, read back per sender."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk.storage.flow_submissions import FlowSubmissionRepository


@pytest.fixture
def repository(session_factory) -> FlowSubmissionRepository:
    return FlowSubmissionRepository(session_factory)


def test_a_submission_is_read_back_in_the_order_collected(repository) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    data = {"nama": "Siti Aminah", "hp": "6281234567890", "topik": "Perencanaan Rumah"}

    stored = repository.add(
        "6281234567890",
        channel="whatsapp",
        flow_id="konsultasi",
        flow_title="Konsultasi Rumah Swadaya",
        data=data,
        outcome="faq:bsps-syarat",
    )
    repository.add(
        "6289999", flow_id="konsultasi", flow_title="K", data={"nama": "X"}, outcome="menu"
    )

    (found,) = repository.recent("6281234567890", since=before)
    assert found == stored and list(found.data) == ["nama", "hp", "topik"]
    assert found.summary() == "nama: Siti Aminah\nhp: 6281234567890\ntopik: Perencanaan Rumah"
    assert found.channel == "whatsapp" and found.outcome == "faq:bsps-syarat"
    assert repository.recent("6281234567890", since=datetime.now(timezone.utc) + timedelta(1)) == []
    assert repository.recent("6281234567890", since=before, until=before) == []
    with pytest.raises(ValueError):
        repository.recent("6281234567890", since=datetime(2026, 1, 1))

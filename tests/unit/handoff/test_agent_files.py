"""Files agents send with a reply (helpdesk.handoff.agent_files): the checks, the store with
the citizen recorded, and the worker relaying the file's reference to the Rasa server.

The worker runs on real `Services` (temp SQLite, a temp var directory for the file store)
and the fake Rasa HTTP API of test_worker.py.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from helpdesk.handoff.agent_files import (
    ATTACHMENT_KEY,
    FileRefused,
    check_upload,
    clean_filename,
    read_agent_file,
    store_agent_file,
)
from helpdesk.handoff.service import HandoffError
from helpdesk.rasa_bridge.events import RASA_EVENTS
from helpdesk.services import Services
from helpdesk.settings import Settings
from helpdesk.storage.attachments import MAX_BYTES
from tests.unit.handoff.test_worker import SENDER, FakeRasa, assigned_handoff, make_worker

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def services(session_factory, tmp_path) -> Services:
    settings = dataclasses.replace(
        Settings(), handoff_timeout_minutes=15.0, smtp_host="", var_dir=tmp_path / "var"
    )
    return Services(settings, session_factory=session_factory)


@pytest.fixture
def tracker(tmp_path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    RASA_EVENTS.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def rasa(tracker) -> FakeRasa:
    return FakeRasa(tracker)


# --- the checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (PDF, "Surat Balasan.PDF", ("Surat Balasan.PDF", "application/pdf")),
        (PNG, "C:\\Users\\rina\\tangkapan layar.png", ("tangkapan layar.png", "image/png")),
        (b"no;nama\n1;Budi\n", "data.csv", ("data.csv", "text/csv")),
    ],
)
def test_accepted_files_get_their_type_from_the_name(data, name, expected) -> None:
    assert check_upload(data, name) == expected


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "kosong.pdf", "empty"),
        (b"MZ\x90\x00", "setup.exe", "type not accepted"),
        (b"MZ\x90\x00", "foto.png", "type not accepted"),  # not what its name says
        (b"%PDF-" + b"0" * MAX_BYTES, "besar.pdf", "too large"),
        (PDF, "tanpa-ekstensi", "type not accepted"),
    ],
)
def test_refused_files_say_why(data, name, reason) -> None:
    with pytest.raises(FileRefused) as refused:
        check_upload(data, name)
    assert refused.value.reason == reason


def test_file_names_are_cleaned_and_cut() -> None:
    assert clean_filename('../../etc/"pass\x00wd".txt') == "pass_wd_.txt"
    long = clean_filename("a" * 300 + ".pdf")
    assert len(long) == 128 and long.endswith(".pdf")


def test_a_stored_file_has_the_citizen_as_its_party(services) -> None:
    files = services.attachment_files
    stored = store_agent_file(files, PDF, "balasan.pdf", SENDER)
    [listed] = files.of_sender(SENDER)
    assert listed["id"] == stored.reference and listed["filename"] == "balasan.pdf"
    # The citizen's erasure removes it.
    assert files.forget_sender(SENDER) == 1
    assert files.path_of(stored.reference) is None


# --- the outbox and the worker ---------------------------------------------------------------


def test_a_file_only_reply_is_relayed_with_the_files_reference(
    services, session_factory, rasa, tracker
) -> None:
    handoff, agent = assigned_handoff(services, session_factory)
    stored = store_agent_file(services.attachment_files, PDF, "surat.pdf", SENDER)
    with pytest.raises(HandoffError):
        services.handoff.reply(handoff.id, agent, "   ")  # neither text nor file
    message = services.handoff.reply(handoff.id, agent, "", attachment=stored)
    with_text = services.handoff.reply(handoff.id, agent, "Berikut fotonya.", attachment=stored)
    worker = make_worker(services, rasa, tracker)

    report = worker.run_once()

    assert report.delivered == [message.id, with_text.id]
    (_, _, text, metadata), (_, _, second_text, second) = rasa.calls
    assert text == "" and second_text == "Berikut fotonya."
    assert metadata[ATTACHMENT_KEY] == {
        "id": stored.reference,
        "filename": "surat.pdf",
        "type": "application/pdf",
    }
    assert metadata["handoff_message_id"] == message.id
    assert second[ATTACHMENT_KEY]["id"] == stored.reference
    # What the output channel reads from the store with that metadata.
    sent = read_agent_file(services.attachment_files, metadata[ATTACHMENT_KEY])
    assert sent is not None and (sent.data, sent.filename) == (PDF, "surat.pdf")
    row = services.handoff_messages.get(message.id)
    assert (row.status, row.attachment_key, row.attachment_name) == (
        "sent",
        stored.reference,
        "surat.pdf",
    )


def test_a_reply_whose_file_was_erased_before_it_went_out_fails(
    services, session_factory, rasa, tracker
) -> None:
    handoff, agent = assigned_handoff(services, session_factory)
    stored = store_agent_file(services.attachment_files, PNG, "foto.png", SENDER)
    message = services.handoff.reply(handoff.id, agent, "Foto terlampir.", attachment=stored)
    later = services.handoff.reply(handoff.id, agent, "Ada lagi yang bisa dibantu?")
    services.attachment_files.forget_sender(SENDER)  # the citizen's erasure
    worker = make_worker(services, rasa, tracker, offset=timedelta(0))

    report = worker.run_once()

    assert services.handoff_messages.get(message.id).status == "failed"
    assert report.delivered == [later.id]
    assert [call[2] for call in rasa.calls] == ["Ada lagi yang bisa dibantu?"]

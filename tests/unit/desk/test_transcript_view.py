"""Display items of a handed-over conversation, built from tracker events and the outbox."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine

from helpdesk.desk.transcript_view import (
    Attachment,
    build_transcript,
    channel_label,
    duration_label,
    item_from_event,
    mask_sender_id,
    session_window,
    time_label,
    wait_label,
)
from helpdesk.rasa_bridge.events import RASA_EVENTS, TrackerEvent
from helpdesk.storage.handoff_messages import HandoffMessageRecord
from helpdesk.storage.handoffs import HandoffRecord

JAKARTA = ZoneInfo("Asia/Jakarta")
T0 = datetime(2026, 4, 14, 2, 0, tzinfo=timezone.utc)  # 09.00 WIB


def handoff(**fields) -> HandoffRecord:
    values = dict(
        id=7,
        sender_id="628111",
        channel="whatsapp",
        status="waiting",
        name="Sari",
        question="SP2D",
        category=None,
        division_id=None,
        agent_id=None,
        since_ts=T0.timestamp(),
        ticket_id=None,
        created_at=T0,
        assigned_at=None,
        first_response_at=None,
        ended_at=None,
        bot_resumed_at=None,
        resume_attempts=0,
        updated_at=T0,
    )
    values.update(fields)
    return HandoffRecord(**values)


def event(event_id: int, type_name: str, offset: float = 0, **data) -> TrackerEvent:
    return TrackerEvent(event_id, type_name, T0.timestamp() + offset, {"event": type_name, **data})


@pytest.mark.parametrize(
    ("sender", "masked"),
    [
        ("6281234567890", "*********7890"),
        ("+62 812-3456-7890", "*********7890"),
        ("123456789", "*****6789"),  # Telegram chat ids are numbers too
        ("c0ffee12-web-session", "c0ffee12-web-session"),
        ("12345", "12345"),  # too short to be a phone number
    ],
)
def test_mask_sender_id(sender, masked):
    assert mask_sender_id(sender) == masked


def test_labels():
    assert channel_label("whatsapp") == "WhatsApp"
    assert channel_label("socketio") == "Web chat"
    assert channel_label("rest") == "REST"
    assert channel_label(None) == "Tidak diketahui"
    assert channel_label("line") == "line"
    assert wait_label(T0, T0 + timedelta(minutes=4, seconds=59)) == "menunggu 4 mnt"
    assert wait_label(T0, T0 + timedelta(seconds=30)) == "menunggu < 1 mnt"
    assert duration_label(timedelta(minutes=65)) == "1 j 5 mnt"
    assert duration_label(timedelta(hours=2)) == "2 j"
    assert time_label(T0, JAKARTA, now=T0) == "09.00"
    assert time_label(T0, JAKARTA, now=T0 + timedelta(days=1)) == "14/04 09.00"


def test_citizen_messages_with_media_and_intent():
    photo = item_from_event(
        event(
            3,
            "user",
            text="AgACAgUAAx",
            parse_data={"intent": {"name": "nlu_fallback"}},
            metadata={
                "media": {"type": "photo", "id": "AgACAgUAAx", "caption": "bukti", "file_size": 9}
            },
        ),
        set(),
    )
    assert photo is not None
    assert (photo.kind, photo.text, photo.key, photo.intent) == (
        "citizen",
        "",
        "e3",
        "nlu_fallback",
    )
    assert photo.attachment == Attachment(
        kind="photo", label="Gambar", media_id="AgACAgUAAx", caption="bukti"
    )
    document = item_from_event(
        event(
            4,
            "user",
            text="Ini dokumennya",
            metadata={"media": {"type": "document", "id": "m1", "filename": "spm.pdf"}},
        ),
        set(),
    )
    assert document is not None and document.text == "Ini dokumennya"
    assert document.attachment is not None and document.attachment.label == "Dokumen"
    assert document.attachment.filename == "spm.pdf"
    assert item_from_event(event(5, "user", text="  "), set()) is None
    assert item_from_event(event(6, "action", name="action_listen"), set()) is None


def test_bot_messages_buttons_and_agent_replies():
    bot = item_from_event(
        event(
            1,
            "bot",
            text="Pilih menu:",
            data={"buttons": [{"title": "SP2D", "payload": "/sp2d"}, {"payload": "/lain"}, "x"]},
        ),
        set(),
    )
    assert bot is not None and bot.kind == "bot" and bot.buttons == ("SP2D", "/lain")
    delivered = event(2, "bot", text="Halo", metadata={"handoff_message_id": 5, "agent": "Ani"})
    assert item_from_event(delivered, {5}) is None  # shown from the outbox instead
    other = item_from_event(delivered, {6})  # a reply of another handoff of the session
    assert other is not None and (other.kind, other.author, other.status) == (
        "agent",
        "Ani",
        "sent",
    )
    assert item_from_event(event(3, "bot", text="", data={}), set()) is None


def test_build_transcript_merges_tracker_outbox_and_markers(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    RASA_EVENTS.metadata.create_all(engine)
    rows = [
        ("session_started", -900, {}),
        ("user", -850, {"text": "sesi lama"}),
        ("session_started", -300, {}),
        ("user", -200, {"text": "halo"}),
        ("user", 60, {"text": "masih menunggu"}),
        ("bot", 130, {"text": "Balasan", "metadata": {"handoff_message_id": 1, "agent": "Ani"}}),
        ("session_started", 4000, {}),
        ("user", 4001, {"text": "sesi baru"}),
    ]
    with engine.begin() as connection:
        for type_name, offset, data in rows:
            connection.execute(
                RASA_EVENTS.insert().values(
                    sender_id="628111",
                    type_name=type_name,
                    timestamp=T0.timestamp() + offset,
                    data=json.dumps({"event": type_name, **data}),
                )
            )
    record = handoff(
        status="resolved",
        agent_id=2,
        assigned_at=T0 + timedelta(seconds=100),
        ended_at=T0 + timedelta(seconds=600),
    )
    outbox = [
        HandoffMessageRecord(1, 7, 2, "Balasan", "sent", 1, T0 + timedelta(seconds=120), None),
        HandoffMessageRecord(2, 7, 2, "Gagal", "failed", 8, T0 + timedelta(seconds=200), None),
    ]
    window = session_window(engine, record)
    assert (window.after_id, window.before_id) == (3, 7)
    transcript = build_transcript(engine, record, outbox, {2: "Ani"})
    assert [(item.kind, item.text, item.status) for item in transcript.items] == [
        ("citizen", "halo", None),
        ("marker", "Warga meminta bicara dengan petugas", None),
        ("citizen", "masih menunggu", None),
        ("marker", "Percakapan ditangani oleh Ani", None),
        ("agent", "Balasan", "sent"),
        ("agent", "Gagal", "failed"),
        ("marker", "Percakapan diselesaikan petugas", None),
    ]
    assert transcript.cursor == 6
    assert transcript.items[5].as_json(JAKARTA, now=T0)["status_label"] == "Gagal dikirim"

    expired = handoff(status="expired", ticket_id="20260414-ABCDEF", ended_at=T0)
    assert build_transcript(None, expired, [], {}).items[-1].text.endswith("tiket 20260414-ABCDEF")
    engine.dispose()


def test_a_button_payload_is_shown_as_the_choice_not_raw():
    pressed = item_from_event(event(7, "user", text='/csat{"csat_rating": 5}'), set())
    assert pressed.text == "[memilih tombol: csat]"
    assert item_from_event(event(8, "user", text="/handoff"), set()).text == (
        "[memilih tombol: handoff]"
    )
    assert item_from_event(event(9, "user", text="a/b"), set()).text == "a/b"

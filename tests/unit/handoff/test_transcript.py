"""Tests of helpdesk.handoff.transcript: the current session of a Rasa tracker as plain text."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from helpdesk.handoff.transcript import Turn, format_transcript, turns_from_events

WITA = ZoneInfo("Asia/Makassar")
WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2026, 11, 20, 1, 30, tzinfo=timezone.utc)  # 09.30 WITA


def at(minutes: int) -> float:
    return T0.timestamp() + minutes * 60


def test_turns_are_the_user_and_bot_messages_of_the_latest_session():
    events = [
        {"event": "user", "text": "sesi lama", "timestamp": at(-60)},
        {"event": "session_started", "timestamp": at(-1)},
        {"event": "action", "name": "action_listen", "timestamp": at(0)},
        {"event": "user", "text": "  cek sp2d  ", "timestamp": at(0)},
        {"event": "slot", "name": "requested_slot", "value": "sp2d_number"},
        {"event": "bot", "text": "Nomor SP2D?", "timestamp": at(1)},
        {"event": "bot", "text": "", "data": {"buttons": []}, "timestamp": at(1)},
        {"event": "bot", "text": None, "timestamp": at(1)},
        {"event": "user", "text": "petugas", "timestamp": at(2)},
    ]

    assert turns_from_events(events) == [
        Turn("user", "cek sp2d", T0),
        Turn("bot", "Nomor SP2D?", datetime.fromtimestamp(at(1), tz=timezone.utc)),
        Turn("user", "petugas", datetime.fromtimestamp(at(2), tz=timezone.utc)),
    ]


def test_a_restart_also_starts_a_new_transcript():
    events = [
        {"event": "user", "text": "sebelum restart", "timestamp": at(0)},
        {"event": "restart", "timestamp": at(1)},
        {"event": "user", "text": "sesudah restart", "timestamp": at(2)},
    ]

    assert [t.text for t in turns_from_events(events)] == ["sesudah restart"]


def test_a_tracker_without_session_start_is_taken_whole_and_empty_is_empty():
    events = [{"event": "user", "text": "halo"}, {"event": "bot", "text": "Halo!"}]

    assert turns_from_events(events) == [Turn("user", "halo"), Turn("bot", "Halo!")]
    assert turns_from_events([]) == []
    assert turns_from_events([{"event": "session_started"}]) == []


def test_format_names_speakers_with_local_times():
    turns = [Turn("user", "cek sp2d", T0), Turn("bot", "Nomor SP2D?", T0)]

    assert format_transcript(turns, WITA) == "[09.30] Warga: cek sp2d\n[09.30] Asisten: Nomor SP2D?"
    assert format_transcript(turns, WIB).startswith("[08.30] Warga: ")


def test_format_indents_continuation_lines_and_omits_unknown_times():
    turns = [Turn("bot", "Pilih:\n1. SP2D\n2. Tiket"), Turn("user", "1")]

    assert format_transcript(turns, WITA) == "Asisten: Pilih:\n    1. SP2D\n    2. Tiket\nWarga: 1"


def test_a_long_transcript_keeps_the_newest_turns():
    turns = [Turn("user", f"pesan nomor {i:03d}", T0) for i in range(200)]

    text = format_transcript(turns, WITA, max_chars=500)

    assert text.startswith("…\n")
    assert len(text) <= 500 + 2
    assert text.endswith("[09.30] Warga: pesan nomor 199")
    assert "pesan nomor 000" not in text


def test_an_empty_transcript_says_so():
    assert format_transcript([], WITA) == "(percakapan kosong)"

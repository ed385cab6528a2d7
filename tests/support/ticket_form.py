"""The ticket form as a citizen fills it in, for the tests that file tickets under load
(tests/e2e_live/test_crash_under_load_live.py, the chaos test tests/chaos/run.py)."""

from __future__ import annotations

import re

#: The id the bot tells once the ticket is stored.
TICKET_ID = re.compile(r"nomor (\d{8}-[A-Z]{6})")

#: The ticket form: what the bot asks (a phrase of its question) and what the citizen answers.
FORM = [
    ("Apa perihal", "SP2D kami belum cair"),
    ("ceritakan kronologinya", "Sudah lima hari SP2D kami belum masuk ke rekening satker."),
    ("Jika ada lampiran", "lewati"),
    ("Ke alamat e-mail mana", "bendahara@contoh.go.id"),
    ("Mohon periksa kembali data tiket", "/affirm"),
    # A message that reached Rasa but whose reply was lost is sent again, as the answer to
    # the next question: it may be refused there, and the citizen answers what is asked.
    ("Perihal terlalu singkat", "SP2D kami belum cair"),
    ("Kronologi terlalu singkat", "Sudah lima hari SP2D kami belum masuk ke rekening satker."),
    ("Lampiran harus berupa tautan", "lewati"),
    ("bukan alamat e-mail yang valid", "bendahara@contoh.go.id"),
    ("Mohon pilih salah satu", "/affirm"),
]


def answer_for(said: str) -> str | None:
    """The citizen's answer to what the bot `said`, or None when it asked nothing of the form."""
    return next((answer for asked, answer in FORM if asked in said), None)

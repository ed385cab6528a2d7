"""helpdesk.conversation.question_shape: a question about a service versus a request to run it."""

from __future__ import annotations

import pytest

from helpdesk.conversation.question_shape import is_question_about_service

QUESTIONS_ABOUT_A_SERVICE = [
    "bagaimana cara reset password sakti?",
    "gmn cr reset pw sakti min",
    "akun sakti sy terkunci knp",
    "hp ganti, mfa sakti gmn donk",
    "lapor gratifikasi gmn ya",
    "terima hadiah harus lapor kemana",
    "Bagaimana cara mengecek status SP2D?",
    "cara aktivasi akun digit",
    "apa itu digit",
    "syarat daftar kontrak apa aja",
    "prosedur retur sp2d",
    "mengapa sp2d saya ditolak",
    "ke mana harus mengadu soal pungli",
    "tata cara pendaftaran kontrak",
    "pw sakti lupa, gmn resetnya",
]

REQUESTS_TO_RUN_IT = [
    "reset password sakti saya",
    "tolong reset mfa sakti",
    "akun digit sy keblokir",
    "cek sp2d 260011301000123",
    "reset sakti nik 3201234567890001",
    "apakah sp2d kami sudah terbit?",
    "kontrak yg kami ajukan kemarin statusnya gimana",
    "status tiket 20260412-QWERTY gmn?",
    "gimana progres tiket saya min",
    "buat tiket",
    '/inform{"number":"3"}',
    "",
    "   ",
]


@pytest.mark.parametrize("text", QUESTIONS_ABOUT_A_SERVICE)
def test_how_to_why_and_where_to_questions_are_about_the_service(text):
    assert is_question_about_service(text)


@pytest.mark.parametrize("text", REQUESTS_TO_RUN_IT)
def test_requests_and_own_case_questions_run_the_service(text):
    assert not is_question_about_service(text)

"""The held-out conversation files (tests/conversations) load, and the runner's checks of a
conversation's clock and of the e-mails a turn sent can fail."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from scripts.conversations import (
    ConversationFileError,
    Turn,
    check_mail,
    load_conversations,
)


def test_every_conversation_file_loads_and_names_a_profile() -> None:
    conversations = load_conversations()

    profiles = {c.profile for c in conversations}
    assert {"djpb", "krs", "pandi", "kaltim"} <= profiles
    kaltim = [c for c in conversations if c.profile == "kaltim"]
    assert all(isinstance(c.clock, datetime) for c in kaltim)


def test_a_turn_mail_check_fails_on_a_missing_mail_or_text() -> None:
    turn = Turn(user="kirim", mail=["To: helpdesk@pandi.id", "[Tiket ${ticket}]"])
    mail = "To: helpdesk@pandi.id\nSubject: [Tiket 20261207-ABCDEF] Transfer gagal\nIsi"

    assert check_mail(turn, [mail], {"ticket": "20261207-ABCDEF"}) == []
    assert check_mail(turn, [], {"ticket": "20261207-ABCDEF"}) == [
        "no e-mail holds 'To: helpdesk@pandi.id' (0 sent in the turn)",
        "no e-mail holds '[Tiket 20261207-ABCDEF]' (0 sent in the turn)",
    ]
    assert check_mail(turn, [mail], {"ticket": "20261207-XXXXXX"}) == [
        "no e-mail holds '[Tiket 20261207-XXXXXX]' (1 sent in the turn)"
    ]


def test_a_bad_clock_is_refused_naming_the_conversation(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text(
        "conversations:\n  - name: a\n    clock: besok pagi\n    turns:\n      - user: halo\n"
    )

    with pytest.raises(ConversationFileError, match=r"x.yml: conversations\[0\].clock"):
        load_conversations(tmp_path)

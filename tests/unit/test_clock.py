"""The clock office hours and greetings go by: the system's, or a test clock file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpdesk.clock import ClockFileError, now, read_clock_file
from helpdesk.settings import Settings


def test_without_a_file_it_is_the_system_clock(tmp_path: Path) -> None:
    before = datetime.now(timezone.utc)
    for moment in (now(), now(tmp_path / "missing"), now(_write(tmp_path, "  \n"))):
        assert moment.tzinfo is not None
        assert before - timedelta(seconds=1) <= moment <= datetime.now(timezone.utc)


def test_a_clock_file_moves_it_and_is_read_on_each_call(tmp_path: Path) -> None:
    path = _write(tmp_path, "2026-12-07T19:30:00+08:00")
    settings = Settings.from_env({"HELPDESK_TEST_CLOCK_FILE": str(path)})

    assert settings.now() == datetime(2026, 12, 7, 11, 30, tzinfo=timezone.utc)
    path.write_text("2026-12-08T09:00:00+08:00")
    assert settings.now().astimezone(timezone(timedelta(hours=8))).hour == 9
    assert Settings.from_env({}).test_clock_file is None


@pytest.mark.parametrize("text", ["besok pagi", "2026-12-07T19:30:00"])
def test_a_bad_clock_file_is_refused_and_the_system_clock_used(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(ClockFileError):
        read_clock_file(path)
    assert abs(now(path) - datetime.now(timezone.utc)) < timedelta(seconds=5)


def _write(folder: Path, text: str) -> Path:
    path = folder / "clock"
    path.write_text(text)
    return path

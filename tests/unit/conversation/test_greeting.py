"""Tests of helpdesk.conversation.greeting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from helpdesk.conversation.greeting import POLITE_FORM, display_name, greeting_for, time_of_day

WIB = ZoneInfo("Asia/Jakarta")


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (0, 0, "malam"),
        (3, 59, "malam"),
        (4, 0, "pagi"),
        (10, 59, "pagi"),
        (11, 0, "siang"),
        (14, 59, "siang"),
        (15, 0, "sore"),
        (17, 59, "sore"),
        (18, 0, "malam"),
        (23, 59, "malam"),
    ],
)
def test_time_of_day_boundaries(hour, minute, expected):
    assert time_of_day(datetime(2026, 4, 14, hour, minute, tzinfo=WIB)) == expected


def test_greeting_uses_the_wall_clock_of_the_given_zone():
    utc_morning = datetime(2026, 4, 14, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert greeting_for(utc_morning.astimezone(WIB)) == "Selamat pagi"  # 09:00 WIB
    assert greeting_for(utc_morning.astimezone(ZoneInfo("Asia/Jayapura"))) == "Selamat siang"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"name": "Siti Aminah"}, "Siti Aminah"),
        ({"name": "  Budi \n Santoso  "}, "Budi Santoso"),
        ({"name": ""}, POLITE_FORM),
        ({"name": "   "}, POLITE_FORM),
        ({"name": 123}, POLITE_FORM),
        ({"channel": "rest"}, POLITE_FORM),
        ({}, POLITE_FORM),
        (None, POLITE_FORM),
    ],
)
def test_display_name(metadata, expected):
    assert display_name(metadata) == expected


def test_display_name_is_bounded():
    assert len(display_name({"name": "A" * 500})) == 60

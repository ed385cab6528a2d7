"""Tests of helpdesk.handoff.office_hours."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpdesk.handoff.office_hours import (
    Interval,
    OfficeHours,
    OfficeHoursError,
)
from helpdesk.handoff.office_hours_loader import load_office_hours
from helpdesk.services import Services
from helpdesk.settings import PROJECT_ROOT, Settings

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc

SHIPPED = PROJECT_ROOT / "helpdesk" / "office_hours.yml"

#: The issue's example schedule, with no holidays (weeks of November 2026 have none anyway).
BASIC = """
    timezone: {tz}
    weekly:
      senin-kamis: ["08:00-16:00"]
      jumat: "08:00-11:30"
"""


def write(tmp_path: Path, text: str, name: str = "office_hours.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> OfficeHours:
    return load_office_hours(write(tmp_path, text))


@pytest.fixture(scope="module")
def shipped() -> OfficeHours:
    return load_office_hours(SHIPPED)


def wita(*args: int) -> datetime:
    return datetime(*args, tzinfo=WITA)


# --- the shipped file -------------------------------------------------------------------------


def test_shipped_schedule(shipped):
    assert shipped.tz.key == "Asia/Makassar"
    assert shipped.zone_label == "WITA"
    assert [[i.label for i in day] for day in shipped.weekly] == [
        ["08.00-16.00"],
        ["08.00-16.00"],
        ["08.00-16.00"],
        ["08.00-16.00"],
        ["08.00-11.30"],
        [],
        [],
    ]
    assert shipped.describe() == "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA"


def test_shipped_holidays_2026(shipped):
    by_date = {h.date: h.name for h in shipped.holidays}
    assert len(by_date) == 25  # 17 national holidays and 8 days of cuti bersama
    assert all(day.year == 2026 and name for day, name in by_date.items())
    assert by_date[date(2026, 1, 1)] == "Tahun Baru 2026 Masehi"
    assert by_date[date(2026, 3, 21)] == "Hari Raya Idul Fitri 1447 H"
    assert by_date[date(2026, 8, 17)] == "Hari Kemerdekaan Republik Indonesia"
    assert by_date[date(2026, 12, 25)] == "Hari Raya Natal"
    assert sum(name.startswith("Cuti Bersama") for name in by_date.values()) == 8


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('timezone: WITA\nweekly: {monday: ["25:00-26:00"]}', "weekly.monday: bad time '25:00'"),
        ('timezone: WITA\nweekly: {monday: ["08:60-16:00"]}', "bad time '08:60'"),
        ('timezone: WITA\nweekly: {monday: ["24:00-24:00"]}', "bad time '24:00'"),
        ('timezone: WITA\nweekly: {monday: ["8-16"]}', "bad time '8'"),
        (
            'timezone: WITA\nweekly: {monday: ["16:00-08:00"]}',
            "weekly.monday: interval '16:00-08:00' ends at or before its start",
        ),
        ('timezone: WITA\nweekly: {monday: ["08:00-08:00"]}', "ends at or before its start"),
        (
            'timezone: WITA\nweekly: {monday: ["08:00-12:00", "11:00-16:00"]}',
            "weekly.monday: intervals 08.00-12.00 and 11.00-16.00 overlap",
        ),
        ("timezone: WITA\nweekly: {monday: [10:30]}", "630 is not an interval"),
        ('timezone: WITA\nweekly: {monday: "08:00"}', "is not an interval"),
        ("timezone: WITA\nweekly: {monday: {start: 8}}", "expected a list of intervals"),
        ('timezone: WITA\nweekly: {funday: ["08:00-16:00"]}', "unknown day name 'funday'"),
        ('timezone: WITA\nweekly: {senin-funday: ["08:00-16:00"]}', "unknown day name"),
        ('timezone: WITA\nweekly: {kamis-senin: ["08:00-16:00"]}', "must run from Monday"),
        (
            'timezone: WITA\nweekly: {monday: ["08:00-16:00"], senin: ["09:00-10:00"]}',
            "weekly.senin: Senin is given twice",
        ),
        ("timezone: WITA\nweekly: [monday]", "weekly: expected a mapping"),
        ("timezone: WITA", "weekly: expected a mapping"),
        ('timezone: Asia/Atlantis\nweekly: {monday: "08:00-16:00"}', "unknown time zone"),
        ('timezone: WITB\nweekly: {monday: "08:00-16:00"}', "timezone: unknown time zone 'WITB'"),
        ('weekly: {monday: "08:00-16:00"}', "timezone: missing"),
        (
            'timezone: WITA\nweekly: {}\nholidays: [{date: 2026-02-30, name: "X"}]',
            "holidays[1].date: bad date '2026-02-30'",
        ),
        ("timezone: WITA\nweekly: {}\nholidays: [{date: 17-08-2026, name: X}]", "bad date"),
        ("timezone: WITA\nweekly: {}\nholidays: [{date: 2026-08-17}]", "holidays[1]: missing name"),
        ("timezone: WITA\nweekly: {}\nholidays: [{date: 2026-08-17, name: ''}]", "needs a name"),
        (
            "timezone: WITA\nweekly: {}\nholidays: [{date: 2026-08-17, name: X, when: 1}]",
            "holidays[1]: unknown field(s) when",
        ),
        (
            "timezone: WITA\nweekly: {}\n"
            "holidays: [{date: 2026-08-17, name: A}, {date: 2026-08-17, name: B}]",
            "holidays: date 2026-08-17 is listed twice",
        ),
        ("timezone: WITA\nweekly: {}\nholidays: 2026-08-17", "holidays: expected a list"),
        (
            "timezone: WITA\nweekly: {}\nspecial_days: [{date: 2026-13-01, hours: []}]",
            "special_days[1].date: bad date '2026-13-01'",
        ),
        (
            "timezone: WITA\nweekly: {}\nspecial_days: [{date: 2026-12-31}]",
            "special_days[1]: missing hours",
        ),
        (
            "timezone: WITA\nweekly: {}\n"
            'special_days: [{date: 2026-12-31, hours: ["12:00-08:00"]}]',
            "special_days[1].hours: interval '12:00-08:00' ends at or before its start",
        ),
        ("timezone: WITA\nweekly: {}\nholiday: [{date: 2026-08-17, name: X}]", "unknown field(s)"),
        ("timezone: WITA\nweekly: {}\nversion: 2", "unsupported version 2"),
        ("- just a list", "expected a mapping"),
        ("timezone: [unclosed", "invalid YAML"),
    ],
)
def test_validation_errors_name_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(OfficeHoursError) as info:
        load_office_hours(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(OfficeHoursError, match="office hours file not found"):
        load_office_hours(tmp_path / "nope.yml")


def test_direct_construction_is_validated():
    with pytest.raises(OfficeHoursError, match="expected 7 days"):
        OfficeHours(tz=WITA, weekly=((),) * 6)
    with pytest.raises(OfficeHoursError, match="overlap"):
        OfficeHours(tz=WITA, weekly=((Interval(480, 720), Interval(700, 960)),) + ((),) * 6)
    with pytest.raises(OfficeHoursError, match="ends at or before its start"):
        Interval(600, 600)


def test_accepted_notations(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: Asia/Jayapura
        weekly:
          Senin: ["07.30-12:00", "12:00-16:00"]  # touching intervals are merged
          tuesday-wednesday: 08:00-16:00
          Jum'at: ["13:00-17:00", "08:00-11:30"]  # order does not matter
          sabtu: tutup
          ahad: []
        holidays:
          - {date: "2026-08-17", name: "  Hari Kemerdekaan  "}
        special_days:
          - {date: 2026-12-31, hours: ["20:00-24:00"]}
        """,
    )
    labels = [[i.label for i in day] for day in hours.weekly]
    assert labels == [
        ["07.30-16.00"],
        ["08.00-16.00"],
        ["08.00-16.00"],
        [],
        ["08.00-11.30", "13.00-17.00"],
        [],
        [],
    ]
    assert hours.zone_label == "WIT"
    assert hours.holidays[0].name == "Hari Kemerdekaan"
    jayapura = ZoneInfo("Asia/Jayapura")
    assert hours.is_open(datetime(2026, 12, 31, 23, 59, 59, tzinfo=jayapura))
    assert hours.closing_time(datetime(2026, 12, 31, 21, tzinfo=jayapura)) == datetime(
        2027, 1, 1, tzinfo=jayapura
    )


# --- opening edges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (wita(2026, 11, 20, 8, 0), True),  # Friday
        (wita(2026, 11, 20, 11, 29), True),
        (wita(2026, 11, 20, 11, 29, 59), True),
        (wita(2026, 11, 20, 11, 30), False),
        (wita(2026, 11, 20, 11, 31), False),
        (wita(2026, 11, 20, 7, 59, 59), False),
        (wita(2026, 11, 23, 7, 59), False),  # Monday
        (wita(2026, 11, 23, 8, 0), True),
        (wita(2026, 11, 23, 15, 59), True),
        (wita(2026, 11, 23, 15, 59, 59), True),
        (wita(2026, 11, 23, 16, 0), False),
        (wita(2026, 11, 26, 12, 0), True),  # Thursday
        (wita(2026, 11, 21, 10, 0), False),  # Saturday
        (wita(2026, 11, 22, 10, 0), False),  # Sunday
        (wita(2026, 11, 23, 0, 0), False),
    ],
)
def test_is_open_edges(shipped, moment, is_open):
    assert shipped.is_open(moment) is is_open
    assert shipped.holiday(moment) is None


def test_holiday_on_a_weekday_is_closed_and_named(shipped):
    independence_day = wita(2026, 8, 17, 10, 0)  # a Monday
    assert independence_day.weekday() == 0
    assert not shipped.is_open(independence_day)
    assert shipped.holiday(independence_day) == "Hari Kemerdekaan Republik Indonesia"
    assert shipped.next_opening(independence_day) == wita(2026, 8, 18, 8, 0)
    assert shipped.holiday(wita(2026, 8, 18, 10, 0)) is None


def test_holiday_date_is_taken_in_the_schedule_zone(shipped):
    # 23:30 UTC on 16 August is already 07:30 on 17 August in WITA.
    assert shipped.holiday(datetime(2026, 8, 16, 23, 30, tzinfo=UTC)) == (
        "Hari Kemerdekaan Republik Indonesia"
    )
    assert shipped.holiday(datetime(2026, 8, 16, 15, 59, tzinfo=UTC)) is None


# --- next opening and closing time ------------------------------------------------------------


def test_next_opening_from_friday_afternoon_is_monday_morning(shipped):
    assert shipped.next_opening(wita(2026, 11, 20, 12, 0)) == wita(2026, 11, 23, 8, 0)
    assert shipped.next_opening(wita(2026, 11, 20, 11, 30)) == wita(2026, 11, 23, 8, 0)
    assert shipped.next_opening(wita(2026, 11, 22, 23, 59)) == wita(2026, 11, 23, 8, 0)


def test_next_opening_skips_holidays(shipped):
    # Friday 14 August -> Monday 17 August is Independence Day -> Tuesday.
    assert shipped.next_opening(wita(2026, 8, 14, 12, 0)) == wita(2026, 8, 18, 8, 0)
    # Nyepi, cuti bersama and Idul Fitri: closed from Wednesday 18 to Tuesday 24 March.
    assert shipped.next_opening(wita(2026, 3, 17, 16, 0)) == wita(2026, 3, 25, 8, 0)


def test_next_opening_same_day_and_when_open(shipped):
    assert shipped.next_opening(wita(2026, 11, 23, 6, 0)) == wita(2026, 11, 23, 8, 0)
    now = wita(2026, 11, 23, 9, 15)
    assert shipped.next_opening(now) == now


def test_next_opening_is_in_the_schedule_zone(shipped):
    opening = shipped.next_opening(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))  # 12:00 WITA
    assert opening == wita(2026, 11, 23, 8, 0)
    assert opening is not None and opening.tzinfo == WITA


def test_closing_time(shipped):
    assert shipped.closing_time(wita(2026, 11, 20, 9, 0)) == wita(2026, 11, 20, 11, 30)
    assert shipped.closing_time(wita(2026, 11, 23, 15, 59, 59)) == wita(2026, 11, 23, 16, 0)
    assert shipped.closing_time(wita(2026, 11, 20, 11, 30)) is None
    assert shipped.closing_time(wita(2026, 8, 17, 10, 0)) is None


def test_lunch_break(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: WITA
        weekly:
          monday-thursday: ["08:00-12:00", "13:00-16:00"]
          friday: ["08:00-11:30"]
        """,
    )
    assert hours.is_open(wita(2026, 11, 23, 11, 59))
    assert not hours.is_open(wita(2026, 11, 23, 12, 30))
    assert hours.next_opening(wita(2026, 11, 23, 12, 30)) == wita(2026, 11, 23, 13, 0)
    assert hours.closing_time(wita(2026, 11, 23, 9, 0)) == wita(2026, 11, 23, 12, 0)
    assert hours.describe() == (
        "Senin-Kamis 08.00-12.00 dan 13.00-16.00 WITA, Jumat 08.00-11.30 WITA"
    )


def test_opening_across_midnight_closes_at_the_end(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: WIB
        weekly:
          friday: ["22:00-24:00"]
          saturday: ["00:00-02:00"]
        """,
    )
    friday_night = datetime(2026, 11, 20, 23, 0, tzinfo=WIB)
    assert hours.is_open(friday_night)
    assert hours.is_open(datetime(2026, 11, 21, 1, 0, tzinfo=WIB))
    assert hours.closing_time(friday_night) == datetime(2026, 11, 21, 2, 0, tzinfo=WIB)


def test_never_open(tmp_path):
    hours = load(tmp_path, "timezone: WITA\nweekly: {}\n")
    moment = wita(2026, 11, 23, 9, 0)
    assert not hours.is_open(moment)
    assert hours.next_opening(moment) is None
    assert hours.closing_time(moment) is None
    assert hours.format_next_opening(moment) == ""
    assert hours.describe() == "tutup setiap hari"


def test_next_opening_searches_about_a_year(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: WITA
        weekly: {}
        special_days:
          - {date: 2027-11-01, hours: ["08:00-09:00"]}
        """,
    )
    assert hours.next_opening(wita(2026, 11, 23, 9, 0)) == wita(2027, 11, 1, 8, 0)
    assert hours.next_opening(wita(2026, 10, 1, 9, 0)) is None  # 396 days ahead


# --- special days -----------------------------------------------------------------------------


def test_special_hours(tmp_path):
    hours = load(
        tmp_path,
        BASIC.format(tz="WITA")
        + """
    holidays:
      - {date: 2026-12-24, name: Cuti Bersama Hari Raya Natal}
    special_days:
      - {date: 2026-11-26, hours: ["08:00-12:00"], name: Setengah hari}
      - {date: 2026-11-28, hours: "09:00-11:00"}
      - {date: 2026-11-30, hours: []}
      - {date: 2026-12-24, hours: ["08:00-10:00"], name: Layanan terbatas}
    """,
    )
    # A half day on a Thursday.
    assert hours.is_open(wita(2026, 11, 26, 11, 59))
    assert not hours.is_open(wita(2026, 11, 26, 12, 0))
    assert hours.closing_time(wita(2026, 11, 26, 9, 0)) == wita(2026, 11, 26, 12, 0)
    # Friday afternoon -> the special Saturday morning.
    assert hours.next_opening(wita(2026, 11, 27, 12, 0)) == wita(2026, 11, 28, 9, 0)
    assert hours.is_open(wita(2026, 11, 28, 10, 0))
    # A closed Monday -> Tuesday.
    assert not hours.is_open(wita(2026, 11, 30, 10, 0))
    assert hours.next_opening(wita(2026, 11, 28, 11, 0)) == wita(2026, 12, 1, 8, 0)
    # A special day wins over a holiday on the same date, which keeps its name.
    assert hours.is_open(wita(2026, 12, 24, 9, 0))
    assert not hours.is_open(wita(2026, 12, 24, 10, 0))
    assert hours.holiday(wita(2026, 12, 24, 9, 0)) == "Cuti Bersama Hari Raya Natal"
    # The weekly summary does not change.
    assert hours.describe() == "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA"


def test_upcoming_days_list_holidays_and_special_days_by_date(tmp_path):
    hours = load(
        tmp_path,
        BASIC.format(tz="WITA")
        + """
    holidays:
      - {date: 2026-12-25, name: Hari Raya Natal}
      - {date: 2026-12-24, name: Cuti Bersama Hari Raya Natal}
      - {date: 2026-11-02, name: Sudah lewat}
    special_days:
      - {date: 2026-12-31, hours: ["08:00-12:00"], name: Setengah hari}
      - {date: 2026-12-24, hours: ["08:00-10:00"]}
    """,
    )

    upcoming = hours.upcoming_days(date(2026, 12, 24))

    assert [(day.date, day.holiday) for day in upcoming] == [
        (date(2026, 12, 24), "Cuti Bersama Hari Raya Natal"),
        (date(2026, 12, 25), "Hari Raya Natal"),
        (date(2026, 12, 31), ""),
    ]
    # The hours that apply: the special day wins over the holiday on 24 December.
    assert [[i.label for i in day.intervals] for day in upcoming] == [
        ["08.00-10.00"],
        [],
        ["08.00-12.00"],
    ]
    assert upcoming[0].special is not None and upcoming[1].special is None
    assert upcoming[2].special is not None and upcoming[2].special.name == "Setengah hari"
    assert hours.upcoming_days(date(2026, 12, 24), limit=1) == upcoming[:1]
    assert hours.upcoming_days(date(2027, 1, 1)) == ()
    with pytest.raises(ValueError, match="limit"):
        hours.upcoming_days(date(2026, 12, 24), limit=-1)


def test_shipped_upcoming_days_at_the_end_of_2026(shipped):
    upcoming = shipped.upcoming_days(date(2026, 12, 4))
    assert [(day.date, day.holiday, day.intervals) for day in upcoming] == [
        (date(2026, 12, 24), "Cuti Bersama Hari Raya Natal", ()),
        (date(2026, 12, 25), "Hari Raya Natal", ()),
    ]


# --- time zones -------------------------------------------------------------------------------


def test_same_instant_open_in_wita_closed_in_wib(tmp_path):
    makassar = load_office_hours(write(tmp_path, BASIC.format(tz="WITA"), "wita.yml"))
    jakarta = load_office_hours(write(tmp_path, BASIC.format(tz="Asia/Jakarta"), "wib.yml"))
    instant = datetime(2026, 11, 23, 7, 30, tzinfo=WIB)  # = 08:30 WITA = 00:30 UTC
    assert makassar.is_open(instant)
    assert not jakarta.is_open(instant)
    assert makassar.is_open(instant.astimezone(UTC))
    assert jakarta.next_opening(instant) == datetime(2026, 11, 23, 8, 0, tzinfo=WIB)
    # 15:30 WIB is 16:30 WITA: Makassar has closed, Jakarta is still open.
    late = datetime(2026, 11, 23, 15, 30, tzinfo=WIB)
    assert not makassar.is_open(late)
    assert jakarta.is_open(late)
    assert jakarta.zone_label == "WIB"


@pytest.mark.parametrize(
    "method", ["is_open", "next_opening", "closing_time", "holiday", "format_next_opening"]
)
def test_naive_datetime_is_refused(shipped, method):
    with pytest.raises(ValueError, match="timezone-aware"):
        getattr(shipped, method)(datetime(2026, 11, 23, 9, 0))


@pytest.fixture
def amsterdam(tmp_path) -> OfficeHours:
    return load(
        tmp_path,
        """
        timezone: Europe/Amsterdam
        weekly:
          monday-friday: ["09:00-17:00"]
        """,
    )


@pytest.fixture
def amsterdam_night(tmp_path) -> OfficeHours:
    """A slot in the night of the DST changes (02:00-03:00 is skipped in March, doubled in
    October)."""
    return load(
        tmp_path,
        """
        timezone: Europe/Amsterdam
        weekly:
          sunday: ["02:00-04:00"]
        """,
    )


def test_next_opening_across_dst_start(amsterdam, amsterdam_night):
    # Summer time starts on Sunday 29 March 2026 at 02:00 CET (clocks jump to 03:00 CEST).
    friday = datetime(2026, 3, 27, 18, 0, tzinfo=AMSTERDAM)
    monday = amsterdam.next_opening(friday)
    assert monday is not None
    assert monday.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert (monday.hour, monday.minute, monday.utcoffset()) == (9, 0, timedelta(hours=2))
    assert amsterdam.format_next_opening(datetime(2026, 3, 29, 5, tzinfo=UTC)) == (
        "Senin, 30 Maret 2026 pukul 09.00 CEST"
    )
    # 02:00-03:00 does not exist that night: the Sunday slot opens at 03:00 CEST.
    sunday = amsterdam_night.next_opening(datetime(2026, 3, 29, 1, 0, tzinfo=AMSTERDAM))
    assert sunday is not None
    assert sunday.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert amsterdam_night.is_open(sunday)
    assert amsterdam_night.closing_time(sunday) == datetime(2026, 3, 29, 4, 0, tzinfo=AMSTERDAM)


def test_next_opening_across_dst_end(amsterdam, amsterdam_night):
    # Summer time ends on Sunday 25 October 2026 at 03:00 CEST (clocks go back to 02:00 CET).
    friday = datetime(2026, 10, 23, 18, 0, tzinfo=AMSTERDAM)
    monday = amsterdam.next_opening(friday)
    assert monday is not None
    assert monday.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert monday.utcoffset() == timedelta(hours=1)
    # The Sunday slot 02:00-04:00 lasts three hours that night.
    opens = amsterdam_night.next_opening(datetime(2026, 10, 24, 23, 0, tzinfo=UTC))  # 01:00 CEST
    closes = amsterdam_night.closing_time(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert opens is not None and closes is not None
    assert opens.astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert closes.astimezone(UTC) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    assert amsterdam_night.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET


def test_start_in_the_repeated_hour_is_found_the_second_time(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: Europe/Amsterdam
        weekly:
          sunday: ["02:30-02:45"]
        """,
    )
    after_first = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)  # 02:50 CEST, first pass
    opening = hours.next_opening(after_first)
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert hours.describe() == "Minggu 02.30-02.45 Europe/Amsterdam"


def test_starts_in_the_repeated_hour_are_taken_in_time_order(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: Europe/Amsterdam
        weekly:
          sunday: ["02:30-02:35", "02:50-02:55"]
        """,
    )
    expected = [
        (datetime(2026, 10, 25, 0, 40, tzinfo=UTC), datetime(2026, 10, 25, 0, 50, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, 20, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, 40, tzinfo=UTC), datetime(2026, 10, 25, 1, 50, tzinfo=UTC)),
    ]
    for at, opening in expected:
        found = hours.next_opening(at)
        assert found is not None and found.astimezone(UTC) == opening


# --- texts ------------------------------------------------------------------------------------


def test_describe_groups_consecutive_equal_days(tmp_path):
    hours = load(
        tmp_path,
        """
        timezone: WIB
        weekly:
          monday-tuesday: ["08:00-16:00"]
          wednesday: ["08:00-12:00"]
          thursday: ["08:00-16:00"]
          saturday: ["09:00-11:00"]
        """,
    )
    assert hours.describe() == (
        "Senin-Selasa 08.00-16.00 WIB, Rabu 08.00-12.00 WIB, Kamis 08.00-16.00 WIB, "
        "Sabtu 09.00-11.00 WIB"
    )


def test_format_next_opening(shipped):
    assert shipped.format_next_opening(wita(2026, 11, 20, 12, 0)) == (
        "Senin, 23 November 2026 pukul 08.00 WITA"
    )
    assert shipped.format_next_opening(datetime(2026, 8, 14, 5, 0, tzinfo=UTC)) == (
        "Selasa, 18 Agustus 2026 pukul 08.00 WITA"
    )


# --- settings and services --------------------------------------------------------------------


def test_settings_office_hours_file():
    assert Settings.from_env({}).office_hours_file == SHIPPED
    custom = Settings.from_env({"HELPDESK_OFFICE_HOURS_FILE": "config/jam.yml"})
    assert custom.office_hours_file == PROJECT_ROOT / "config" / "jam.yml"
    absolute = Settings.from_env({"HELPDESK_OFFICE_HOURS_FILE": "/etc/helpdesk/jam.yml"})
    assert absolute.office_hours_file == Path("/etc/helpdesk/jam.yml")


def test_services_load_office_hours_lazily(tmp_path):
    path = write(tmp_path, BASIC.format(tz="WIT"))
    services = Services(Settings(office_hours_file=path))
    assert services.office_hours.zone_label == "WIT"
    assert services.office_hours is services.office_hours


def test_services_accept_injected_office_hours(shipped):
    services = Services(
        Settings(office_hours_file=Path("/does/not/exist.yml")), office_hours=shipped
    )
    assert services.office_hours is shipped

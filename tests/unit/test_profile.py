"""Organisation profiles: one folder per deployment, chosen with HELPDESK_PROFILE, checked when
read (errors name the file and the key), and the settings that follow from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.conversation.greeting import greeting_for
from helpdesk.conversation.menu import load_menu
from helpdesk.profile import (
    DEFAULT_PROFILE,
    PROFILES_DIR,
    ProfileError,
    load_profile,
    read_profile,
)
from helpdesk.settings import PROJECT_ROOT, Settings

SHIPPED = ("djpb", "krs", "pandi", "kaltim")


def write_profile(folder: Path, text: str, *, menu: str | None = None) -> Path:
    """A profile folder with `text` as profile.yml, a menu (the default one unless given),
    office hours and one FAQ file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yml").write_text(text)
    (folder / "menu.yml").write_text(
        menu if menu is not None else (PROJECT_ROOT / "helpdesk" / "menu.yml").read_text()
    )
    (folder / "office_hours.yml").write_text(
        (PROJECT_ROOT / "helpdesk" / "office_hours.yml").read_text()
    )
    (folder / "faq.yml").write_text(
        "version: 1\nfaqs:\n  - id: a\n    category: A\n    question: Apa ini\n"
        "    answer: Ini contohnya.\n"
    )
    return folder


GOOD = """version: 1
name: Layanan Contoh
organisation: Dinas Contoh
introduction: Saya asisten virtual Layanan Contoh.
greeting: {time_of_day: false}
timezone: WITA
lookups: [sp2d, contract, digit, sakti]
files: {menu: menu.yml, office_hours: office_hours.yml, faq: faq.yml}
"""


def test_the_default_profile_is_the_treasury_helpdesk() -> None:
    profile = load_profile()

    assert profile.key == DEFAULT_PROFILE == "djpb"
    assert profile.lookups == {"sp2d", "contract", "digit", "sakti"}
    assert profile.menu_file == (PROJECT_ROOT / "helpdesk" / "menu.yml").resolve()
    assert profile.faq_source == (PROJECT_ROOT / "knowledge_base" / "faq").resolve()
    assert "asisten virtual" in profile.introduction and profile.time_of_day_greeting
    assert Settings().profile == profile


@pytest.mark.parametrize("key", SHIPPED)
def test_every_shipped_profile_reads_and_its_menu_starts_only_known_targets(key: str) -> None:
    import yaml

    domain = yaml.safe_load((PROJECT_ROOT / "domain" / "menu.yml").read_text())
    targets = set(domain["slots"]["menu_target"]["values"])

    profile = read_profile(PROFILES_DIR / key)

    assert profile.key == key and profile.name and profile.organisation
    assert {item.action for item in load_menu(profile.menu_file).items} <= targets


def test_settings_follow_the_profile_and_explicit_settings_win(tmp_path: Path) -> None:
    folder = write_profile(tmp_path / "contoh", GOOD)

    settings = Settings.from_env({"HELPDESK_PROFILE": str(folder)})

    assert settings.profile.name == "Layanan Contoh"
    assert settings.timezone == "WITA" and settings.tz.key == "Asia/Makassar"
    assert settings.kb_source == folder / "faq.yml"
    assert settings.menu_file == folder / "menu.yml"
    assert settings.var_dir == PROJECT_ROOT / "var" / "contoh"  # its data apart
    assert settings.kb_index_dir == PROJECT_ROOT / "var" / "contoh" / "kb_index"
    mine = Settings.from_env(
        {
            "HELPDESK_PROFILE": str(folder),
            "HELPDESK_TIMEZONE": "WIB",
            "HELPDESK_KB_SOURCE": "knowledge_base/faq",
            "HELPDESK_VAR_DIR": str(tmp_path / "var"),
        }
    )
    assert mine.timezone == "WIB" and mine.kb_source == PROJECT_ROOT / "knowledge_base" / "faq"
    assert mine.var_dir == tmp_path / "var"
    default = Settings.from_env({})
    assert default.profile.key == "djpb" and default.var_dir == PROJECT_ROOT / "var"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("version: 1", "version: 2"), "'version' must be 1"),
        (lambda t: t.replace("name: Layanan Contoh\n", ""), "'name' must be a non-empty text"),
        (lambda t: t + "colour: red\n", "unknown key(s) 'colour'"),
        (lambda t: t.replace("timezone: WITA", "timezone: Mars"), "'timezone'"),
        (lambda t: t.replace("[sp2d,", "[spm, sp2d,"), "'lookups' names spm"),
        (lambda t: t.replace("faq: faq.yml", "faq: tidak-ada"), "'files.faq' names"),
        (lambda t: t.replace("{time_of_day: false}", "{time_of_day: kadang}"), "true or false"),
        (lambda t: "name: [", "not valid YAML"),
        (lambda t: t + "mailbox: bukan-email\n", "'mailbox' 'bukan-email' is not an e-mail"),
        (
            lambda t: t + "privacy: {retention_days: {tiket: 30}}\n",
            "privacy.retention_days: unknown store 'tiket'",
        ),
        (
            lambda t: t + "privacy: {retention_days: {ticket: satu}}\n",
            "privacy.retention_days.ticket: must be a whole number of days",
        ),
        (
            lambda t: t.replace("{time_of_day: false}", "{name_flow: kenalan}"),
            "'greeting.name_flow' names flow 'kenalan', but the profile names no 'files.flows'",
        ),
    ],
)
def test_a_bad_profile_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, change, message: str
) -> None:
    folder = write_profile(tmp_path / "contoh", change(GOOD))

    with pytest.raises(ProfileError) as error:
        read_profile(folder)

    assert str(folder / "profile.yml") in str(error.value)
    assert message in str(error.value)


def test_a_profile_sets_retention_periods_over_the_defaults(tmp_path: Path) -> None:
    text = GOOD + "privacy:\n  retention_days: {tracker_events: 30, ticket: 0}\n"
    profile = read_profile(write_profile(tmp_path / "contoh", text))

    assert profile.retention.period("tracker_events").days == 30
    assert profile.retention.period("ticket") is None  # kept
    assert profile.retention.period("contact").days == 730  # the default


def test_a_menu_item_of_a_lookup_the_profile_does_not_offer_is_refused(tmp_path: Path) -> None:
    folder = write_profile(
        tmp_path / "contoh", GOOD.replace("[sp2d, contract, digit, sakti]", "[]")
    )

    with pytest.raises(ProfileError) as error:
        read_profile(folder)

    text = str(error.value)
    assert str(folder / "menu.yml") in text and "item 3 ('Cek SP2D')" in text
    assert "'sp2d'" in text


def test_an_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such profile .*djpb.*kaltim"):
        Settings.from_env({"HELPDESK_PROFILE": "tidak-ada"})


def test_a_profile_may_greet_without_the_time_of_day() -> None:
    from datetime import datetime

    morning = datetime(2026, 12, 7, 8, 0)
    assert greeting_for(morning) == "Selamat pagi"
    assert greeting_for(morning, by_time_of_day=False) == "Halo"


@pytest.mark.parametrize("key", SHIPPED)
def test_every_shipped_profile_has_its_own_knowledge_base(key: str) -> None:
    from helpdesk.knowledge.loader import load_faqs

    entries = load_faqs(read_profile(PROFILES_DIR / key).faq_source)

    assert len(entries) >= 30
    assert len({e.question.lower() for e in entries}) == len(entries)  # no entry twice


def test_a_flow_ending_with_an_entry_the_knowledge_base_lacks_is_refused(tmp_path: Path) -> None:
    folder = write_profile(
        tmp_path / "contoh", GOOD.replace("faq: faq.yml}", "faq: faq.yml, flows: flows.yml}")
    )
    (folder / "flows.yml").write_text(
        "version: 1\nflows:\n  coba:\n    title: Coba\n    start: a\n    nodes:\n"
        "      a: {text: Halo, then: {faq: tidak-ada}}\n"
    )

    with pytest.raises(ProfileError) as error:
        read_profile(folder)

    assert "flow 'coba', node 'a': faq 'tidak-ada' is not in" in str(error.value)
    (folder / "flows.yml").write_text(
        "version: 1\nflows:\n  coba:\n    title: Coba\n    start: a\n    nodes:\n"
        "      a: {text: Halo, then: {faq: a}}\n"
    )
    assert read_profile(folder).flows_file == folder / "flows.yml"


def test_a_profile_names_its_mailbox_and_the_flow_asking_a_name() -> None:
    pandi = read_profile(PROFILES_DIR / "pandi")
    kaltim = read_profile(PROFILES_DIR / "kaltim")

    assert pandi.mailbox == "helpdesk@pandi.id" and pandi.name_flow is None
    assert kaltim.name_flow == "perkenalan"
    assert Settings.from_env({"HELPDESK_PROFILE": "pandi"}).helpdesk_mailbox == "helpdesk@pandi.id"
    mine = Settings.from_env({"HELPDESK_PROFILE": "pandi", "HELPDESK_MAILBOX": "a@b.go.id"})
    assert mine.helpdesk_mailbox == "a@b.go.id"

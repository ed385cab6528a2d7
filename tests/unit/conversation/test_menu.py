"""Tests of helpdesk.conversation.menu."""

from __future__ import annotations

import json

import pytest

from helpdesk.conversation.menu import Menu, MenuError, MenuItem, load_menu
from helpdesk.settings import PROJECT_ROOT


@pytest.fixture
def menu() -> Menu:
    return load_menu(PROJECT_ROOT / "helpdesk" / "menu.yml")


def test_shipped_menu_has_the_core_items(menu):
    assert [(i.number, i.title, i.action) for i in menu.items] == [
        (1, "Tanya", "utter_ask_question_prompt"),
        (2, "Cek Status Tiket", "ticket_status_form"),
        (3, "Cek SP2D", "sp2d_form"),
        (4, "Cek Pendaftaran Kontrak", "contract_form"),
        (5, "Layanan Akun DIGIT", "digit_form"),
        (6, "Reset SAKTI", "sakti_form"),
        (7, "Buat Tiket", "ticket_form"),
        (8, "Bicara dengan Petugas", "action_handoff"),
    ]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", 1),
        ("2", 2),
        (" 3 ", 3),
        ("pilih 2", 2),
        ("nomor 7", 7),
        ("cek sp2d", 3),
        ("cek kontrak", 4),
        ("layanan digit", 5),
        ("reset sakti", 6),
        ("reset mfa", 6),
        ("no. 1", 1),
        ("Tanya", 1),
        ("tnya", 1),
        ("cek status tiket", 2),
        ("Cek Stats Tiket", 2),
        ("status tkt", 2),
        ("buat tiket", 7),
        ("buat tket", 7),
        ("saya mau buat tiket", 7),
        ("8", 8),
        ("pilih 8", 8),
        ("Bicara dengan Petugas", 8),
        ("bicara dgn petugas", 8),
        ("hubungi petugas", 8),
        ("chat petugas", 8),
        ("live chat", 8),
        ("agen", 8),
        ("CS", 8),
    ],
)
def test_match_by_number_and_by_name(menu, text, number):
    item = menu.match(text)
    assert item is not None and item.number == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "9",
        "pilih 10",
        "halo",
        "tiket",
        "apa itu sp2d",
        "apa itu sakti",
        "agenda rapat",
        "oke",
        "petugas",
        None,
    ],
)
def test_no_match(menu, text):
    assert menu.match(text) is None


def test_render_and_buttons(menu):
    assert menu.render().splitlines()[0] == "1. Tanya - ajukan pertanyaan seputar layanan"
    button = menu.buttons()[1]
    assert button["title"] == "2. Cek Status Tiket"
    assert button["payload"].startswith("/menu_select")
    assert json.loads(button["payload"][len("/menu_select") :]) == {"number": "2"}


def test_items_are_sorted_and_numbers_unique():
    menu = Menu([MenuItem(5, "B", "b"), MenuItem(3, "A", "a")])
    assert [i.number for i in menu.items] == [3, 5]
    with pytest.raises(MenuError, match="used twice"):
        Menu([MenuItem(1, "A", "a"), MenuItem(1, "B", "b")])
    with pytest.raises(MenuError):
        Menu([])


def test_new_item_is_added_by_editing_the_file_only(tmp_path):
    path = tmp_path / "menu.yml"
    path.write_text(
        "version: 1\nitems:\n"
        "  - {number: 1, title: Tanya, action: utter_ask_question_prompt}\n"
        "  - {number: 3, title: Informasi SP2D, action: sp2d_form, aliases: [cek sp2d]}\n",
        encoding="utf-8",
    )
    menu = load_menu(path)
    assert menu.match("3").action == "sp2d_form"
    assert menu.match("cek sp2d").number == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("items: [", "invalid YAML"),
        ("version: 1\n", "items"),
        ("items:\n  - {title: A, action: a}\n", "item 1: missing number"),
        ("items:\n  - {number: x, title: A, action: a}\n", "not an integer"),
        ("items:\n  - {number: 100, title: A, action: a}\n", "between 1 and 99"),
        ("items:\n  - {number: 1, title: A, action: a, aliases: b}\n", "aliases"),
        (
            "items:\n  - {number: 1, title: A, action: a}\n  - {number: 1, title: B, action: b}\n",
            "used twice",
        ),
    ],
)
def test_invalid_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "menu.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MenuError, match=message) as error:
        load_menu(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(MenuError, match="not found"):
        load_menu(tmp_path / "nope.yml")

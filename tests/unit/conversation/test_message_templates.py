"""The WhatsApp template registry (helpdesk.conversation.message_templates): Meta's rules
checked when the file is read, values checked when a template is filled, messages matched."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpdesk.conversation.message_templates import (
    NO_TEMPLATES,
    ParameterError,
    TemplateError,
    load_registry,
    parse_registry,
)
from helpdesk.profile import PROFILES_DIR, ProfileError, load_profile, read_profile

STATUS = {
    "name": "status_tiket_diperbarui",
    "language": "id",
    "category": "UTILITY",
    "variables": ["ticket_number", "status_label"],
    "body": "Status tiket {{1}} Anda kini: {{2}}. Terima kasih.",
    "buttons": [{"text": "Cek status tiket", "payload": "/check_ticket_status"}],
}
IDLE = {
    "name": "sesi_chat_berakhir",
    "language": "id",
    "category": "UTILITY",
    "replaces": ["utter_session_idle"],
    "variables": ["minutes"],
    "body": "Sesi chat berakhir setelah {{1}} menit tanpa aktivitas.",
}


def registry(*templates: dict[str, Any]):
    return parse_registry({"version": 1, "templates": list(templates)}, "templates.yml")


def changed(base: dict[str, Any], **values: Any) -> dict[str, Any]:
    template = copy.deepcopy(base)
    template.update(values)
    return template


def test_a_valid_registry_is_read() -> None:
    found = registry(STATUS, IDLE)
    status = found.get("status_tiket_diperbarui")
    assert status is not None and status.variables == ("ticket_number", "status_label")
    assert status.buttons[0].payload == "/check_ticket_status"
    assert found.get("tidak_ada") is None


@pytest.mark.parametrize(
    ("template", "error"),
    [
        (changed(STATUS, name="Status Tiket"), "'name' must be lower-case"),
        (changed(STATUS, language="id_ID"), "'language' must be one of"),
        (changed(STATUS, category="AUTHENTICATION"), "'category' must be one of"),
        (changed(STATUS, variables=["ticket_number"]), "must hold {{1}} to {{1}}"),
        (changed(STATUS, body="Tiket {{1}} kini {{3}}."), "must hold {{1}} to {{2}}"),
        (changed(STATUS, body="Tiket {{1}} kini {{1}}, {{2}}."), "once each"),
        (changed(STATUS, body="Tiket {{2}} kini {{1}}."), "in order"),
        (changed(STATUS, body="{{1}} kini {{2}}."), "start or end"),
        (changed(STATUS, body="Tiket {{1}} kini {{2}}"), "start or end"),
        (changed(STATUS, body="Tiket {{1}} {{2}} ya."), "next to each other"),
        (changed(STATUS, body="Tiket {{nomor}} kini {{2}}."), "numbered"),
        (changed(STATUS, body="x" * 1025, variables=[]), "longer than 1024"),
        (changed(STATUS, buttons=[{"text": "x" * 26, "payload": "/a"}]), "'text' must be 1 to 25"),
        (changed(STATUS, buttons=[{"text": "Ya", "payload": "/a"}] * 2), "same text"),
        (
            changed(STATUS, buttons=[{"text": f"{n}", "payload": "/a"} for n in range(11)]),
            "at most 10",
        ),
        (changed(STATUS, header="Halo"), "unknown key(s) header"),
    ],
)
def test_rules_are_checked_and_errors_name_the_template(template, error) -> None:
    with pytest.raises(TemplateError) as raised:
        registry(template)
    assert error in str(raised.value) and "templates.yml" in str(raised.value)


def test_names_and_replaced_responses_are_unique() -> None:
    with pytest.raises(TemplateError, match="listed twice: status_tiket_diperbarui"):
        registry(STATUS, STATUS)
    with pytest.raises(TemplateError, match="replaced by two templates: utter_session_idle"):
        registry(IDLE, changed(IDLE, name="sesi_lain"))
    with pytest.raises(TemplateError, match="version: 1"):
        parse_registry({"templates": []}, "templates.yml")


def test_parameters_are_filled_in_order_and_previewed() -> None:
    status = registry(STATUS).get("status_tiket_diperbarui")
    values = {"status_label": "Selesai", "ticket_number": "20260414-DBKSWU", "other": "x"}
    assert status.parameters(values) == ["20260414-DBKSWU", "Selesai"]
    assert (
        status.preview(values) == "Status tiket 20260414-DBKSWU Anda kini: Selesai. Terima kasih."
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, "no value for 'status_label'"),
        ("   ", "no value for 'status_label'"),
        ("Selesai\ndiproses", "newline, a tab"),
        ("Selesai\tdiproses", "newline, a tab"),
        ("Selesai     diproses", "more than four spaces"),
        ("x" * 513, "longer than 512"),
    ],
)
def test_values_meta_refuses_are_refused_without_being_named(value, error) -> None:
    status = registry(STATUS).get("status_tiket_diperbarui")
    with pytest.raises(ParameterError) as raised:
        status.parameters({"ticket_number": "20260414-DBKSWU", "status_label": value})
    assert error in str(raised.value)
    assert "diproses" not in str(raised.value)


def test_four_spaces_are_allowed_and_a_filled_body_over_1024_is_not() -> None:
    status = registry(STATUS).get("status_tiket_diperbarui")
    assert status.parameters({"ticket_number": "A    B", "status_label": "C"})[0] == "A    B"
    long_body = changed(STATUS, body="x" * 1000 + " {{1}} dan {{2}}.")
    with pytest.raises(ParameterError, match="filled body"):
        registry(long_body).get(STATUS["name"]).parameters(
            {"ticket_number": "y" * 20, "status_label": "z"}
        )


def test_a_message_finds_its_template_by_name_then_by_response() -> None:
    found = registry(STATUS, IDLE)
    assert found.for_message({"message_template": "status_tiket_diperbarui"}).name == STATUS["name"]
    assert found.for_message({"utter_action": "utter_session_idle"}).name == IDLE["name"]
    assert found.for_message({"utter_action": "utter_greet"}) is None
    assert found.for_message({"text": "Halo"}) is None
    # a name beats the response; an unknown name finds nothing
    assert (
        found.for_message({"message_template": "x", "utter_action": "utter_session_idle"}) is None
    )
    assert NO_TEMPLATES.for_message({"utter_action": "utter_session_idle"}) is None


def test_every_profile_registry_follows_the_rules() -> None:
    djpb = load_profile("djpb")
    assert djpb.whatsapp_templates_file is not None
    found = load_registry(djpb.whatsapp_templates_file)
    assert {t.name for t in found.templates} >= {
        "status_tiket_diperbarui",
        "penilaian_layanan_petugas",
        "sesi_chat_berakhir",
    }
    rating = found.for_message({"utter_action": "utter_ask_agent_rating"})
    # A tap comes in a later session: an intent of its own (action_rate_agent_late).
    assert [b.payload for b in rating.buttons] == [
        f'/rate_agent{{"number":"{n}"}}' for n in range(1, 6)
    ]
    for folder in PROFILES_DIR.iterdir():
        profile = load_profile(folder.name)
        load_registry(profile.whatsapp_templates_file)


def test_a_profile_with_a_broken_registry_is_refused(tmp_path: Path) -> None:
    source = PROFILES_DIR / "djpb" / "profile.yml"
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    folder = tmp_path / "contoh"
    folder.mkdir()
    for key, value in raw["files"].items():
        raw["files"][key] = str((source.parent / value).resolve())
    (folder / "templates.yml").write_text(
        yaml.safe_dump({"version": 1, "templates": [changed(STATUS, language="xx")]}),
        encoding="utf-8",
    )
    raw["files"]["whatsapp_templates"] = "templates.yml"
    (folder / "profile.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ProfileError, match="'language' must be one of"):
        read_profile(folder)

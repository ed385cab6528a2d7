"""Guided flows as data: checked when read (errors name file, flow and node) and walked one
reply at a time (choices by number or title, validated inputs re-asked, "kembali")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpdesk.conversation.flow_files import load_flows, parse_flows
from helpdesk.conversation.flows import (
    CHOICE_ERROR,
    NO_WAY_BACK,
    End,
    FlowError,
    FlowState,
    advance,
    back,
    collected_name,
    start,
)
from helpdesk.knowledge.loader import load_faqs
from helpdesk.profile import PROFILES_DIR

KRS = PROFILES_DIR / "krs"


@pytest.fixture(scope="module")
def konsultasi():
    return load_flows(KRS / "flows.yml")["konsultasi"]


def walk(flow, *replies: str):
    outcome = start(flow)
    for reply in replies:
        outcome = advance(flow, outcome.state, reply)
    return outcome


def test_the_krs_consultation_collects_name_address_and_phone_first(konsultasi) -> None:
    first = start(konsultasi)
    assert "boleh kami tahu nama" in first.prompt.texts[-1] and first.prompt.choices == ()

    bad_phone = walk(konsultasi, "Siti Aminah", "Desa Sukamaju, Kec. Ciawi, Bogor", "12ab")

    assert bad_phone.state.node == "hp" and "081234567890" in bad_phone.error
    topics = advance(konsultasi, bad_phone.state, "0812-3456-7890")
    assert topics.prompt.choices == ("Perencanaan Rumah", "Pembangunan Rumah", "Informasi KRS")
    assert topics.state.data == {
        "nama": "Siti Aminah",
        "alamat": "Desa Sukamaju, Kec. Ciawi, Bogor",
        "hp": "6281234567890",
    }


def test_income_brackets_route_to_the_mbr_rules(konsultasi) -> None:
    details = ("Siti Aminah", "Bogor", "081234567890")

    low = walk(konsultasi, *details, "Perencanaan Rumah", "4", "1")
    middle = walk(konsultasi, *details, "1", "bantuan dan subsidi", "2")
    high = walk(konsultasi, *details, "1", "4", "di atas rp14 juta")

    assert "termasuk Masyarakat Berpenghasilan Rendah" in low.prompt.texts[0]
    assert low.prompt.choices[0] == "Bedah rumah (BSPS)"
    assert low.state.data["penghasilan"] == "kurang dari Rp8,5 juta"
    assert middle.end == End("faq", "mbr-kriteria-penghasilan")
    assert "Jabodetabek" in middle.prompt.texts[0]
    assert high.state.node == "non_mbr" and "Bicara ke petugas" in high.prompt.choices
    assert advance(konsultasi, low.state, "1").end == End("faq", "bsps-syarat")


def test_a_choice_that_is_not_offered_is_asked_again(konsultasi) -> None:
    topics = walk(konsultasi, "Siti", "Bogor", "081234567890")

    again = advance(konsultasi, topics.state, "bagaimana cara membangun rumah?")

    assert again.error == CHOICE_ERROR and again.state == topics.state
    assert again.prompt.choices == topics.prompt.choices
    assert advance(konsultasi, topics.state, "9").error == CHOICE_ERROR


def test_kembali_goes_back_one_step_at_a_time(konsultasi) -> None:
    materials = walk(konsultasi, "Siti", "Bogor", "081234567890", "2")
    assert materials.state.node == "pembangunan"

    topics = back(konsultasi, materials.state)
    phone = back(konsultasi, topics.state)

    assert topics.state.node == "topik" and "Perencanaan Rumah" in topics.prompt.choices
    assert phone.state.node == "hp" and phone.state.history == ("nama", "alamat")
    first = back(konsultasi, back(konsultasi, phone.state).state)
    assert first.state.node == "nama" and back(konsultasi, first.state).error == NO_WAY_BACK
    assert advance(konsultasi, topics.state, "2").state.node == "pembangunan"


def test_the_state_survives_a_slot_round_trip(konsultasi) -> None:
    state = walk(konsultasi, "Siti", "Bogor", "081234567890").state

    assert FlowState.from_json(state.to_json()) == state
    assert FlowState.from_json(None) is None and FlowState.from_json("{bad") is None


def test_every_faq_a_krs_flow_ends_with_is_in_its_knowledge_base(konsultasi) -> None:
    known = {e.id for e in load_faqs(KRS / "faq")}
    ends = [c.then for n in konsultasi.nodes.values() for c in n.choices if c.then]
    ends += [n.then for n in konsultasi.nodes.values() if n.then]

    assert {e.target for e in ends if e.kind == "faq"} <= known


GOOD = {
    "version": 1,
    "flows": {
        "coba": {
            "title": "Coba",
            "start": "a",
            "nodes": {
                "a": {"text": "Nama?", "input": "name", "save": "nama", "next": "b"},
                "b": {"text": "Pilih.", "choices": [{"title": "Satu", "then": "ticket"}]},
            },
        }
    },
}


def broken(change) -> dict:
    raw = yaml.safe_load(yaml.safe_dump(GOOD))
    change(raw["flows"]["coba"])
    return raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f["nodes"]["a"].update(next="z"), "node 'a': 'next' names 'z'"),
        (lambda f: f.update(start="z"), "'start' names 'z'"),
        (
            lambda f: f["nodes"].update(c={"text": "x", "then": "menu"}),
            "nothing leads to node(s) 'c'",
        ),
        (lambda f: f["nodes"]["a"].update(input="tanggal"), "node 'a': 'input' must be one of"),
        (lambda f: f["nodes"]["a"].pop("save"), "node 'a': an 'input' node needs 'save'"),
        (
            lambda f: f["nodes"]["b"]["choices"][0].update(title="Judul yang terlalu panjang"),
            "node 'b', choice 1: title 'Judul yang terlalu panjang' is longer than 20",
        ),
        (
            lambda f: f["nodes"]["b"]["choices"][0].update(next="a"),
            "choice 1: give either 'next' (a node) or 'then' (an end)",
        ),
        (lambda f: f["nodes"]["b"]["choices"][0].update(then="ke mana"), "'then' must be one of"),
        (lambda f: f["nodes"]["a"].pop("text"), "node 'a': 'text' must be a non-empty text"),
        (
            lambda f: f["nodes"].update(b={"text": "x", "next": "c"}, c={"text": "y", "next": "b"}),
            "its messages lead back to it",
        ),
        (
            lambda f: f["nodes"]["b"].update(text="Terima kasih, {alamat}."),
            "node 'b': the text names {alamat}, which no node of the flow saves",
        ),
    ],
)
def test_a_bad_flow_is_refused_naming_the_file_flow_and_node(change, message: str) -> None:
    with pytest.raises(FlowError) as error:
        parse_flows(broken(change), "profiles/coba/flows.yml")

    text = str(error.value)
    assert text.startswith("profiles/coba/flows.yml, flow 'coba'") and message in text


def test_a_missing_flows_file_is_no_flows(tmp_path: Path) -> None:
    assert load_flows(tmp_path / "flows.yml") == {}
    (tmp_path / "flows.yml").write_text("flows: [")
    with pytest.raises(FlowError, match="not valid YAML"):
        load_flows(tmp_path / "flows.yml")


@pytest.mark.parametrize(
    ("kind", "reply", "kept"),
    [
        ("name", "Siti Aminah", "Siti Aminah"),
        ("name", "081234", None),
        ("phone", "+62 812-3456-7890", "6281234567890"),
        ("phone", "12345", None),
        ("email", "email saya siti@contoh.go.id", "siti@contoh.go.id"),
        ("email", "siti at contoh", None),
        ("nik", "3201 2345 6789 0001", "3201234567890001"),
        ("nik", "3201", None),
        ("number", "4.500.000", "4500000"),
        ("number", "empat juta", None),
        ("text", "   ", None),
    ],
)
def test_inputs_keep_only_what_fits(kind: str, reply: str, kept: str | None) -> None:
    from helpdesk.conversation.flows import accept

    assert accept(kind, reply) == kept


def test_a_text_names_what_the_flow_collected() -> None:
    raw = yaml.safe_load(yaml.safe_dump(GOOD))
    raw["flows"]["coba"]["nodes"]["b"]["text"] = "Terima kasih, {nama}. Pilih."
    flow = parse_flows(raw, "coba.yml")["coba"]

    outcome = advance(flow, start(flow).state, "Budi Santoso")

    assert outcome.prompt.texts == ("Terima kasih, Budi Santoso. Pilih.",)
    assert collected_name(flow, outcome.state.data) == "Budi Santoso"
    assert collected_name(flow, {}) is None


@pytest.mark.parametrize("key", ["krs", "kaltim"])
def test_a_profiles_flows_survive_the_editors_round_trip(key: str) -> None:
    from helpdesk.conversation.flow_editing import document, dump, node_from_form, walk_order

    flows = load_flows(PROFILES_DIR / key / "flows.yml")

    assert parse_flows(yaml.safe_load(dump(document(flows))), "x") == flows
    for flow in flows.values():
        assert [n.id for n in walk_order(flow)][0] == flow.start
        assert sorted(n.id for n in walk_order(flow)) == sorted(flow.nodes)
        for node in flow.nodes.values():  # the editor's form of each step gives it back
            from helpdesk.conversation.flow_editing import choices_text, end_text

            form = {
                "text": node.text,
                "input": node.input or "",
                "save": node.save or "",
                "error": node.error or "",
                "choices": choices_text(node),
                "next": node.next or "",
                "then": end_text(node.then),
            }
            assert (
                node_from_form(form, node)
                == document({flow.id: flow})["flows"][flow.id]["nodes"][node.id]
            )

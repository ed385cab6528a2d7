"""Training data in data/nlu: the contract intents, enough examples, working identifier regexes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

NLU_DIR = Path(__file__).resolve().parents[2] / "data" / "nlu"

CONTRACT_INTENTS = {
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "menu",
    "ask_question",
    "check_ticket_status",
    "sp2d_info",
    "contract_check",
    "digit_service",
    "sakti_service",
    "human_handoff",
    "create_ticket",
}
#: Intents beyond the contract: menu choices, cancelling, answers, citizens' data requests (UU PDP).
EXTRA_INTENTS = {
    "menu_select",
    "cancel",
    "inform",
    "data_access",
    "data_erasure",
    "broadcast_opt_out",
    "broadcast_opt_in",
    "rate_agent",
}
ENTITIES_WITH_REGEX = {
    "ticket_id",
    "email",
    "nik",
    "nip",
    "sp2d_number",
    "satker_code",
    "account_number",
    "number",
}


@pytest.fixture(scope="module")
def data():
    return load_data(str(NLU_DIR))


@pytest.fixture(scope="module")
def extractor(data, tmp_path_factory):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    component = RegexEntityExtractor.create(
        {**RegexEntityExtractor.get_default_config(), "use_lookup_tables": False},
        LocalModelStorage(tmp_path_factory.mktemp("regex")),
        Resource("regex"),
        ExecutionContext({}, node_name="regex"),
    )
    component.train(data)
    return component


def _entities(extractor, text: str) -> dict[str, str]:
    message = extractor.process([Message(data={TEXT: text})])[0]
    return {e["entity"]: e["value"] for e in message.get(ENTITIES, [])}


def test_every_intent_has_enough_varied_examples(data):
    counts = Counter(m.get("intent") for m in data.intent_examples)
    assert set(counts) == CONTRACT_INTENTS | EXTRA_INTENTS
    assert all(n >= 20 for n in counts.values()), counts
    assert counts["ask_question"] >= 30


def test_examples_are_not_duplicated_across_intents(data):
    seen: dict[str, str] = {}
    for message in data.intent_examples:
        text = message.get(TEXT).strip().lower()
        assert seen.setdefault(text, message.get("intent")) == message.get("intent"), text


def test_every_identifier_entity_has_a_compiling_regex(data):
    names = {r["name"] for r in data.regex_features}
    assert names >= ENTITIES_WITH_REGEX
    for feature in data.regex_features:
        re.compile(feature["pattern"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cek status tiket 20260414-DBKSWU", {"ticket_id": "20260414-DBKSWU"}),
        ("tiket 20260414 DBKSWU", {"ticket_id": "20260414 DBKSWU"}),
        ("email saya budi.s@kemenkeu.go.id", {"email": "budi.s@kemenkeu.go.id"}),
        (
            "info sp2d 260011301000123 rek 1234567890",
            {"sp2d_number": "260011301000123", "account_number": "1234567890"},
        ),
        ("nik 3174012505900001", {"nik": "3174012505900001"}),
        ("nip 198501012010011001", {"nip": "198501012010011001"}),
        ("satker 401234", {"satker_code": "401234"}),
        ("pilih 3", {"number": "3"}),
        ("apa itu sp2d", {}),
        ("0", {}),
        ("transfer ke 1234567890", {}),
    ],
)
def test_regexes_extract_identifiers_and_nothing_else(extractor, text, expected):
    assert _entities(extractor, text) == expected

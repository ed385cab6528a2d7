"""IndonesianNormalizingTokenizer: normalised token text, original offsets and message text."""

from __future__ import annotations

from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.normalizer import IndonesianNormalizingTokenizer, normalize_word


def _tokenize(text: str) -> Message:
    tokenizer = IndonesianNormalizingTokenizer(IndonesianNormalizingTokenizer.get_default_config())
    return tokenizer.process([Message(data={TEXT: text})])[0]


def test_informal_words_become_standard_words():
    message = _tokenize("gmn cr reset pw sakti")
    assert [t.text for t in message.get(TOKENS_NAMES[TEXT])] == [
        "bagaimana",
        "cara",
        "reset",
        "password",
        "sakti",
    ]


def test_message_text_and_offsets_are_unchanged():
    text = "cek tiket 20260414-DBKSWU yg kmrn"
    message = _tokenize(text)
    assert message.get(TEXT) == text
    for token in message.get(TOKENS_NAMES[TEXT]):
        assert text[token.start : token.end].strip()
    ticket = [t for t in message.get(TOKENS_NAMES[TEXT]) if t.text.startswith("2026")]
    assert text[ticket[0].start : ticket[0].end] == "20260414-DBKSWU"


def test_dropped_particles_keep_their_original_word():
    # The normaliser drops "ya" and "min"; a message made of them must keep its words.
    assert normalize_word("ya") == ("ya",)
    assert [t.text for t in _tokenize("iya min").get(TOKENS_NAMES[TEXT])] == ["iya", "min"]


def test_menu_number_is_one_token():
    assert [t.text for t in _tokenize("0").get(TOKENS_NAMES[TEXT])] == ["0"]


def test_intent_attribute_is_not_normalised():
    tokenizer = IndonesianNormalizingTokenizer(
        {**IndonesianNormalizingTokenizer.get_default_config(), "intent_tokenization_flag": True}
    )
    message = Message(data={TEXT: "halo", INTENT: "sp2d_info"})
    tokens = tokenizer.tokenize(message, INTENT)
    assert [t.text for t in tokens] == ["sp2d_info"]

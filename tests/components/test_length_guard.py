"""MessageLengthGuard: NLU reads at most the first 1,000 characters; the tracker keeps all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.length_guard import (
    DEFAULT_MAX_CHARACTERS,
    ORIGINAL_LENGTH_KEY,
    TRUNCATED_KEY,
    MessageLengthGuard,
    cut_text,
)

CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
LONG_COMPLAINT = "Saya ingin mengadukan pencairan dana yang terlambat sejak bulan lalu. " * 1600


def _guard(limit: int = DEFAULT_MAX_CHARACTERS) -> MessageLengthGuard:
    return MessageLengthGuard({"max_characters": limit})


class TestCutText:
    def test_short_text_is_unchanged(self) -> None:
        assert cut_text("halo", 10) == "halo"
        assert cut_text("x" * 10, 10) == "x" * 10

    def test_cut_at_the_last_word_boundary(self) -> None:
        assert cut_text("satu dua tiga empat", 12) == "satu dua"
        assert cut_text("satu dua tiga empat", 13) == "satu dua tiga"

    def test_text_without_spaces_is_cut_hard(self) -> None:
        assert cut_text("a" * 50, 10) == "a" * 10

    def test_a_far_boundary_is_not_used(self) -> None:
        # The only space is in the first half: cutting there would lose too much.
        assert cut_text("ab " + "c" * 40, 20) == "ab " + "c" * 17

    @pytest.mark.parametrize("limit", [0, -5])
    def test_limit_must_be_positive(self, limit: int) -> None:
        with pytest.raises(ValueError):
            cut_text("halo", limit)


class TestGuard:
    def test_a_long_message_is_cut_and_flagged(self) -> None:
        message = Message(data={TEXT: LONG_COMPLAINT})
        (out,) = _guard().process([message])
        text = out.get(TEXT)
        assert len(text) <= DEFAULT_MAX_CHARACTERS
        assert LONG_COMPLAINT.startswith(text)
        assert LONG_COMPLAINT[len(text)] == " "  # cut after a whole word
        parse_data = out.as_dict(only_output_properties=True)
        assert parse_data[TRUNCATED_KEY] is True
        assert parse_data[ORIGINAL_LENGTH_KEY] == len(LONG_COMPLAINT)
        assert parse_data[TEXT] == text

    def test_a_normal_message_is_untouched_and_not_flagged(self) -> None:
        message = Message(data={TEXT: "bagaimana cara reset password sakti?"})
        (out,) = _guard().process([message])
        assert out.get(TEXT) == "bagaimana cara reset password sakti?"
        assert TRUNCATED_KEY not in out.as_dict(only_output_properties=True)

    def test_messages_without_text_are_left_alone(self) -> None:
        message = Message(data={"intent": {"name": "greet"}})
        assert _guard().process([message])[0].get(TEXT) is None

    def test_training_examples_are_cut_too(self) -> None:
        example = Message(data={TEXT: "kata " * 400, "intent": "ask_question"})
        data = _guard(100).process_training_data(TrainingData([example]))
        assert len(data.training_examples[0].get(TEXT)) <= 100

    @pytest.mark.parametrize("limit", [0, -1, "1000", True, None])
    def test_invalid_limits_are_refused(self, limit) -> None:
        with pytest.raises(ValueError):
            MessageLengthGuard({"max_characters": limit})

    def test_create_uses_the_default_limit(self) -> None:
        guard = MessageLengthGuard.create({}, None, None, None)  # type: ignore[arg-type]
        (out,) = guard.process([Message(data={TEXT: "x " * 2000})])
        assert len(out.get(TEXT)) <= DEFAULT_MAX_CHARACTERS


def test_the_tracker_keeps_the_whole_text_and_the_parse_data_the_cut_one() -> None:
    """What `MessageProcessor._handle_message_with_tracker` does with the parse data: the user
    event holds `UserMessage.text`; `latest_message` (what actions read) the cut text + flag."""
    (parsed,) = _guard().process([Message(data={TEXT: LONG_COMPLAINT})])
    parse_data = {"intent": {"name": "ask_question", "confidence": 0.9}, "entities": []}
    parse_data.update(parsed.as_dict(only_output_properties=True))
    event = UserUttered(LONG_COMPLAINT, parse_data["intent"], [], parse_data)
    tracker = DialogueStateTracker.from_events("budi", [event], slots=Domain.empty().slots)
    state = tracker.current_state(EventVerbosity.AFTER_RESTART)
    assert state["events"][-1]["text"] == LONG_COMPLAINT
    assert state["latest_message"]["text"] == parsed.get(TEXT)
    assert state["latest_message"][TRUNCATED_KEY] is True
    assert tracker.latest_message is not None
    assert tracker.latest_message.text == LONG_COMPLAINT  # what `from_text` mappings read


def test_the_guard_comes_first_in_the_pipeline() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    names = [component["name"] for component in config["pipeline"]]
    assert names[0] == "components.length_guard.MessageLengthGuard"
    assert names[1] == "components.normalizer.IndonesianNormalizingTokenizer"

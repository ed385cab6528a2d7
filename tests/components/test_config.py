"""config.yml: Indonesian, our custom components importable and in the right order."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa.shared.utils.common import class_from_module_path

CONFIG = Path(__file__).resolve().parents[2] / "config.yml"


def _pipeline() -> list[str]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert config["language"] == "id"
    assert config["assistant_id"]
    return [c["name"] for c in config["pipeline"]]


def test_custom_components_resolve_to_classes():
    for name in _pipeline():
        if name.startswith("components."):
            assert isinstance(class_from_module_path(name), type)


def test_normalising_tokenizer_comes_first_and_fallback_last():
    names = _pipeline()
    assert names[0] == "components.length_guard.MessageLengthGuard"
    assert names[1] == "components.normalizer.IndonesianNormalizingTokenizer"
    assert names[-1] == "FallbackClassifier"
    # A from_entity slot mapping takes the last entity of its name: the regex match of a whole
    # identifier must come after DIET's fragments.
    assert names.index("RegexEntityExtractor") > names.index("DIETClassifier")

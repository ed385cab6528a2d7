"""scripts/nlu_eval.py: the few-shot splits and the configs it compares."""

from __future__ import annotations

import yaml

from scripts.nlu_eval import BLEND_COMPONENT, E5_COMPONENT, build_configs, few_shot_splits


def _examples() -> list[tuple[str, str]]:
    return [(f"{intent} {i}", intent) for intent in ("a", "b", "c") for i in range(6)] + [
        ("rare 0", "rare"),
        ("rare 1", "rare"),
    ]


def test_few_shot_splits_take_shots_per_intent_and_test_on_the_rest() -> None:
    examples = _examples()
    splits = few_shot_splits(examples, shots=3, draws=3, seed=42)

    assert len(splits) == 3
    for train, test in splits:
        intents = [examples[i][1] for i in train]
        assert {i: intents.count(i) for i in set(intents)} == {"a": 3, "b": 3, "c": 3, "rare": 2}
        assert set(train).isdisjoint(test)
        assert sorted(set(train) | set(test)) == list(range(len(examples)))
        assert all(examples[i][1] != "rare" for i in test)  # nothing left to test it on
    assert len({tuple(train) for train, _ in splits}) > 1  # each draw its own sample
    assert few_shot_splits(examples, 3, 3, 42) == splits  # repeatable


def test_the_configs_differ_only_in_the_compared_component(tmp_path) -> None:
    paths = build_configs(["default", "ours", "diet-only", "e5", "blend-char"], tmp_path)

    def names(name: str) -> list[str]:
        config = yaml.safe_load(paths[name].read_text(encoding="utf-8"))
        assert config["policies"] == []
        return [c["name"] for c in config["pipeline"]]

    assert BLEND_COMPONENT in names("ours")
    assert BLEND_COMPONENT not in names("diet-only") and E5_COMPONENT not in names("diet-only")
    assert [n for n in names("e5") if n != E5_COMPONENT] == names("diet-only")
    assert names("e5").index(E5_COMPONENT) < names("e5").index("DIETClassifier")
    assert [n for n in names("ours") if n != BLEND_COMPONENT] == names("diet-only")
    blend_char = yaml.safe_load(paths["blend-char"].read_text(encoding="utf-8"))["pipeline"]
    assert {"name": BLEND_COMPONENT, "use_e5": False} in blend_char
    assert "DIETClassifier" in names("default") and BLEND_COMPONENT not in names("default")

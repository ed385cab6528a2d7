"""QuestionRouter: how-to questions of a self-service intent go to the knowledge base."""

from __future__ import annotations

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.question_router import ROUTED_FROM, QuestionRouter


def _routed(text: str, intent: str, confidence: float = 0.9) -> Message:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": intent, "confidence": confidence})
    message.set(
        INTENT_RANKING_KEY,
        [
            {"name": intent, "confidence": confidence},
            {"name": "ask_question", "confidence": 0.05},
            {"name": "greet", "confidence": 0.05},
        ],
    )
    router = QuestionRouter(QuestionRouter.get_default_config())
    return router.process([message])[0]


def test_a_how_to_question_about_sakti_becomes_a_question():
    message = _routed("bagaimana cara reset password sakti?", "sakti_service")
    assert message.get(INTENT) == {"name": "ask_question", "confidence": 0.9}
    ranking = message.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking] == ["ask_question", "greet", "sakti_service"]
    assert ranking[-1]["confidence"] == 0.0
    assert message.get(ROUTED_FROM) == "sakti_service"
    assert message.as_dict(only_output_properties=True)[ROUTED_FROM] == "sakti_service"


def test_a_request_keeps_its_intent():
    message = _routed("tolong reset password sakti saya", "sakti_service")
    assert message.get(INTENT)["name"] == "sakti_service"
    assert message.get(ROUTED_FROM) is None


def test_other_intents_are_left_alone():
    message = _routed("bagaimana cara bicara dengan petugas", "human_handoff")
    assert message.get(INTENT)["name"] == "human_handoff"


def test_a_question_taken_for_a_bare_value_becomes_a_question():
    message = _routed("kppn tutup saat cuti bersama?", "inform", 0.48)
    assert message.get(INTENT) == {"name": "ask_question", "confidence": 0.48}
    assert message.get(ROUTED_FROM) == "inform"


def test_a_bare_value_stays_a_value():
    for text in ("lewati", "budi@contoh.go.id", "tidak ada"):
        assert _routed(text, "inform").get(INTENT)["name"] == "inform"
    with_entity = Message(data={TEXT: "email saya apa ya?"})
    with_entity.set(INTENT, {"name": "inform", "confidence": 0.9})
    with_entity.set("entities", [{"entity": "email", "value": "x@y.id"}])
    routed = QuestionRouter(QuestionRouter.get_default_config()).process([with_entity])[0]
    assert routed.get(INTENT)["name"] == "inform"

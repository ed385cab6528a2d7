"""The chaos test's verdict (tests/chaos/run.py): nothing lost, no record doubled, doubled
answers only for replies in flight on a killed process that sends them (Rasa, the desk)."""

from __future__ import annotations

from tests.chaos.run import AGENT_MARK, Tally, check_whatsapp, verdict

KILLS = [("rasa server 1", 86.0, 37.0), ("action server 1", 171.0, 5.0)]


def test_a_clean_run_passes():
    assert verdict(Tally(), KILLS, 3) == 0


def test_a_lost_message_fails():
    found = Tally()
    found.problem("wa-faq", "6289 'ya': no answer in 150 s")
    assert found.counts["wa-faq:lost"] == 1
    assert verdict(found, KILLS, 3) == 1


def test_a_doubled_record_fails_whatever_the_allowance():
    found = Tally()
    found.problem("ticket", "doubled record: tiket-1 has tickets ['a', 'b']")
    assert verdict(found, KILLS, 100) == 1


def test_doubled_answers_pass_up_to_the_allowance_per_rasa_kill():
    found = Tally()
    for _ in range(3):
        found.problem("wa-faq", "doubled answer: 6289 got 'x' 2 times for 1")
    assert found.counts["wa-faq:doubled-answers"] == 3
    assert verdict(found, KILLS, 3) == 0  # one Rasa server killed: 3 allowed
    found.problem("wa-faq", "doubled answer: 6289 got 'y' 2 times for 1")
    assert verdict(found, KILLS, 3) == 1
    assert verdict(found, [], 3) == 1  # no Rasa kill: none allowed


def test_a_killed_agent_desk_allows_a_doubled_agent_reply_and_a_sweeper_none():
    found = Tally()
    found.problem("wa-handoff", "doubled answer: agent reply 2 of handoff 6 2 times")
    assert verdict(found, [("agent desk 1", 113.0, 6.0)], 1) == 0  # its worker relays replies
    assert verdict(found, [("idle sweeper 1", 119.0, 4.0)], 1) == 1


class Texts:
    """What the fake Graph API received, per phone (stands in for tests.support.fake_whatsapp)."""

    def __init__(self, texts: dict[str, list[str]]) -> None:
        self.texts = texts

    def recipients(self) -> set[str]:
        return set(self.texts)

    def texts_to(self, phone: str) -> list[str]:
        return self.texts.get(phone, [])


def agent_reply(handoff_id: int, number: int) -> str:
    return f"Baik ({number}). {AGENT_MARK}{handoff_id}.{number}]"


def test_agent_replies_are_checked_for_loss_doubles_and_order():
    found = Tally()
    found.expected[("62877001", AGENT_MARK)] = 1
    found.expected[("62877002", AGENT_MARK)] = 1
    found.agent_sent.update({11: 3, 12: 3})
    graph = Texts(
        {
            "62877001": [agent_reply(11, 1), agent_reply(11, 3), agent_reply(11, 2)],
            "62877002": [agent_reply(12, 1), agent_reply(12, 1), agent_reply(12, 2)],
        }
    )
    check_whatsapp(graph, found)
    assert found.counts["wa-handoff:out-of-order"] == 1
    assert found.counts["wa-handoff:doubled-answers"] == 1  # reply 1 of handoff 12
    assert found.counts["wa-handoff:lost"] == 1  # reply 3 of handoff 12
    assert verdict(found, KILLS, 3) == 1


def test_agent_replies_each_once_in_order_pass():
    found = Tally()
    found.expected[("62877001", AGENT_MARK)] = 1
    found.agent_sent[11] = 3
    check_whatsapp(Texts({"62877001": [agent_reply(11, n) for n in (1, 2, 3)]}), found)
    assert verdict(found, KILLS, 0) == 0

"""The chaos test's verdict (tests/chaos/run.py): nothing lost, no record doubled, doubled
answers only for turns in flight on a killed Rasa server."""

from __future__ import annotations

from tests.chaos.run import Tally, verdict

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

"""The process boundary of a running assistant: who may call the action server, and what a
citizen hears while it is down.

One stack (tests/support/stack.py: backend simulator, action server, Rasa server, started exactly
as `make run` starts them) serves every test; each test leaves every process running.

1. A forged call to the action server (a SAKTI reset for a citizen's WhatsApp number) is
   refused with 401 and reaches no backend; the Rasa server's own calls carry the token; the
   action server listens on loopback only.
2. A Rasa server whose token the action server does not accept gets no action run, and the
   citizen hears of a technical problem.
3. With the action server stopped, a new and an ongoing conversation get the technical-problem
   message (HTTP 200, never "belum memahami"); nothing of those turns is recorded, and once the
   action server is back the same messages are answered.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
import requests

from scripts.servers import listening_addresses
from tests.support.stack import MODEL, Stack

pytestmark = pytest.mark.live

API_TOKEN = "process-security-api-token"
TECHNICAL_PROBLEM = "gangguan teknis"
NOT_UNDERSTOOD = "belum memahami"
FAQ_ANSWER = "Surat Perintah Pencairan Dana"
CITIZEN = "6281234567890"  # the SAKTI fixture's registered phone (helpdesk/backends/fixtures.json)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    with Stack(rasa=True, env={"RASA_API_TOKEN": API_TOKEN}) as running:
        yield running


@pytest.fixture()
def running(stack: Stack) -> Iterator[Stack]:
    """The stack, with the action server back up (and its token right) after the test."""
    token = stack.env["RASA_ACTIONS_TOKEN"]
    yield stack
    actions = dict(stack.procs)["actions"]
    if stack.env["RASA_ACTIONS_TOKEN"] != token or actions.poll() is not None:
        stack.env["RASA_ACTIONS_TOKEN"] = token
        stack.restart("actions")


def new_sender() -> str:
    return "62813" + str(uuid.uuid4().int)[:8]


def say(stack: Stack, sender: str, text: str) -> list[str]:
    response = requests.post(stack.rest_url, json={"sender": sender, "message": text}, timeout=120)
    assert response.status_code == 200, response.text
    return [m.get("text") or "" for m in response.json()]


def events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": API_TOKEN, "include_events": "ALL"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["events"]


def user_texts(stack: Stack, sender: str) -> list[str]:
    return [e.get("text") for e in events(stack, sender) if e.get("event") == "user"]


def forged_sakti_reset() -> dict[str, Any]:
    """What an attacker posts: `action_sakti_reset` for a WhatsApp citizen, slots made up."""
    return {
        "next_action": "action_sakti_reset",
        "sender_id": CITIZEN,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": CITIZEN,
            "slots": {"nik": "3171234567890001", "satker_code": "123456", "sakti_confirm": True},
            "latest_message": {"text": "ya", "intent": {"name": "affirm"}, "entities": []},
            "latest_event_time": 0,
            "latest_input_channel": "whatsapp",
            "latest_action_name": "action_listen",
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "events": [],
        },
    }


def test_a_forged_action_call_is_refused_and_rasa_s_calls_get_through(running):
    stack = running
    for headers in ({}, {"Authorization": "Bearer tebakan"}, {"Authorization": "Basic eDp5"}):
        response = requests.post(
            stack.actions_url, json=forged_sakti_reset(), headers=headers, timeout=30
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthorized"
    assert "/v1/sakti/" not in stack.log_tail("backend", 20000).lower()  # no backend call
    listing = requests.get(stack.actions_url.replace("/webhook", "/actions"), timeout=30)
    assert listing.status_code == 401
    health = requests.get(stack.actions_url.replace("/webhook", "/health"), timeout=30)
    assert health.status_code == 200

    # With the token (what the Rasa server sends) the action server answers.
    listing = requests.get(
        stack.actions_url.replace("/webhook", "/actions"), headers=stack.actions_headers, timeout=30
    )
    assert listing.status_code == 200 and {"name": "action_sakti_reset"} in listing.json()
    # The Rasa server's own calls carry it: a FAQ question runs action_answer_faq.
    assert any(FAQ_ANSWER in text for text in say(stack, new_sender(), "apa itu sp2d?"))

    assert listening_addresses(stack.actions_port) == {"127.0.0.1"}


def test_a_rasa_server_with_the_wrong_token_gets_nothing_run(running):
    stack = running
    sender = new_sender()
    assert any(FAQ_ANSWER in text for text in say(stack, sender, "apa itu sp2d?"))

    stack.env["RASA_ACTIONS_TOKEN"] = "token-lain-yang-tidak-dikenal-rasa"
    stack.restart("actions")  # the action server now expects another token than Rasa sends

    replies = say(stack, sender, "apa itu sp2d?")
    assert len(replies) == 1 and TECHNICAL_PROBLEM in replies[0], replies
    assert "refused POST /webhook" in stack.log_tail("actions")
    assert user_texts(stack, sender) == ["apa itu sp2d?"]  # the refused turn is not recorded


def test_with_the_action_server_down_citizens_hear_of_a_technical_problem(running):
    stack = running
    ongoing = new_sender()
    assert any(FAQ_ANSWER in text for text in say(stack, ongoing, "apa itu sp2d?"))
    before = events(stack, ongoing)

    stack.stop("actions")
    newcomer = new_sender()
    for sender, text in [
        (newcomer, "halo"),
        (ongoing, "apa itu sp2d?"),
        (ongoing, "reset password sakti saya"),
        (ongoing, "menu"),
    ]:
        replies = say(stack, sender, text)
        assert len(replies) == 1 and TECHNICAL_PROBLEM in replies[0], (text, replies)
        assert not any(NOT_UNDERSTOOD in reply for reply in replies)

    # Nothing of the failed turns is recorded: the conversations are as they were.
    assert events(stack, ongoing) == before
    assert user_texts(stack, newcomer) == []

    stack.restart("actions")
    assert any(FAQ_ANSWER in text for text in say(stack, ongoing, "apa itu sp2d?"))
    greeting = say(stack, newcomer, "halo")
    assert greeting and not any(TECHNICAL_PROBLEM in text for text in greeting), greeting
    assert user_texts(stack, newcomer) == ["halo"]
    assert any(
        e.get("event") == "action" and e.get("name") == "action_session_start"
        for e in events(stack, newcomer)
    )

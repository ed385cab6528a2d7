"""Messenger and Instagram end to end: signed Meta deliveries into the whole assistant, answers
out to a fake Graph API (the Send API's `/{page id}/messages` and
`/{instagram account id}/messages`).

Starts the real stack (tests/support/stack.py) with both channels in its credentials, as
`make run` does when MESSENGER_PAGE_ACCESS_TOKEN and INSTAGRAM_ACCESS_TOKEN are set.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
import requests

from tests.support.fake_whatsapp import TOKEN, FakeGraph, post_signed, wait_for_text
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

pytestmark = pytest.mark.live

SECRET = "messenger-app-secret-for-tests"
PAGE_ID = "104857600000001"
IG_SECRET = "instagram-app-secret-for-tests"
IG_ACCOUNT_ID = "17841400000000001"
MESSENGER_BLOCK = """
connectors.meta.MessengerInput:
  access_token: ${MESSENGER_PAGE_ACCESS_TOKEN}
  app_secret: ${MESSENGER_APP_SECRET}
  verify_token: ${MESSENGER_VERIFY_TOKEN}
  page_id: ${MESSENGER_PAGE_ID}
  api_url: ${MESSENGER_API_URL}

connectors.meta.InstagramInput:
  access_token: ${INSTAGRAM_ACCESS_TOKEN}
  account_id: ${INSTAGRAM_ACCOUNT_ID}
  app_secret: ${INSTAGRAM_APP_SECRET}
  verify_token: ${INSTAGRAM_VERIFY_TOKEN}
  api_url: ${INSTAGRAM_API_URL}
"""


def texts_to(graph: FakeGraph, psid: str) -> list[str]:
    """Every text the assistant sent to `psid` through the Send API."""
    with graph.lock:
        bodies = [b for b in graph.bodies if (b.get("recipient") or {}).get("id") == psid]
    return [str(b["message"]["text"]) for b in bodies if "text" in (b.get("message") or {})]


def wait_for(graph: FakeGraph, psid: str, needle: str, timeout: float = 30) -> list[str]:
    """Every text sent to `psid`, once one of them holds `needle`."""
    return wait_for_text(lambda: texts_to(graph, psid), needle, psid, timeout)


def deliver(
    stack: Stack, psid: str, text: str, mid: str, *, instagram: bool = False
) -> requests.Response:
    """POST one signed Messenger (or Instagram) delivery of a text message."""
    account, secret = (IG_ACCOUNT_ID, IG_SECRET) if instagram else (PAGE_ID, SECRET)
    payload = {
        "object": "instagram" if instagram else "page",
        "entry": [
            {
                "id": account,
                "time": int(time.time() * 1000),
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": account},
                        "timestamp": int(time.time() * 1000),
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
    channel = "instagram" if instagram else "messenger"
    return post_signed(f"{stack.rasa_url}/webhooks/{channel}/webhook", payload, secret)


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def stack(graph: FakeGraph) -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    env: dict[str, Any] = {
        "MESSENGER_PAGE_ACCESS_TOKEN": "test-page-token",
        "MESSENGER_APP_SECRET": SECRET,
        "MESSENGER_VERIFY_TOKEN": "verify-me",
        "MESSENGER_PAGE_ID": PAGE_ID,
        "MESSENGER_API_URL": graph.url,
        "INSTAGRAM_ACCESS_TOKEN": "test-instagram-token",
        "INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID,
        "INSTAGRAM_APP_SECRET": IG_SECRET,
        "INSTAGRAM_VERIFY_TOKEN": "verify-me-too",
        "INSTAGRAM_API_URL": graph.url,
        "RASA_API_TOKEN": TOKEN,
    }
    with Stack(rasa=True, env=env, credentials=DEFAULT_CREDENTIALS + MESSENGER_BLOCK) as running:
        yield running


def test_a_signed_message_is_greeted_and_a_question_answered_once(stack, graph):
    psid = "6543210987654321"
    assert deliver(stack, psid, "halo", "m_in_1").status_code == 200
    texts = wait_for(graph, psid, "Selamat")
    assert all(len(text) <= 2000 for text in texts)
    with graph.lock:
        sent = [b for b in graph.bodies if (b.get("recipient") or {}).get("id") == psid]
    assert {b["path"] for b in sent} == {f"/v20.0/{PAGE_ID}/messages"}  # the page id is set
    assert {b["messaging_type"] for b in sent} == {"RESPONSE"}

    for _ in range(2):  # a re-delivery is answered once
        assert deliver(stack, psid, "apa itu sp2d", "m_in_dup").status_code == 200
    wait_for(graph, psid, "Surat Perintah Pencairan Dana")
    time.sleep(2)
    answers = [t for t in texts_to(graph, psid) if "Surat Perintah Pencairan Dana" in t]
    assert len(answers) == 1


def test_a_forged_delivery_is_refused(stack, graph):
    raw = json.dumps({"object": "page", "entry": []}).encode()
    reply = requests.post(
        f"{stack.rasa_url}/webhooks/messenger/webhook",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        timeout=30,
    )
    assert reply.status_code == 403


def test_an_instagram_question_is_answered_once_through_the_account_endpoint(stack, graph):
    igsid = "5432109876543210"
    for _ in range(2):  # a re-delivery is answered once
        assert deliver(stack, igsid, "apa itu sp2d", "ig_in_1", instagram=True).status_code == 200
    wait_for(graph, igsid, "Surat Perintah Pencairan Dana")
    time.sleep(2)
    assert len([t for t in texts_to(graph, igsid) if "Surat Perintah Pencairan Dana" in t]) == 1
    with graph.lock:
        sent = [b for b in graph.bodies if (b.get("recipient") or {}).get("id") == igsid]
    assert {b["path"] for b in sent} == {f"/v20.0/{IG_ACCOUNT_ID}/messages"}
    assert {b["messaging_type"] for b in sent} == {"RESPONSE"}
    # Messenger's secret does not sign Instagram deliveries.
    empty = {"object": "instagram", "entry": []}
    reply = post_signed(f"{stack.rasa_url}/webhooks/instagram/webhook", empty, SECRET)
    assert reply.status_code == 403

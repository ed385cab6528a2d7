"""Messenger end to end: signed Messenger Platform deliveries into the whole assistant, answers
out to a fake Graph API (the Send API's `/{page id}/messages`).

Starts the real stack (tests/support/stack.py) with the Messenger channel in its credentials, as
`make run` does when MESSENGER_PAGE_ACCESS_TOKEN is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Iterator

import pytest
import requests

from tests.support.fake_whatsapp import TOKEN, FakeGraph
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

pytestmark = pytest.mark.live

SECRET = "messenger-app-secret-for-tests"
PAGE_ID = "104857600000001"
MESSENGER_BLOCK = """
connectors.meta.MessengerInput:
  access_token: ${MESSENGER_PAGE_ACCESS_TOKEN}
  app_secret: ${MESSENGER_APP_SECRET}
  verify_token: ${MESSENGER_VERIFY_TOKEN}
  page_id: ${MESSENGER_PAGE_ID}
  api_url: ${MESSENGER_API_URL}
"""


def texts_to(graph: FakeGraph, psid: str) -> list[str]:
    """Every text the assistant sent to `psid` through the Send API."""
    with graph.lock:
        bodies = [b for b in graph.bodies if (b.get("recipient") or {}).get("id") == psid]
    return [str(b["message"]["text"]) for b in bodies if "text" in (b.get("message") or {})]


def wait_for(graph: FakeGraph, psid: str, needle: str, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = texts_to(graph, psid)
        if any(needle in text for text in texts):
            return texts
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never sent to {psid}; sent: {texts_to(graph, psid)}")


def deliver(stack: Stack, psid: str, text: str, mid: str) -> requests.Response:
    """POST one signed Messenger delivery of a text message."""
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": int(time.time() * 1000),
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": int(time.time() * 1000),
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return requests.post(
        f"{stack.rasa_url}/webhooks/messenger/webhook",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        timeout=30,
    )


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

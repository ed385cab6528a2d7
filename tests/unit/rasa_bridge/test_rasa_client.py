"""helpdesk.rasa_bridge.client.RasaClient against a mocked Rasa HTTP API (the `responses`
library)."""

from __future__ import annotations

import json
import logging
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from helpdesk.rasa_bridge.client import RasaClient

RASA = "http://rasa.test:5005"
SENDER = "6281234567890"
ODD_SENDER = "wa:6281234567890/1 x?y#z"
ODD_PATH = "/conversations/wa%3A6281234567890%2F1%20x%3Fy%23z"
META = {"handoff_message_id": 7, "handoff_id": 3, "agent": "Sari Dewi"}


def only_request():
    assert len(responses.calls) == 1
    request = responses.calls[0].request
    url = urlsplit(request.url)
    return url.path, parse_qs(url.query), json.loads(request.body), request


@responses.activate
def test_execute_runs_the_action_in_the_conversation():
    responses.add(responses.POST, f"{RASA}{ODD_PATH}/execute", json={"tracker": {}}, status=200)

    assert RasaClient(f"{RASA}/", "s3cret").execute(ODD_SENDER, "action_handoff_end") is True

    path, query, body, request = only_request()
    assert path == f"{ODD_PATH}/execute"
    assert query == {"output_channel": ["latest"], "token": ["s3cret"]}
    assert body == {"name": "action_handoff_end"}
    assert request.headers["Content-Type"] == "application/json"


@responses.activate
def test_send_bot_message_appends_a_bot_event_with_side_effects():
    responses.add(
        responses.POST, f"{RASA}{ODD_PATH}/tracker/events", json={"events": []}, status=200
    )

    client = RasaClient(RASA, "s3cret")
    assert client.send_bot_message(ODD_SENDER, "Selamat siang, Bapak.", META) is True

    path, query, body, request = only_request()
    assert path == f"{ODD_PATH}/tracker/events"
    assert query == {
        "output_channel": ["latest"],
        "execute_side_effects": ["true"],
        "token": ["s3cret"],
    }
    assert body == [{"event": "bot", "text": "Selamat siang, Bapak.", "metadata": META}]
    assert request.headers["Content-Type"] == "application/json"


@responses.activate
def test_the_timeout_is_passed_on_every_request(monkeypatch):
    seen: list[object] = []
    client = RasaClient(RASA, "t", timeout=3.5)
    post = client.session.post

    def recording_post(*args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return post(*args, **kwargs)

    monkeypatch.setattr(client.session, "post", recording_post)
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/execute", json={})
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/tracker/events", json={})

    assert client.execute(SENDER, "action_handoff_end")
    assert client.send_bot_message(SENDER, "Halo", {})
    assert seen == [3.5, 3.5]


FAILURES = [
    {"status": 500, "json": {"message": "boom"}},
    {"status": 401, "json": {"message": "token"}},
    {"status": 404, "json": {"message": "no such conversation"}},
    {"body": requests.ConnectionError("refused")},
    {"body": requests.Timeout("slow")},
]
FAILURE_IDS = ["http-500", "http-401", "http-404", "connection-error", "timeout"]


@pytest.mark.parametrize("reply", FAILURES, ids=FAILURE_IDS)
@responses.activate
def test_a_failed_execute_returns_false_and_logs_a_masked_sender(caplog, reply):
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/execute", **reply)
    caplog.set_level(logging.WARNING, logger="helpdesk.rasa_bridge.client")

    assert RasaClient(RASA, "s3cret").execute(SENDER, "action_handoff_end") is False

    assert "running action_handoff_end for *********7890 failed" in caplog.text
    assert SENDER not in caplog.text
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize("reply", FAILURES, ids=FAILURE_IDS)
@responses.activate
def test_a_failed_bot_message_returns_false_and_logs_a_masked_sender(caplog, reply):
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/tracker/events", **reply)
    caplog.set_level(logging.WARNING, logger="helpdesk.rasa_bridge.client")

    client = RasaClient(RASA, "s3cret")
    assert client.send_bot_message(SENDER, "Rahasia 6281234567890", META) is False

    assert "sending an agent reply for *********7890 failed" in caplog.text
    assert SENDER not in caplog.text
    assert "s3cret" not in caplog.text
    assert "Rahasia" not in caplog.text


@responses.activate
def test_the_failure_log_names_the_status_or_the_error(caplog):
    responses.add(responses.POST, f"{RASA}/conversations/{SENDER}/execute", status=503)
    responses.add(
        responses.POST,
        f"{RASA}/conversations/{SENDER}/tracker/events",
        body=requests.Timeout("slow"),
    )
    caplog.set_level(logging.WARNING, logger="helpdesk.rasa_bridge.client")
    client = RasaClient(RASA, "t")

    assert client.execute(SENDER, "action_handoff_end") is False
    assert client.send_bot_message(SENDER, "Halo", {}) is False

    assert [r.getMessage() for r in caplog.records] == [
        "running action_handoff_end for *********7890 failed: HTTP 503",
        "sending an agent reply for *********7890 failed: Timeout",
    ]


def test_against_a_closed_port_both_calls_return_false(caplog):
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.WARNING, logger="helpdesk.rasa_bridge.client")
    client = RasaClient(f"http://127.0.0.1:{port}", "t", timeout=2)

    assert client.execute(SENDER, "action_handoff_end") is False
    assert client.send_bot_message(SENDER, "Halo", {}) is False
    assert caplog.text.count("ConnectionError") == 2


def test_a_timeout_must_be_positive():
    with pytest.raises(ValueError):
        RasaClient(RASA, "t", timeout=0)

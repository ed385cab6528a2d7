"""The main job of the README, as a new user runs it: `make run`, then Ctrl-C.

`make run` is started for real (the same Makefile target, the same scripts/run.py) on free
ports and in a fresh var dir, with no RASA_API_TOKEN in the environment. The tests share that
one run and go in order: they wait for the "Press Ctrl-C" line, then check that every service
the README lists is up (Rasa, the action server, the backend simulator, the idle sweeper, the
agent desk), that the HTTP API URL printed works as pasted, that a FAQ question is answered
over REST, that the desk's login page renders and its health check reads the database; that
no secret is on the command line of any process it started (`ps` shows those to every user);
that the action server listens on loopback only and refuses a forged call; that an action
server killed with SIGKILL is restarted and answers again while the others keep running; and
that Ctrl-C stops every process.

Needs the trained model (`make train`); the FAQ index is built into the fresh var dir by
`make run` itself.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
import requests

from scripts.servers import listening_addresses
from tests.support.makerun import (
    MODEL,
    READY,
    SERVICES,
    START_TIMEOUT,
    alive,
    descendants,
    proc_file,
    up_pids,
)
from tests.support.makerun import make_run as start_make_run

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """`make run` on free ports in a fresh var dir; yields (process, output, environment)."""
    if not MODEL.is_file():
        pytest.skip(f"no trained model at {MODEL}: run `make train`")
    with start_make_run(tmp_path_factory.mktemp("make-run")) as running:
        yield running


@pytest.fixture
def running(make_run):
    """The shared `make run`, once it is ready."""
    proc, output, env = make_run
    output.wait_for(READY, proc, START_TIMEOUT)
    return make_run


def ask_faq(text: str) -> str:
    """The answer to "apa itu sp2d?" through the REST curl line the summary shows."""
    rest = re.search(r"^  REST channel\s+curl -s (\S+)", text, re.M).group(1)
    reply = requests.post(rest, json={"sender": "warga-1", "message": "apa itu sp2d?"}, timeout=60)
    assert reply.status_code == 200
    return " ".join(m.get("text") or "" for m in reply.json())


def base_of(text: str) -> str:
    """The Rasa server's address, from the web chat line of the summary."""
    return re.search(r"^  web chat\s+(http://[^/\s]+)/", text, re.M).group(1)


def test_make_run_brings_up_every_service(running):
    proc, output, env = running
    text = output.text

    pids = up_pids(text)
    assert sorted(pids) == sorted(SERVICES), text[-4000:]
    assert all(alive(pid) for pid in pids.values())

    # The URLs it prints work when pasted (the generated token is in the HTTP API URL).
    api = re.search(r"^  HTTP API\s+(\S+)", text, re.M).group(1)
    assert "$" not in api
    assert requests.get(api, timeout=10).status_code == 200
    action_health = re.search(r"^  action server\s+(\S+)", text, re.M).group(1)
    assert requests.get(action_health, timeout=10).status_code == 200
    backend = re.search(r"^  backend services\s+simulator (http://\S+)", text, re.M).group(1)
    assert requests.get(f"{backend}/v1/health", timeout=10).status_code == 200

    # A FAQ question over REST, with the curl line the summary shows.
    answer = ask_faq(text)
    assert "Surat Perintah Pencairan Dana" in answer, answer
    assert "Silakan pilih layanan" not in answer, "a first question gets its answer, not the menu"

    # The widget's demo page (another origin) carries the snippet, and the chat lets it frame it.
    demo = re.search(r"^  widget demo\s+(http://\S+)/", text, re.M).group(1)
    page = requests.get(f"{demo}/", timeout=10)
    assert page.status_code == 200 and "/webhooks/webchat/widget.js" in page.text
    loader = requests.get(f"{base_of(text)}/webhooks/webchat/widget.js", timeout=10)
    assert loader.status_code == 200 and '"colour": "#0b4a8b"' in loader.text
    chat = requests.get(f"{base_of(text)}/webhooks/webchat/", timeout=10)
    assert (
        f"frame-ancestors 'self' http://localhost:{env['HELPDESK_WIDGET_DEMO_PORT']}"
        in (chat.headers["Content-Security-Policy"])
    )

    # The agent desk: its login page renders and its health check reads the database.
    desk = re.search(r"^  agent desk\s+(http://\S+)/", text, re.M).group(1)
    login = requests.get(f"{desk}/login", timeout=10)
    assert login.status_code == 200 and "Masuk" in login.text
    health = requests.get(f"{desk}/healthz", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["database"]["status"] == "ok"

    # The idle sweeper is running, its log is under the var dir.
    assert alive(pids["idle sweeper"])
    assert (Path(env["HELPDESK_VAR_DIR"]) / "log" / "sweeper.log").is_file()
    # TensorFlow's start-up noise stays in the logs, not on the console.
    assert "cpu_feature_guard" not in text and "oneDNN" not in text


def test_no_secret_is_on_any_command_line(running):
    proc, output, _ = running
    pids = up_pids(output.text)
    api_token = re.search(r"^  HTTP API\s+\S+\?token=(\S+)", output.text, re.M).group(1)
    # The processes get their secrets through the environment (readable by their owner only).
    rasa_env = proc_file(pids["rasa server"], "environ")
    assert f"RASA_API_TOKEN={api_token}" in rasa_env
    actions_env = proc_file(pids["action server"], "environ")
    actions_token = next(
        item.split("=", 1)[1] for item in actions_env if item.startswith("RASA_ACTIONS_TOKEN=")
    )
    assert len(actions_token) >= 32

    processes = descendants(proc.pid)
    assert set(pids.values()) <= set(processes)
    for pid in [proc.pid, *processes]:
        line = " ".join(proc_file(pid, "cmdline"))
        assert api_token not in line, line
        assert actions_token not in line, line
        assert "--auth-token" not in line, line


def test_the_action_server_refuses_forged_calls_and_listens_on_loopback_only(running):
    _, _, env = running
    port = int(env["RASA_ACTIONS_PORT"])
    forged = {
        "next_action": "action_sakti_reset",
        "sender_id": "6281234567890",
        "tracker": {"sender_id": "6281234567890", "latest_input_channel": "whatsapp"},
        "domain": {},
        "version": "3.6.21",
    }
    response = requests.post(f"http://127.0.0.1:{port}/webhook", json=forged, timeout=10)
    assert response.status_code == 401, response.text
    assert listening_addresses(port) == {"127.0.0.1"}


def test_a_killed_action_server_comes_back_and_the_others_keep_running(running):
    _, output, _ = running
    before = up_pids(output.text)
    os.kill(before["action server"], signal.SIGKILL)

    output.wait_for("action server is up again", running[0], 180)
    after = up_pids(output.text)
    assert after["action server"] != before["action server"]
    assert alive(after["action server"])
    # The others were neither stopped nor restarted.
    assert {k: v for k, v in after.items() if k != "action server"} == {
        k: v for k, v in before.items() if k != "action server"
    }
    assert all(alive(pid) for pid in after.values())
    assert re.search(r"action server exited with code -9 .*restarting it in 1 s", output.text)
    # It answers: a FAQ question needs it.
    assert "Surat Perintah Pencairan Dana" in ask_faq(output.text)


def test_ctrl_c_stops_every_process(running):
    proc, output, _ = running
    pids = up_pids(output.text)
    assert sorted(pids) == sorted(SERVICES)

    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [label for label, pid in pids.items() if alive(pid)]
    assert "all processes stopped" in output.text
    assert "restarted (pid" not in output.text.split("stopping all processes")[-1]

"""`helpdesk backend serve`: user errors, the choice of fixtures file, and a real server process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpdesk.backends import simulator
from helpdesk.backends.fixtures import DEFAULT_FIXTURES_PATH
from helpdesk.cli import main
from helpdesk.settings import PROJECT_ROOT, get_settings


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch):
    """Settings from this test's environment only (they are cached per process)."""
    monkeypatch.setenv("HELPDESK_BACKEND_FIXTURES", "")
    monkeypatch.setenv("HELPDESK_BACKEND_API_KEY", "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def served(monkeypatch) -> list[dict]:
    """Replace the blocking `serve` with one that records its arguments."""
    calls: list[dict] = []

    def fake_serve(fixtures, **kwargs):
        calls.append({"fixtures": fixtures, **kwargs})

    monkeypatch.setattr(simulator, "serve", fake_serve)
    return calls


@pytest.fixture
def bad_fixtures(tmp_path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"sp2d": [{"number": "123"}]}), encoding="utf-8")
    return path


def test_bad_fixtures_file_is_one_clear_line_and_status_2(bad_fixtures, served, capsys):
    assert main(["backend", "serve", "--fixtures", str(bad_fixtures)]) == 2

    err = capsys.readouterr().err
    assert err == f"helpdesk: error: {bad_fixtures}: sp2d[0].number must be 15 digits\n"
    assert served == []


def test_missing_fixtures_file_is_status_2(tmp_path, served, capsys):
    missing = tmp_path / "nope.json"

    assert main(["backend", "serve", "--fixtures", str(missing)]) == 2

    assert f"{missing}: cannot read the fixtures file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--port", "70000"], "--port must be 0 to 65535"),
        (["--slow-seconds", "-1"], "--slow-seconds must be >= 0"),
    ],
)
def test_bad_option_is_status_2(option, message, served, capsys):
    assert main(["backend", "serve", *option]) == 2

    assert message in capsys.readouterr().err


def test_port_in_use_is_status_2(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["backend", "serve", "--port", str(port)]) == 2

    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_defaults_are_the_shipped_fixtures_and_no_api_key(served):
    assert main(["backend", "serve"]) == 0

    [call] = served
    assert call["fixtures"].source == str(DEFAULT_FIXTURES_PATH)
    assert call["host"] == "127.0.0.1"
    assert call["port"] == 8081
    assert call["api_key"] is None
    assert call["slow_seconds"] == 10.0


def test_settings_choose_fixtures_and_api_key(bad_fixtures, monkeypatch, served, capsys):
    monkeypatch.setenv("HELPDESK_BACKEND_FIXTURES", str(bad_fixtures))
    monkeypatch.setenv("HELPDESK_BACKEND_API_KEY", "s3cret")
    get_settings.cache_clear()

    assert main(["backend", "serve"]) == 2
    assert str(bad_fixtures) in capsys.readouterr().err

    args = ["backend", "serve", "--fixtures", str(DEFAULT_FIXTURES_PATH), "--port", "9000"]
    assert main([*args, "--host", "0.0.0.0", "--slow-seconds", "0.5"]) == 0
    [call] = served
    assert call["fixtures"].source == str(DEFAULT_FIXTURES_PATH)
    assert (call["host"], call["port"]) == ("0.0.0.0", 9000)
    assert call["api_key"] == "s3cret"
    assert call["slow_seconds"] == 0.5


def test_serve_runs_until_sigterm_and_exits_0(tmp_path):
    env = {
        **os.environ,
        "HELPDESK_BACKEND_API_KEY": "s3cret",
        "HELPDESK_BACKEND_FIXTURES": "",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "helpdesk", "backend", "serve", "--port", "0"]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        match = re.match(r"Backend simulator on (http://127\.0\.0\.1:[0-9]+) \((.*)\)$", first_line)
        assert match, first_line
        url = match.group(1)
        assert "7 SP2D, 6 contracts, 7 DIGIT users, 6 SAKTI users" in match.group(2)
        assert "X-API-Key required" in match.group(2)

        deadline = time.monotonic() + 10
        while True:
            try:
                health = requests.get(url + "/v1/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the simulator did not answer"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        body = {"sp2d_number": "260011301000123", "account_number": "1234567890"}
        assert requests.post(url + "/v1/sp2d/lookup", json=body, timeout=2).status_code == 401
        keyed = requests.post(
            url + "/v1/sp2d/lookup", json=body, headers={"X-API-Key": "s3cret"}, timeout=2
        )
        assert keyed.json()["status"] == "Sudah dicairkan"

        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0
    assert "GET /v1/health 200" in err
    assert "POST /v1/sp2d/lookup 401" in err
    assert "POST /v1/sp2d/lookup 200" in err
    assert "1234567890" not in err
    assert "received SIGTERM" in err

"""The main job of the README, as a new user runs it: `make run`, then Ctrl-C.

`make run` is started for real (the same Makefile target, the same scripts/run.py) on free
ports and in a fresh var dir, with no RASA_API_TOKEN in the environment. The test waits for
the "Press Ctrl-C" line, then checks that every service the README lists is up (Rasa, the
action server, the backend simulator, the idle sweeper, the agent desk), that the HTTP API URL
printed works as pasted, that a FAQ question is answered over REST, that the desk's login page
renders and its health check reads the database, and that Ctrl-C stops every process.

Needs the trained model (`make train`); the FAQ index is built into the fresh var dir by
`make run` itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from servers import free_port  # noqa: E402

MODEL = ROOT / "models" / "helpdesk.tar.gz"
READY = "Press Ctrl-C to stop."
#: A cold start builds the FAQ index and loads two e5 models and the Rasa model.
START_TIMEOUT = 600
SERVICES = ("backend simulator", "action server", "rasa server", "idle sweeper", "agent desk")


class Output:
    """Collects the lines a process prints, from a background thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, marker: str, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(marker in line for line in self.lines):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"no {marker!r} from make run; its output:\n{self.text[-6000:]}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def make_run(tmp_path):
    """`make run` on free ports in a fresh var dir; yields (process, output, environment)."""
    if not MODEL.is_file():
        pytest.skip(f"no trained model at {MODEL}: run `make train`")
    env = dict(os.environ)
    for name in (
        "RASA_API_TOKEN",
        "HELPDESK_DATABASE_URL",
        "HELPDESK_BACKEND_URL",
        "ACTION_ENDPOINT_URL",
        "MAKEFLAGS",
    ):
        env.pop(name, None)
    env.update(
        RASA_PORT=str(free_port()),
        RASA_ACTIONS_PORT=str(free_port()),
        HELPDESK_BACKEND_PORT=str(free_port()),
        HELPDESK_DESK_PORT=str(free_port()),
        HELPDESK_VAR_DIR=str(tmp_path / "var"),
        RASA_TRACKER_DB=str(tmp_path / "var" / "tracker.db"),
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: Ctrl-C goes to make and run.py
    )
    output = Output(proc)
    try:
        yield proc, output, env
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_make_run_brings_up_every_service_and_ctrl_c_stops_them(make_run):
    proc, output, env = make_run
    output.wait_for(READY, proc, START_TIMEOUT)
    text = output.text

    pids = {label: int(pid) for label, pid in re.findall(r"^(.+) is up \(pid (\d+)\)$", text, re.M)}
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
    rest = re.search(r"^  REST channel\s+curl -s (\S+)", text, re.M).group(1)
    reply = requests.post(rest, json={"sender": "warga-1", "message": "apa itu sp2d?"}, timeout=60)
    assert reply.status_code == 200
    answer = " ".join(m.get("text") or "" for m in reply.json())
    assert "Surat Perintah Pencairan Dana" in answer, answer
    assert "Silakan pilih layanan" not in answer, "a first question gets its answer, not the menu"

    # The agent desk: its login page renders and its health check reads the database.
    desk = re.search(r"^  agent desk\s+(http://\S+)/", text, re.M).group(1)
    login = requests.get(f"{desk}/login", timeout=10)
    assert login.status_code == 200 and "Masuk" in login.text
    health = requests.get(f"{desk}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "ok"

    # The idle sweeper is running, its log is under the var dir.
    assert alive(pids["idle sweeper"])
    assert (Path(env["HELPDESK_VAR_DIR"]) / "log" / "sweeper.log").is_file()
    # TensorFlow's start-up noise stays in the logs, not on the console.
    assert "cpu_feature_guard" not in text and "oneDNN" not in text

    # Ctrl-C stops every process.
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [label for label, pid in pids.items() if alive(pid)]
    assert "all processes stopped" in output.text

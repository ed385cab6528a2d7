"""`make run` for real, as a new user runs it, for the live tests that need the whole
supervised assistant (tests/e2e_live/test_make_run_live.py, test_crash_under_load_live.py).

`make_run(tmp_path)` starts the Makefile target on free ports, in a fresh var dir, with no
tokens in the environment, in its own process group; on exit it sends Ctrl-C (SIGINT) and
waits, then kills the group. The helpers read what it prints and what /proc shows.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from scripts.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

MODEL = ROOT / "models" / "helpdesk.tar.gz"
READY = "Press Ctrl-C to stop."
#: A cold start builds the FAQ index and loads two e5 models and the Rasa model.
START_TIMEOUT = 600
SERVICES = (
    "backend simulator",
    "action server",
    "rasa server",
    "idle sweeper",
    "agent desk",
    "widget demo page",
)


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


def descendants(root: int) -> list[int]:
    """Every living process below `root` (its children, theirs, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def proc_file(pid: int, name: str) -> list[str]:
    """/proc/<pid>/cmdline or environ as its NUL-separated items ([] once the process is gone)."""
    try:
        raw = (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return []
    return [item.decode("utf-8", "replace") for item in raw.split(b"\0") if item]


def up_pids(text: str) -> dict[str, int]:
    """The latest pid of each service, from its "is up" (or "is up again") lines."""
    pattern = r"^(.+?) is up(?: again)? \(pid (\d+)\)$"
    return {label: int(pid) for label, pid in re.findall(pattern, text, re.M)}


@contextmanager
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, "Output", dict[str, str]]]:
    """`make run` on free ports in a fresh var dir under `tmp_path`; yields (process, output,
    environment)."""
    env = dict(os.environ)
    for name in (
        "RASA_API_TOKEN",
        "RASA_ACTIONS_TOKEN",
        "RASA_ACTIONS_HOST",
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
        HELPDESK_SWEEPER_PORT=str(free_port()),
        HELPDESK_WIDGET_DEMO_PORT=str(free_port()),
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

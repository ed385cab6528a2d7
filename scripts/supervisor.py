"""Starting, watching and stopping the assistant's processes (`make run`, the test stacks).

`spawn` starts a service (`scripts.run_plan.Service`) in its own process group. Each process's
whole output goes to `var/log/<service>.log`; the console shows it prefixed with the service's
name, without the start-up noise of TensorFlow and absl, so the lines that matter stay visible.

Once everything is up, a `Supervisor` keeps it so: a process that exits is restarted after a
back-off (1 s, doubling to 30 s, back to 1 s once it has stayed up a minute) while the others
keep running. `stop` stops them all (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Mapping, Protocol, Sequence

from scripts.run_plan import ROOT, Service
from scripts.servers import wait_http

#: Start-up lines of TensorFlow, absl and Python's warnings machinery that bury the useful
#: ones; they stay in var/log/<service>.log.
NOISE = re.compile(
    r"tensorflow|TensorFlow|oneDNN|cuda|CUDA|cuDNN|cuBLAS|absl::|XLA|cpu_feature_guard|"
    r"Warning:|warnings\.warn|^\s+(warn|warnings|super\(\)\.__init__|return |from |import )|"
    r"rebuild TensorFlow|TF-TRT|numexpr|Epochs|^\s*$|GET /(v1/)?health|pkg_resources|"
    r"declare_namespace|namespace packages|Registered function for|Starting plugins"
)
#: One line at a time on the console: the services' output and run.py's own come from
#: several threads.
_CONSOLE = threading.Lock()


def say(text: str, *, error: bool = False) -> None:
    """Print whole lines to the console (stderr for errors), never interleaved."""
    stream = sys.stderr if error else sys.stdout
    with _CONSOLE:
        stream.write(text + "\n")
        stream.flush()


#: How the processes' lines name their level and logger: Rasa and the action server
#: ("2026-12-06 05:27:53 INFO     rasa.core  - text"), the helpdesk command
#: ("2026-12-06 05:27:53,138 INFO helpdesk.desk: text") and Sanic ("[...] [pid] [INFO] text").
_STAMP = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_LINE_FORMATS = (
    re.compile(_STAMP + r"\s+(?P<level>[A-Z]+)\s+(?P<logger>\S+)\s+- (?P<message>.*)$"),
    re.compile(_STAMP + r",\d+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<message>.*)$"),
    re.compile(r"^\[[^\]]+\] \[\d+\] \[(?P<level>[A-Z]+)\] (?P<message>.*)$"),
)
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class JsonLines:
    """Turns a process's output lines into JSON log records for a log shipper
    (`HELPDESK_LOG_FORMAT=json`): time, process (the service's name: `rasa-2`), pid, level,
    logger and message. A line that continues the one before (a traceback's frames) keeps its
    level and says `"continued": true`."""

    def __init__(self, process: str, pid: int) -> None:
        self.process, self.pid = process, pid
        self.level = "INFO"
        self.logger = ""

    def record(self, line: str, now: float | None = None) -> str:
        import json
        from datetime import datetime, timezone

        stamp = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
        fields: dict[str, object] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "process": self.process,
            "pid": self.pid,
        }
        continued = line.startswith((" ", "\t")) or line.startswith("Traceback")
        match = (
            None
            if continued
            else next((m for m in (f.match(line) for f in _LINE_FORMATS) if m), None)
        )
        if match and match.group("level") in _LEVELS:
            self.level = match.group("level")
            self.logger = match.groupdict().get("logger") or ""
            message = match.group("message")
        else:
            message = line
            if not continued:  # a line of its own without a known format
                self.logger = ""
        fields.update(level=self.level, logger=self.logger, message=message)
        if continued:
            fields["continued"] = True
        return json.dumps(fields, ensure_ascii=False)


def pump(
    stream: IO[bytes], log: IO[str], label: str | None, json_lines: JsonLines | None = None
) -> None:
    """Copy a child's output to its log file (as JSON records with `json_lines`) and, unless
    it is noise, to the console."""
    hidden = False
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        log.write((json_lines.record(line) if json_lines else line) + "\n")
        log.flush()
        # An indented line continues the line before it (a warning's source line, a
        # traceback's frame): shown or hidden with it.
        continued = line.startswith((" ", "\t"))
        hidden = hidden if continued else bool(NOISE.search(line))
        if label is not None and not hidden:
            say(f"{label:<8}| {line}")
    log.close()


def log_format(env: Mapping[str, str]) -> str:
    """`HELPDESK_LOG_FORMAT`: "text" (default, the lines as printed) or "json" (one JSON
    record a line in var/log/<service>.log, for a log shipper).

    Raises:
        ValueError: For another value.
    """
    value = (env.get("HELPDESK_LOG_FORMAT") or "text").strip().lower()
    if value not in {"text", "json"}:
        raise ValueError(f"HELPDESK_LOG_FORMAT must be text or json, not {value!r}")
    return value


def spawn(
    service: Service, env: Mapping[str, str], log_dir: Path, *, console: bool, append: bool = False
) -> subprocess.Popen:
    """Start `service` in its own process group; its output goes to `log_dir/<name>.log`
    (JSON records with `HELPDESK_LOG_FORMAT=json`) and to the console when `console`. The
    process learns its name from `HELPDESK_PROCESS_NAME`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{service.name}.log", "a" if append else "w", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen(
        service.args,
        cwd=ROOT,
        env={**env, "HELPDESK_PROCESS_NAME": service.name},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    label = service.name if console else None
    json_lines = JsonLines(service.name, proc.pid) if log_format(env) == "json" else None
    threading.Thread(target=pump, args=(proc.stdout, log, label, json_lines), daemon=True).start()
    return proc


def wait_up(service: Service, proc: subprocess.Popen) -> bool:
    """Whether `service` came up within its timeout (its health URL, or still running)."""
    if service.health is None:
        deadline = time.monotonic() + service.timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            time.sleep(0.2)
        return True
    return wait_http(service.health, proc, service.timeout)


class Process(Protocol):
    """What the supervisor and `stop` need of a started process (`subprocess.Popen` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def stop(procs: Sequence[tuple[str, Process]], timeout: float = 10) -> None:
    """SIGTERM every process group (last started first), SIGKILL what is left after
    `timeout` seconds."""
    for _, proc in reversed(procs):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for _, proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass(frozen=True)
class Backoff:
    """How long the supervisor waits before it restarts a process that exited.

    The first restart waits `initial` seconds and each further one twice as long as the one
    before, at most `maximum`; a process that had been up for `reset_after` seconds before it
    exited starts over at `initial`.
    """

    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0

    def delay(self, previous: float | None, uptime: float) -> float:
        """The wait before the next restart.

        Args:
            previous: The wait before the last restart (None: it never was restarted).
            uptime: Seconds the process had been up (healthy) when it exited; 0 when it never
                came up.
        """
        if previous is None or uptime >= self.reset_after:
            return self.initial
        return min(previous * 2, self.maximum)


@dataclass
class Watched:
    """One supervised service and the state of its process."""

    service: Service
    proc: Process | None
    started_at: float
    up_since: float | None = None
    delay: float | None = None
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Keeps every service running: restarts a process that exited, with `Backoff`.

    `tick()` is called about once a second (by `main` in scripts/run.py, or a test with a fake
    clock). Nothing in it blocks longer than one health probe, so one service coming back never
    holds up the others. A restarted service counts as up again once its health URL answers (a
    service without one: once it has run for its `timeout`); one that does not within its
    `timeout` is killed and restarted like a crashed one.

    Args:
        start: Starts a service's process again (its log is appended to).
        probe: Whether a service's health URL answers now.
        kill: Kills a process that hangs while it starts.
        log_dir: Where `<service>.log` is (named in the messages).
        clock: Monotonic seconds.
        backoff: The restart delays.
        report: Prints one line to the console (`error=True`: to stderr).
    """

    def __init__(
        self,
        *,
        start: Callable[[Service], Process],
        probe: Callable[[Service], bool],
        kill: Callable[[Process], None],
        log_dir: Path,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, never mutated
        report: Callable[..., None] = say,
    ) -> None:
        self.start = start
        self.probe = probe
        self.kill = kill
        self.log_dir = log_dir
        self.clock = clock
        self.backoff = backoff
        self.report = report
        self.watched: dict[str, Watched] = {}

    def watch(self, service: Service, proc: Process, *, up: bool = True) -> None:
        """Supervise `service`, whose process `proc` was just started (and is up, if `up`)."""
        now = self.clock()
        self.watched[service.name] = Watched(service, proc, now, now if up else None)

    def processes(self) -> list[tuple[str, Process]]:
        """The running processes, in start order (what `stop` stops)."""
        return [(name, w.proc) for name, w in self.watched.items() if w.proc is not None]

    def log(self, service: Service) -> Path:
        return self.log_dir / f"{service.name}.log"

    def tick(self) -> None:
        """Look at every process once: note exits, restart those due, see who came up."""
        for watched in self.watched.values():
            now = self.clock()
            if watched.proc is None:
                if watched.restart_at is not None and now >= watched.restart_at:
                    self._restart(watched, now)
                continue
            code = watched.proc.poll()
            if code is not None:
                self._exited(watched, code, now)
            elif watched.up_since is None:
                self._check_up(watched, now)

    def _exited(self, watched: Watched, code: int, now: float) -> None:
        uptime = 0.0 if watched.up_since is None else now - watched.up_since
        watched.delay = self.backoff.delay(watched.delay, uptime)
        watched.restart_at = now + watched.delay
        watched.proc = None
        watched.up_since = None
        self.report(
            f"error: the {watched.service.label} exited with code {code} after {uptime:.0f} s "
            f"up; restarting it in {watched.delay:g} s (log: {self.log(watched.service)})",
            error=True,
        )

    def _restart(self, watched: Watched, now: float) -> None:
        try:
            watched.proc = self.start(watched.service)
        except OSError as error:  # could not even be started: try again later
            watched.delay = self.backoff.delay(watched.delay, 0)
            watched.restart_at = now + watched.delay
            self.report(
                f"error: the {watched.service.label} could not be started ({error}); "
                f"trying again in {watched.delay:g} s",
                error=True,
            )
            return
        watched.started_at = now
        watched.restart_at = None
        watched.restarts += 1
        self.report(
            f"{watched.service.label} restarted (pid {watched.proc.pid}, restart "
            f"{watched.restarts}); waiting for it to come up"
        )

    def _check_up(self, watched: Watched, now: float) -> None:
        assert watched.proc is not None
        service = watched.service
        elapsed = now - watched.started_at
        up = elapsed >= service.timeout if service.health is None else self.probe(service)
        if up:
            watched.up_since = now
            self.report(f"{service.label} is up again (pid {watched.proc.pid})")
        elif elapsed > service.timeout:
            self.report(
                f"error: the {service.label} did not come up within {service.timeout:g} s; "
                f"stopping it to start it again (log: {self.log(service)})",
                error=True,
            )
            self.kill(watched.proc)  # the next tick sees it exit and schedules the restart


def kill_group(proc: Process) -> None:
    """SIGKILL a process's whole group (every service runs in its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)

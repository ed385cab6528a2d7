"""scripts/run.py: the supervisor's restart decisions, and no secret on a command line.

The supervisor runs with a fake clock and fake processes (each decision is checked at the
second it is due), then once with real processes: a child killed with SIGKILL is started again.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts import rasa_server, run
from scripts.run_plan import Service
from scripts.supervisor import Backoff, Supervisor

# --- the back-off ----------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_to_thirty():
    backoff = Backoff()
    delays, previous = [], None
    for _ in range(8):
        previous = backoff.delay(previous, uptime=0)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_starts_over_after_a_minute_up():
    backoff = Backoff()
    assert backoff.delay(30, uptime=59.9) == 30
    assert backoff.delay(30, uptime=60) == 1
    assert backoff.delay(8, uptime=600) == 1


# --- the supervisor with a fake clock ---------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeProcess:
    pid: int
    code: int | None = None

    def poll(self) -> int | None:
        return self.code


@dataclass
class Harness:
    """A supervisor over fake processes; `health` says which services answer their probe."""

    clock: Clock = field(default_factory=Clock)
    started: list[tuple[str, float]] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    health: dict[str, bool] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    fail_start: bool = False
    next_pid: int = 100

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            start=self.start,
            probe=lambda service: self.health.get(service.name, False),
            kill=self.kill,
            log_dir=Path("/var/log/helpdesk"),
            clock=self.clock,
            report=lambda text, error=False: self.lines.append(text),
        )

    def start(self, service: Service) -> FakeProcess:
        if self.fail_start:
            raise OSError("no such file")
        self.next_pid += 1
        self.started.append((service.name, self.clock.now))
        return FakeProcess(self.next_pid)

    def kill(self, proc: FakeProcess) -> None:
        self.killed.append(proc.pid)
        proc.code = -9

    def proc(self, name: str) -> FakeProcess:
        watched = self.supervisor.watched[name]
        assert watched.proc is not None, f"{name} is not running"
        return watched.proc  # type: ignore[return-value]

    def run_for(self, seconds: float) -> None:
        """Tick once a second for `seconds` seconds."""
        for _ in range(int(seconds)):
            self.clock.now += 1
            self.supervisor.tick()


SERVICES = [
    Service("backend", "backend simulator", ["backend"], "http://b/health", 30),
    Service("actions", "action server", ["actions"], "http://a/health", 120),
    Service("rasa", "rasa server", ["rasa"], "http://r/", 300),
    Service("sweeper", "idle sweeper", ["sweeper"], None, 5),
]


@pytest.fixture
def harness() -> Harness:
    h = Harness()
    for n, service in enumerate(SERVICES):
        h.supervisor.watch(service, FakeProcess(pid=n + 1))
        h.health[service.name] = True
    return h


def test_nothing_happens_while_everything_runs(harness):
    harness.run_for(120)
    assert harness.started == [] and harness.killed == [] and harness.lines == []


def test_a_crashed_process_is_restarted_after_a_second_and_the_others_keep_running(harness):
    others = {name: harness.proc(name) for name in ("backend", "rasa", "sweeper")}
    harness.clock.now += 300
    harness.proc("actions").code = -9

    harness.supervisor.tick()  # the exit is noticed
    assert harness.started == []
    assert "action server exited with code -9" in harness.lines[0]
    assert "restarting it in 1 s" in harness.lines[0]
    assert "/var/log/helpdesk/actions.log" in harness.lines[0]
    exited_at = harness.clock.now

    harness.run_for(1)
    assert harness.started == [("actions", exited_at + 1)]
    assert "action server restarted (pid" in harness.lines[1]
    harness.run_for(1)
    assert "action server is up again" in harness.lines[2]
    # The others were neither restarted nor killed.
    assert {name: harness.proc(name) for name in others} == others
    assert harness.killed == []


def test_a_crash_loop_backs_off_to_thirty_seconds(harness):
    harness.health["actions"] = False  # it never comes up: it exits right after each start
    harness.proc("actions").code = 1
    restarts: list[float] = []
    for _ in range(8):
        harness.supervisor.tick()  # notices the exit
        exited_at = harness.clock.now
        while len(harness.started) == len(restarts):
            harness.run_for(1)
        restarts.append(harness.started[-1][1] - exited_at)
        harness.proc("actions").code = 1
    assert restarts == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_process_that_stayed_up_a_minute_restarts_after_one_second_again(harness):
    # Two quick crashes: the next restart would wait 4 s...
    for _ in range(2):
        harness.proc("actions").code = 1
        harness.run_for(5)
    assert harness.supervisor.watched["actions"].delay == 2
    # ...but it came up and stayed up for a minute.
    harness.run_for(61)
    harness.proc("actions").code = 1
    harness.supervisor.tick()
    assert harness.supervisor.watched["actions"].delay == 1


def test_a_restart_that_does_not_come_up_in_time_is_killed_and_restarted(harness):
    harness.health["actions"] = False
    harness.proc("actions").code = 1
    harness.supervisor.tick()
    harness.run_for(1)
    hung = harness.proc("actions")

    harness.run_for(120)  # its start-up timeout
    assert harness.killed == []
    harness.run_for(1)
    assert harness.killed == [hung.pid]
    assert any("did not come up within 120 s" in line for line in harness.lines)
    harness.run_for(1)  # the kill is seen as an exit: restarted after the doubled delay
    harness.run_for(2)
    assert harness.started[-1][0] == "actions" and len(harness.started) == 2


def test_a_service_without_health_url_counts_as_up_once_it_has_run_its_timeout(harness):
    harness.proc("sweeper").code = 1
    harness.supervisor.tick()
    harness.run_for(1)  # restarted
    harness.run_for(4)
    assert not any("is up again" in line for line in harness.lines)
    harness.run_for(1)
    assert any("idle sweeper is up again" in line for line in harness.lines)


def test_a_process_that_cannot_be_started_is_tried_again_later(harness):
    harness.fail_start = True
    harness.proc("backend").code = 1
    harness.supervisor.tick()
    harness.run_for(1)
    assert any("could not be started" in line for line in harness.lines)
    harness.fail_start = False
    harness.run_for(2)
    assert harness.started[-1][0] == "backend"


def test_only_running_processes_are_stopped_in_start_order(harness):
    harness.proc("actions").code = -9
    harness.supervisor.tick()
    assert [name for name, _ in harness.supervisor.processes()] == ["backend", "rasa", "sweeper"]
    harness.run_for(1)
    names = [name for name, _ in harness.supervisor.processes()]
    assert names == ["backend", "actions", "rasa", "sweeper"]


# --- the supervisor with real processes -------------------------------------------------------


def test_a_real_process_killed_with_sigkill_is_started_again(tmp_path):
    service = Service(
        "sleeper", "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], None, 0.2
    )
    lines: list[str] = []
    supervisor = Supervisor(
        start=lambda s: run.spawn(s, os.environ, tmp_path, console=False, append=True),
        probe=lambda s: False,
        kill=run.kill_group,
        log_dir=tmp_path,
        backoff=Backoff(initial=0.2),
        report=lambda text, error=False: lines.append(text),
    )
    first = run.spawn(service, os.environ, tmp_path, console=False)
    supervisor.watch(service, first)
    try:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("is up again" in x for x in lines):
            supervisor.tick()
            time.sleep(0.1)
        ((name, second),) = supervisor.processes()
        assert second.pid != first.pid and second.poll() is None, lines
        assert "exited with code -9" in lines[0]
    finally:
        run.stop(supervisor.processes())


# --- secrets stay off command lines ------------------------------------------------------------

SECRETS = {
    "RASA_API_TOKEN": "secret-api-token-1111",
    "RASA_ACTIONS_TOKEN": "secret-actions-token-2222",
    "HELPDESK_BACKEND_API_KEY": "secret-backend-key-3333",
    "HELPDESK_REST_TOKEN": "secret-rest-token-4444",
    "HELPDESK_DESK_ADMIN_PASSWORD": "secret-admin-password-5555",
    "SMTP_PASSWORD": "secret-smtp-password-6666",
    "WHATSAPP_ACCESS_TOKEN": "secret-whatsapp-7777",
    "WHATSAPP_APP_SECRET": "secret-whatsapp-app-8888",
    "TELEGRAM_ACCESS_TOKEN": "secret-telegram-9999",
    "TELEGRAM_SECRET_TOKEN": "secret-telegram-hook-0000",
    "MESSENGER_PAGE_ACCESS_TOKEN": "secret-messenger-1212",
    "MESSENGER_APP_SECRET": "secret-messenger-app-3434",
    "INSTAGRAM_ACCESS_TOKEN": "secret-instagram-5656",
    "INSTAGRAM_APP_SECRET": "secret-instagram-app-7878",
}


def test_no_secret_is_on_any_command_line_of_the_plan(tmp_path):
    env = run.build_environment({"HELPDESK_VAR_DIR": str(tmp_path), **SECRETS})
    credentials, _ = run.write_credentials(env, tmp_path)
    services = run.plan(env, credentials)

    names = ["backend", "actions", "rasa", "sweeper", "desk", "demo"]
    assert [s.name for s in services] == names
    for service in services:
        line = " ".join(service.args)
        assert not [name for name, value in SECRETS.items() if value in line], service.name
    # The channels' secrets are expanded by Rasa from the environment, not written to a file.
    assert "secret-" not in credentials.read_text()


def test_the_rasa_server_gets_its_api_token_from_the_environment():
    args = ["run", "--enable-api", "--port", "5005"]
    assert rasa_server.rasa_argv(args, {"RASA_API_TOKEN": "t0ken"}) == [
        "rasa",
        *args,
        "--auth-token=t0ken",
    ]
    # A generated token may start with "-": Rasa's parser must still take it as the value.
    import argparse

    from rasa.cli.arguments.run import add_server_arguments

    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    argv = rasa_server.rasa_argv(["--port", "5005"], {"RASA_API_TOKEN": "-Xq_9"})
    assert parser.parse_args(argv[1:]).auth_token == "-Xq_9"
    assert rasa_server.rasa_argv(args, {}) == ["rasa", *args]
    with pytest.raises(SystemExit, match="RASA_API_TOKEN"):
        rasa_server.rasa_argv([*args, "--auth-token", "x"], {})
    with pytest.raises(SystemExit):
        rasa_server.rasa_argv([*args, "--auth-token=x"], {})


def test_the_action_server_gets_a_token_and_loopback_by_default(tmp_path):
    env = run.build_environment({"HELPDESK_VAR_DIR": str(tmp_path)})
    assert len(env["RASA_ACTIONS_TOKEN"]) >= 32
    assert env["RASA_ACTIONS_HOST"] == "127.0.0.1"
    assert env["ACTION_ENDPOINT_URL"] == f"http://127.0.0.1:{env['RASA_ACTIONS_PORT']}/webhook"
    again = run.build_environment({"HELPDESK_VAR_DIR": str(tmp_path)})
    assert again["RASA_ACTIONS_TOKEN"] != env["RASA_ACTIONS_TOKEN"]  # per run

    kept = run.build_environment(
        {
            "HELPDESK_VAR_DIR": str(tmp_path),
            "RASA_ACTIONS_TOKEN": "dari-operator-xxxxxxxx",
            "RASA_ACTIONS_HOST": "10.1.2.3",
        }
    )
    assert kept["RASA_ACTIONS_TOKEN"] == "dari-operator-xxxxxxxx"
    assert kept["ACTION_ENDPOINT_URL"] == f"http://10.1.2.3:{kept['RASA_ACTIONS_PORT']}/webhook"
    actions = {s.name: s for s in run.plan(kept, tmp_path / "credentials.yml")}["actions"]
    assert actions.health == f"http://10.1.2.3:{kept['RASA_ACTIONS_PORT']}/health"


def test_json_log_records_name_the_process_and_parse_each_format():
    from scripts.supervisor import JsonLines

    lines = JsonLines("rasa-2", 4242)
    first = json.loads(lines.record("2026-12-06 05:27:53 INFO     rasa.core  - Rasa is up", 0))
    assert first == {
        "time": "1970-01-01T00:00:00.000Z",
        "process": "rasa-2",
        "pid": 4242,
        "level": "INFO",
        "logger": "rasa.core",
        "message": "Rasa is up",
    }
    desk = json.loads(lines.record("2026-12-06 05:29:08,138 WARNING helpdesk.desk.cli: no admin"))
    assert (desk["level"], desk["logger"], desk["message"]) == (
        "WARNING",
        "helpdesk.desk.cli",
        "no admin",
    )
    sanic = json.loads(lines.record("[2026-12-06 05:29:08 +0000] [10969] [ERROR] Boom"))
    assert (sanic["level"], sanic["message"]) == ("ERROR", "Boom")
    frame = json.loads(lines.record('  File "x.py", line 1, in <module>'))
    assert frame["level"] == "ERROR" and frame["continued"] is True
    plain = json.loads(lines.record("Backend simulator on http://127.0.0.1:8081"))
    assert plain["message"].startswith("Backend") and "continued" not in plain


def test_the_log_format_is_text_or_json():
    from scripts.supervisor import log_format

    assert log_format({}) == "text" and log_format({"HELPDESK_LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(ValueError, match="HELPDESK_LOG_FORMAT"):
        log_format({"HELPDESK_LOG_FORMAT": "xml"})


def test_a_spawned_process_writes_json_records_with_its_name(tmp_path):
    from scripts.supervisor import spawn

    service = Service("sweeper-2", "idle sweeper 2", [sys.executable, "-c", _PRINT_NAME], None, 5)
    env = {**os.environ, "HELPDESK_LOG_FORMAT": "json"}
    proc = spawn(service, env, tmp_path, console=False)
    proc.wait(10)
    deadline = time.monotonic() + 5
    records: list[dict] = []
    while time.monotonic() < deadline and not records:
        text = (tmp_path / "sweeper-2.log").read_text()
        records = [json.loads(line) for line in text.splitlines() if line]
        time.sleep(0.05)
    assert records[0]["process"] == "sweeper-2" and records[0]["pid"] == proc.pid
    assert records[0]["message"] == "I am sweeper-2"


_PRINT_NAME = "import os; print('I am ' + os.environ['HELPDESK_PROCESS_NAME'], flush=True)"


def test_the_sweeper_is_up_when_its_healthz_answers(tmp_path):
    env = run.build_environment({"HELPDESK_VAR_DIR": str(tmp_path)})
    assert (env["HELPDESK_SWEEPER_HOST"], env["HELPDESK_SWEEPER_PORT"]) == ("127.0.0.1", "5070")
    sweeper = {s.name: s for s in run.plan(env, tmp_path / "credentials.yml")}["sweeper"]
    assert sweeper.args[-4:] == ["--host", "127.0.0.1", "--port", "5070"]
    assert sweeper.health == "http://127.0.0.1:5070/healthz"

    moved = run.build_environment(
        {"HELPDESK_VAR_DIR": str(tmp_path), "HELPDESK_SWEEPER_HOST": "0.0.0.0",
         "HELPDESK_SWEEPER_PORT": "6070"}
    )  # fmt: skip
    sweeper = {s.name: s for s in run.plan(moved, tmp_path / "credentials.yml")}["sweeper"]
    assert sweeper.health == "http://127.0.0.1:6070/healthz"  # reached on this machine


def test_make_run_serves_the_widget_demo_on_its_own_port_and_lets_it_embed_the_chat(tmp_path):
    env = run.build_environment({"HELPDESK_VAR_DIR": str(tmp_path), "RASA_PORT": "5005"})

    assert env["HELPDESK_WIDGET_DEMO_PORT"] == "5090"
    assert env["HELPDESK_WIDGET_ORIGINS"] == "http://localhost:5090 http://127.0.0.1:5090"
    demo = [s for s in run.plan(env, tmp_path / "c.yml") if s.name == "demo"][0]
    assert demo.args[-2:] == ["--assistant", "http://localhost:5005/webhooks/webchat/"]
    assert demo.health == "http://127.0.0.1:5090/"
    mine = run.build_environment(
        {
            "HELPDESK_VAR_DIR": str(tmp_path),
            "HELPDESK_WIDGET_DEMO_PORT": "",
            "HELPDESK_WIDGET_ORIGINS": "https://ppid.kaltimprov.go.id",
        }
    )
    assert mine["HELPDESK_WIDGET_ORIGINS"] == "https://ppid.kaltimprov.go.id"
    assert "demo" not in [s.name for s in run.plan(mine, tmp_path / "c.yml")]


def test_messenger_and_instagram_are_added_when_their_tokens_are_set(tmp_path):
    env = {
        "MESSENGER_PAGE_ACCESS_TOKEN": "page-token",
        "MESSENGER_APP_SECRET": "app-secret",
        "MESSENGER_VERIFY_TOKEN": "verify",
        "INSTAGRAM_ACCESS_TOKEN": "ig-token",
        "INSTAGRAM_ACCOUNT_ID": "17841400000000001",
    }
    credentials, enabled = run.write_credentials(env, tmp_path)
    assert enabled == ["messenger", "instagram"]
    text = credentials.read_text()
    assert "connectors.meta.MessengerInput:\n  access_token: ${MESSENGER_PAGE_ACCESS_TOKEN}" in text
    assert "account_id: ${INSTAGRAM_ACCOUNT_ID}" in text
    assert "MESSENGER_API_URL" not in text and "page-token" not in text  # unset keys left out
    _, none = run.write_credentials({"MESSENGER_APP_SECRET": "x"}, tmp_path)
    assert none == []

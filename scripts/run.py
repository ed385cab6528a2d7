"""Start the assistant's processes, print where to reach them, stop them all on Ctrl-C.

Used by `make run` after the model is trained and the FAQ index is built. Reads `.env` (see
`.env.example`); every variable has a working default for a single machine.

`plan()` is the one definition of how each service starts (arguments, health URL, start-up
time); `make run` starts all of them and the test stacks (tests/support/stack.py) start the ones a
test needs, so the tests run what `make run` runs. Each process's whole output goes to
`var/log/<service>.log`; the console shows it prefixed with the service's name, without the
start-up noise of TensorFlow and absl, so the lines that matter stay visible.

Once everything is up, a `Supervisor` keeps it so: a process that exits is restarted after a
back-off (1 s, doubling to 30 s, back to 1 s once it has stayed up a minute) while the others
keep running; Ctrl-C or SIGTERM stops them all, with no restart during the shutdown.

Secrets travel in the environment, never on a command line (which every local user can read
with `ps`): the Rasa server gets its API token through scripts/rasa_server.py, and the action
server's token (`RASA_ACTIONS_TOKEN`, generated per run when unset, like `RASA_API_TOKEN`) is
read by the action server (rasa_sdk_plugins/action_auth.py) and by Rasa from endpoints.yml.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Mapping, Protocol, Sequence

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # `python scripts/run.py`: the repository root, for `scripts.*`
    sys.path.insert(0, str(ROOT))

from helpdesk.settings import _read_dotenv  # noqa: E402
from scripts.servers import healthy, wait_http  # noqa: E402

BIN = Path(sys.executable).parent


#: Channels `make run` adds to credentials.yml when their first variable is set: the block's
#: variables are expanded by Rasa from the environment (an unset one would stop Rasa).
OPTIONAL_CHANNELS = {
    "connectors.whatsapp.WhatsAppInput": (
        "WHATSAPP_ACCESS_TOKEN",
        {
            "access_token": "WHATSAPP_ACCESS_TOKEN",
            "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
            "app_secret": "WHATSAPP_APP_SECRET",
            "verify_token": "WHATSAPP_VERIFY_TOKEN",
            "api_url": "WHATSAPP_API_URL",
        },
    ),
    "connectors.telegram.TelegramInput": (
        "TELEGRAM_ACCESS_TOKEN",
        {
            "access_token": "TELEGRAM_ACCESS_TOKEN",
            "verify": "TELEGRAM_BOT_NAME",
            "webhook_url": "TELEGRAM_WEBHOOK_URL",
            "secret_token": "TELEGRAM_SECRET_TOKEN",
            "api_url": "TELEGRAM_API_URL",
        },
    ),
}


def write_credentials(env: dict[str, str], var_dir: Path) -> tuple[Path, list[str]]:
    """credentials.yml plus the channels whose variables are set; returns the file and names."""
    text = (ROOT / "credentials.yml").read_text(encoding="utf-8").rstrip() + "\n"
    enabled = []
    for channel, (switch, keys) in OPTIONAL_CHANNELS.items():
        if not env.get(switch):
            continue
        enabled.append(channel.rsplit(".", 1)[1].removesuffix("Input").lower())
        text += f"\n{channel}:\n"
        for key, variable in keys.items():
            if env.get(variable):  # unset optional keys keep the channel's default
                text += f"  {key}: ${{{variable}}}\n"
    path = var_dir / "credentials.yml"
    path.write_text(text, encoding="utf-8")
    return path, enabled


def build_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the child processes: `.env`, then `base` (default: the caller's
    environment), then defaults."""
    env = _read_dotenv(ROOT / ".env")
    env.update(os.environ if base is None else base)
    var_dir = Path(env.get("HELPDESK_VAR_DIR") or ROOT / "var")
    if not var_dir.is_absolute():
        var_dir = ROOT / var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("HELPDESK_VAR_DIR", str(var_dir))
    env.setdefault("RASA_ACTIONS_PORT", "5055")
    # Only the Rasa server may call the action server: loopback, and a token on every call.
    if not env.get("RASA_ACTIONS_HOST"):
        env["RASA_ACTIONS_HOST"] = "127.0.0.1"
    if not env.get("RASA_ACTIONS_TOKEN"):
        env["RASA_ACTIONS_TOKEN"] = secrets.token_urlsafe(24)
    env.setdefault("RASA_PORT", "5005")
    env.setdefault(
        "ACTION_ENDPOINT_URL",
        f"http://{local_address(env['RASA_ACTIONS_HOST'])}:{env['RASA_ACTIONS_PORT']}/webhook",
    )
    # Tracker store: SQLite under var/ unless RASA_TRACKER_STORE_URL names another database.
    env.setdefault("RASA_TRACKER_STORE_URL", "")
    env.setdefault("RASA_TRACKER_DB", str(var_dir / "tracker.db"))
    if not env.get("RASA_API_TOKEN"):
        env["RASA_API_TOKEN"] = secrets.token_urlsafe(24)
    # Backend services: the simulator on HELPDESK_BACKEND_PORT unless an integrator points
    # HELPDESK_BACKEND_URL at the real systems (then HELPDESK_BACKEND_SIMULATOR defaults to false).
    simulate = env.get("HELPDESK_BACKEND_SIMULATOR") or (
        "false" if env.get("HELPDESK_BACKEND_URL") else "true"
    )
    env["HELPDESK_BACKEND_SIMULATOR"] = simulate.strip().lower()
    env.setdefault("HELPDESK_BACKEND_PORT", "8081")
    if not env.get("HELPDESK_BACKEND_URL"):
        env["HELPDESK_BACKEND_URL"] = f"http://localhost:{env['HELPDESK_BACKEND_PORT']}"
    env.setdefault("HELPDESK_DESK_PORT", "5060")
    env.setdefault("HELPDESK_DESK_HOST", "127.0.0.1")
    env.setdefault("RASA_URL", f"http://localhost:{env['RASA_PORT']}")
    env.setdefault("SANIC_WORKERS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The e5 embedder runs in both servers: its idle OpenMP threads must sleep, not spin.
    env.setdefault("OMP_WAIT_POLICY", "passive")
    return env


@dataclass(frozen=True)
class Service:
    """How one process of the assistant starts.

    Attributes:
        name: Short id (`backend`, `actions`, `rasa`, `sweeper`, `desk`): log file, stack API.
        label: What the console calls it.
        args: The command line.
        health: URL that answers 2xx once the service is up; None for a process with no HTTP
            side (the sweeper), which counts as up when it is still running after a moment.
        timeout: Seconds it may take to come up.
    """

    name: str
    label: str
    args: list[str]
    health: str | None
    timeout: float


def local_address(host: str) -> str:
    """The address this machine reaches a server on that listens on `host`."""
    return "127.0.0.1" if host in {"", "0.0.0.0", "::", "localhost"} else host  # noqa: S104


def simulator_enabled(env: Mapping[str, str]) -> bool:
    """Whether `make run` starts the backend simulator (no external backend configured)."""
    return env.get("HELPDESK_BACKEND_SIMULATOR", "true") in {"1", "true", "yes", "on"}


def desk_url(env: Mapping[str, str]) -> str:
    """The address a browser on this machine opens for the agent desk."""
    host = env["HELPDESK_DESK_HOST"]
    shown = "localhost" if host in {"127.0.0.1", "0.0.0.0", "::"} else host  # noqa: S104
    return f"http://{shown}:{env['HELPDESK_DESK_PORT']}"


def plan(
    env: Mapping[str, str],
    credentials: Path,
    *,
    endpoints: Path = ROOT / "endpoints.yml",
    model: Path = ROOT / "models",
) -> list[Service]:
    """Every service of the assistant, in start order, for the environment `env`
    (`build_environment`)."""
    rasa_port = env["RASA_PORT"]
    services = []
    if simulator_enabled(env):
        args = [str(BIN / "helpdesk"), "backend", "serve", "--port", env["HELPDESK_BACKEND_PORT"]]
        if env.get("HELPDESK_BACKEND_FIXTURES"):
            args += ["--fixtures", env["HELPDESK_BACKEND_FIXTURES"]]
        health = f"http://localhost:{env['HELPDESK_BACKEND_PORT']}/v1/health"
        services.append(Service("backend", "backend simulator", args, health, 30))
    actions_port = env["RASA_ACTIONS_PORT"]
    # Host and token of the action server come from the environment (rasa_sdk_plugins).
    actions_host = local_address(env.get("RASA_ACTIONS_HOST") or "127.0.0.1")
    services.append(
        Service(
            "actions",
            "action server",
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", actions_port],
            f"http://{actions_host}:{actions_port}/health",
            120,
        )
    )
    # The launcher hands RASA_API_TOKEN to Rasa in-process: no token on the command line.
    rasa = [sys.executable, str(ROOT / "scripts" / "rasa_server.py")]
    rasa += ["run", "--model", str(model), "--enable-api"]
    rasa += ["--cors", "*", "--port", rasa_port, "--credentials", str(credentials)]
    rasa += ["--endpoints", str(endpoints)]
    services.append(Service("rasa", "rasa server", rasa, f"http://localhost:{rasa_port}/", 300))
    services.append(Service("sweeper", "idle sweeper", [str(BIN / "helpdesk"), "sweeper"], None, 5))
    desk = [str(BIN / "helpdesk"), "desk", "serve", "--host", env["HELPDESK_DESK_HOST"]]
    desk += ["--port", env["HELPDESK_DESK_PORT"]]
    services.append(Service("desk", "agent desk", desk, f"{desk_url(env)}/healthz", 60))
    return services


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


def pump(stream: IO[bytes], log: IO[str], label: str | None) -> None:
    """Copy a child's output to its log file and, unless it is noise, to the console."""
    hidden = False
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        log.write(line + "\n")
        log.flush()
        # An indented line continues the line before it (a warning's source line, a
        # traceback's frame): shown or hidden with it.
        continued = line.startswith((" ", "\t"))
        hidden = hidden if continued else bool(NOISE.search(line))
        if label is not None and not hidden:
            say(f"{label:<8}| {line}")
    log.close()


def spawn(
    service: Service, env: Mapping[str, str], log_dir: Path, *, console: bool, append: bool = False
) -> subprocess.Popen:
    """Start `service` in its own process group; its output goes to `log_dir/<name>.log`
    (and to the console when `console`)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{service.name}.log", "a" if append else "w", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen(
        service.args,
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    label = service.name if console else None
    threading.Thread(target=pump, args=(proc.stdout, log, label), daemon=True).start()
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

    `tick()` is called about once a second (by `main`, or a test with a fake clock). Nothing
    in it blocks longer than one health probe, so one service coming back never holds up the
    others. A restarted service counts as up again once its health URL answers (a service
    without one: once it has run for its `timeout`); one that does not within its `timeout`
    is killed and restarted like a crashed one.

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


def summary(env: Mapping[str, str], channels: list[str]) -> str:
    """What `make run` prints once everything is up: where to reach each service."""
    base = f"http://localhost:{env['RASA_PORT']}"
    if simulator_enabled(env):
        fixtures = env.get("HELPDESK_BACKEND_FIXTURES") or "helpdesk/backends/fixtures.json"
        backend = f"simulator http://localhost:{env['HELPDESK_BACKEND_PORT']} ({fixtures})"
    else:
        backend = f"external, {env['HELPDESK_BACKEND_URL']}"
    store = env.get("HELPDESK_DATABASE_URL") or f"SQLite in {env['HELPDESK_VAR_DIR']}"
    actions_host = local_address(env.get("RASA_ACTIONS_HOST") or "")
    actions_host = "localhost" if actions_host == "127.0.0.1" else actions_host
    actions = f"http://{actions_host}:{env['RASA_ACTIONS_PORT']}"
    token = env.get("HELPDESK_REST_TOKEN")
    auth = ' -H "Authorization: Bearer $HELPDESK_REST_TOKEN"' if token else ""
    rest = (
        f"curl -s {base}/webhooks/rest/webhook{auth} -d "
        """'{"sender": "budi", "message": "apa itu sp2d?"}'"""
    )
    rest_access = (
        "bearer token required (HELPDESK_REST_TOKEN from .env)"
        if token
        else "this machine only; set HELPDESK_REST_TOKEN to let other clients in"
    )
    return (
        "\nThe assistant is running:\n"
        f"  REST channel     {rest}\n"
        f"                   ({rest_access})\n"
        f"  web chat         {base}/webhooks/webchat/\n"
        + "".join(f"  {name:<16} {base}/webhooks/{name}/webhook\n" for name in channels)
        + f"  HTTP API         {base}/status?token={env['RASA_API_TOKEN']}\n"
        f"  action server    {actions}/health (only the Rasa server may call it: "
        "RASA_ACTIONS_TOKEN)\n"
        f"  backend services {backend}\n"
        f"  idle sweeper     closes conversations idle for "
        f"{env.get('HELPDESK_IDLE_SECONDS') or 300} s\n"
        f"  agent desk       {desk_url(env)}/ (first admin: HELPDESK_DESK_ADMIN_* in .env, or "
        "`.venv/bin/helpdesk desk create-admin --username admin`)\n"
        f"  ticket store     {store}\n"
        f"  logs             {Path(env['HELPDESK_VAR_DIR']) / 'log'}/<service>.log\n"
        "Press Ctrl-C to stop.\n"
    )


def main() -> int:
    env = build_environment()
    var_dir = Path(env["HELPDESK_VAR_DIR"])
    log_dir = var_dir / "log"
    supervisor = Supervisor(
        start=lambda service: spawn(service, env, log_dir, console=True, append=True),
        probe=lambda service: service.health is not None and healthy(service.health, 1),
        kill=kill_group,
        log_dir=log_dir,
    )
    # Ctrl-C (also when started from a script that ignores SIGINT) and SIGTERM stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    credentials, channels = write_credentials(env, var_dir)
    stopping = threading.Event()
    try:
        for service in plan(env, credentials):
            say(f"starting {service.label} ...")
            proc = spawn(service, env, log_dir, console=True)
            supervisor.watch(service, proc, up=False)
            if not wait_up(service, proc):
                say(
                    f"error: the {service.label} did not start; see above and "
                    f"{log_dir / (service.name + '.log')}",
                    error=True,
                )
                return 1
            supervisor.watch(service, proc)
            say(f"{service.label} is up (pid {proc.pid})")
        say(summary(env, channels))
        # From here on a signal only asks to stop: a restart under way is never cut in half
        # (a process started but not yet watched would outlive `make run`).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        while not stopping.wait(1):
            supervisor.tick()
        say("\nCtrl-C: stopping all processes")
        return 0
    except KeyboardInterrupt:  # while starting
        say("\nCtrl-C: stopping all processes")
        return 0
    finally:
        stop(supervisor.processes())
        say("all processes stopped")


if __name__ == "__main__":
    sys.exit(main())

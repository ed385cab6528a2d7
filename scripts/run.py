"""Start the assistant's processes, print where to reach them, stop them all on Ctrl-C.

Used by `make run` after the model is trained and the FAQ index is built. Reads `.env` (see
`.env.example`); every variable has a working default for a single machine.

`plan()` is the one definition of how each service starts (arguments, health URL, start-up
time); `make run` starts all of them and the test stacks (scripts/stack.py) start the ones a
test needs, so the tests run what `make run` runs. Each process's whole output goes to
`var/log/<service>.log`; the console shows it prefixed with the service's name, without the
start-up noise of TensorFlow and absl, so the lines that matter stay visible.
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
from typing import IO, Mapping

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from servers import wait_http  # noqa: E402

from helpdesk.settings import _read_dotenv  # noqa: E402

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
    env.setdefault("RASA_PORT", "5005")
    env.setdefault("ACTION_ENDPOINT_URL", f"http://localhost:{env['RASA_ACTIONS_PORT']}/webhook")
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
    services.append(
        Service(
            "actions",
            "action server",
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", actions_port],
            f"http://localhost:{actions_port}/health",
            120,
        )
    )
    rasa = [str(BIN / "rasa"), "run", "--model", str(model), "--enable-api"]
    rasa += rasa_token_args(env)
    rasa += ["--cors", "*", "--port", rasa_port, "--credentials", str(credentials)]
    rasa += ["--endpoints", str(endpoints)]
    services.append(Service("rasa", "rasa server", rasa, f"http://localhost:{rasa_port}/", 300))
    services.append(Service("sweeper", "idle sweeper", [str(BIN / "helpdesk"), "sweeper"], None, 5))
    desk = [str(BIN / "helpdesk"), "desk", "serve", "--host", env["HELPDESK_DESK_HOST"]]
    desk += ["--port", env["HELPDESK_DESK_PORT"]]
    services.append(Service("desk", "agent desk", desk, f"{desk_url(env)}/healthz", 60))
    return services


def rasa_token_args(env: Mapping[str, str]) -> list[str]:
    """Rasa's `--auth-token` argument for the HTTP API token of `env`, or none."""
    token = env.get("RASA_API_TOKEN")
    return ["--auth-token", token] if token else []


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


def stop(procs: list[tuple[str, subprocess.Popen]], timeout: float = 10) -> None:
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


def summary(env: Mapping[str, str], channels: list[str]) -> str:
    """What `make run` prints once everything is up: where to reach each service."""
    base = f"http://localhost:{env['RASA_PORT']}"
    if simulator_enabled(env):
        fixtures = env.get("HELPDESK_BACKEND_FIXTURES") or "helpdesk/backends/fixtures.json"
        backend = f"simulator http://localhost:{env['HELPDESK_BACKEND_PORT']} ({fixtures})"
    else:
        backend = f"external, {env['HELPDESK_BACKEND_URL']}"
    store = env.get("HELPDESK_DATABASE_URL") or f"SQLite in {env['HELPDESK_VAR_DIR']}"
    rest = (
        f"curl -s {base}/webhooks/rest/webhook -d "
        """'{"sender": "budi", "message": "apa itu sp2d?"}'"""
    )
    return (
        "\nThe assistant is running:\n"
        f"  REST channel     {rest}\n"
        f"  web chat         {base}/webhooks/webchat/\n"
        + "".join(f"  {name:<16} {base}/webhooks/{name}/webhook\n" for name in channels)
        + f"  HTTP API         {base}/status?token={env['RASA_API_TOKEN']}\n"
        f"  action server    http://localhost:{env['RASA_ACTIONS_PORT']}/health\n"
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
    procs: list[tuple[str, subprocess.Popen]] = []
    # Ctrl-C (also when started from a script that ignores SIGINT) and SIGTERM stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    credentials, channels = write_credentials(env, var_dir)
    try:
        for service in plan(env, credentials):
            say(f"starting {service.label} ...")
            proc = spawn(service, env, log_dir, console=True)
            procs.append((service.name, proc))
            if not wait_up(service, proc):
                say(
                    f"error: the {service.label} did not start; see above and "
                    f"{log_dir / (service.name + '.log')}",
                    error=True,
                )
                return 1
            say(f"{service.label} is up (pid {proc.pid})")
        say(summary(env, channels))
        while True:
            for name, proc in procs:
                if proc.poll() is not None:
                    say(
                        f"error: {name} exited with code {proc.returncode}; "
                        f"see {log_dir / (name + '.log')}",
                        error=True,
                    )
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        say("\nCtrl-C: stopping all processes")
        return 0
    finally:
        stop(procs)
        say("all processes stopped")


if __name__ == "__main__":
    sys.exit(main())

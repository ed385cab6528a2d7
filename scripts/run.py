"""Start the assistant's processes, print where to reach them, stop them all on Ctrl-C.

Used by `make run` after the model is trained and the FAQ index is built. Reads `.env` (see
`.env.example`); every variable has a working default for a single machine.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def build_environment() -> dict[str, str]:
    """The environment of the child processes: `.env`, then the caller's, then defaults."""
    env = _read_dotenv(ROOT / ".env")
    env.update(os.environ)
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
        print(
            f"RASA_API_TOKEN was not set; generated one for this run: {env['RASA_API_TOKEN']}",
            flush=True,
        )
    # Backend services: the simulator on HELPDESK_BACKEND_PORT unless an integrator points
    # HELPDESK_BACKEND_URL at the real systems (then HELPDESK_BACKEND_SIMULATOR defaults to false).
    simulate = env.get("HELPDESK_BACKEND_SIMULATOR") or (
        "false" if env.get("HELPDESK_BACKEND_URL") else "true"
    )
    env["HELPDESK_BACKEND_SIMULATOR"] = simulate.strip().lower()
    env.setdefault("HELPDESK_BACKEND_PORT", "8081")
    if not env.get("HELPDESK_BACKEND_URL"):
        env["HELPDESK_BACKEND_URL"] = f"http://localhost:{env['HELPDESK_BACKEND_PORT']}"
    env.setdefault("SANIC_WORKERS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The e5 embedder runs in both servers: its idle OpenMP threads must sleep, not spin.
    env.setdefault("OMP_WAIT_POLICY", "passive")
    return env


def main() -> int:
    env = build_environment()
    procs: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, args: list[str]) -> subprocess.Popen:
        print(f"starting {name}: {' '.join(args)}", flush=True)
        proc = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)
        procs.append((name, proc))
        return proc

    def stop_all() -> None:
        for name, proc in reversed(procs):
            if proc.poll() is None:
                print(f"stopping {name}", flush=True)
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    # Ctrl-C (also when started from a script that ignores SIGINT) and SIGTERM stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    credentials, channels = write_credentials(env, Path(env["HELPDESK_VAR_DIR"]))
    try:
        backend_note = f"external, {env['HELPDESK_BACKEND_URL']}"
        if env["HELPDESK_BACKEND_SIMULATOR"] in {"1", "true", "yes", "on"}:
            args = [
                str(BIN / "helpdesk"),
                "backend",
                "serve",
                "--port",
                env["HELPDESK_BACKEND_PORT"],
            ]
            if env.get("HELPDESK_BACKEND_FIXTURES"):
                args += ["--fixtures", env["HELPDESK_BACKEND_FIXTURES"]]
            simulator = start("backend simulator", args)
            health = f"http://localhost:{env['HELPDESK_BACKEND_PORT']}/v1/health"
            if not wait_http(health, simulator, 30):
                print("error: the backend simulator did not start; see above", file=sys.stderr)
                return 1
            fixtures = env.get("HELPDESK_BACKEND_FIXTURES") or "helpdesk/backends/fixtures.json"
            backend_note = f"simulator {env['HELPDESK_BACKEND_URL']} ({fixtures})"
        actions = start(
            "action server",
            [
                str(BIN / "rasa"),
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                env["RASA_ACTIONS_PORT"],
            ],
        )
        if not wait_http(f"http://localhost:{env['RASA_ACTIONS_PORT']}/health", actions, 120):
            print("error: the action server did not start; see its log above", file=sys.stderr)
            return 1
        rasa = start(
            "rasa server",
            [
                str(BIN / "rasa"),
                "run",
                "--model",
                "models",
                "--enable-api",
                "--auth-token",
                env["RASA_API_TOKEN"],
                "--cors",
                "*",
                "--port",
                env["RASA_PORT"],
                "--credentials",
                str(credentials),
                "--endpoints",
                "endpoints.yml",
            ],
        )
        base = f"http://localhost:{env['RASA_PORT']}"
        if not wait_http(f"{base}/", rasa, 300):
            print("error: the Rasa server did not start; see its log above", file=sys.stderr)
            return 1
        # The idle sweeper closes conversations through the Rasa HTTP API (token above).
        env.setdefault("RASA_URL", base)
        start("idle sweeper", [str(BIN / "helpdesk"), "sweeper"])
        # The agent desk (web app + the worker that links the queue to the Rasa server).
        desk_port = env.get("HELPDESK_DESK_PORT") or "5060"
        desk_host = env.get("HELPDESK_DESK_HOST") or "127.0.0.1"
        desk = start(
            "agent desk",
            [str(BIN / "helpdesk"), "desk", "serve", "--host", desk_host, "--port", desk_port],
        )
        desk_url = f"http://{'localhost' if desk_host in {'127.0.0.1', '0.0.0.0'} else desk_host}"
        desk_url += f":{desk_port}"
        if not wait_http(f"{desk_url}/healthz", desk, 60):
            print("error: the agent desk did not start; see its log above", file=sys.stderr)
            return 1
        store = env.get("HELPDESK_DATABASE_URL") or f"SQLite in {env['HELPDESK_VAR_DIR']}"
        print(
            "\nThe assistant is running:\n"
            f"  REST channel     POST {base}/webhooks/rest/webhook "
            '{"sender": "you", "message": "halo"}\n'
            f"  web chat         {base}/webhooks/webchat/ (socket.io {base}/socket.io)\n"
            + "".join(f"  {name:<16} {base}/webhooks/{name}/webhook\n" for name in channels)
            + f"  HTTP API         {base}/status?token=$RASA_API_TOKEN\n"
            f"  action server    http://localhost:{env['RASA_ACTIONS_PORT']}/health\n"
            f"  backend services {backend_note}\n"
            f"  idle sweeper     closes conversations idle for "
            f"{env.get('HELPDESK_IDLE_SECONDS') or 300} s\n"
            f"  agent desk       {desk_url}/ (first admin: HELPDESK_DESK_ADMIN_* in .env, or "
            "`.venv/bin/helpdesk desk create-admin --username admin`)\n"
            f"  ticket store     {store}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"error: {name} exited with code {proc.returncode}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nCtrl-C: stopping all processes", flush=True)
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
